"""dataladder's probe on a user-style model equals plain `transformers` generation + the same verifier, item by item."""

import json

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.integration


def _reference(model_dir, eval_file, max_new_tokens):
    """Plain transformers: the chat template, greedy `generate` one prompt at a time, stop at every end id."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from dataladder.skills import resolve_skills

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    eos = model.generation_config.eos_token_id
    eos = list({tok.eos_token_id, *([eos] if isinstance(eos, int) else eos)})
    out = {}
    for sk in resolve_skills([str(eval_file)]):
        for it in sk.items("eval", 1000, 0):
            msgs = it.data.get("messages") or [{"role": "user", "content": it.data["prompt"]}]
            text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
            ids = tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
            with torch.inference_mode():
                g = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos,
                                   pad_token_id=tok.pad_token_id)
            completion = tok.decode(g[0, ids.shape[1]:], skip_special_tokens=True)
            out[(sk.name, it.key)] = (completion, sk.score(completion, it).ok)
    return out


def test_probe_matches_plain_transformers_item_by_item(trained_user_model_dir, user_tasks, tmp_path):
    from dataladder.cli.main import app

    r = CliRunner().invoke(app, ["probe", "--model", str(trained_user_model_dir), "--skill", str(user_tasks["eval"]),
                                 "--n", "100", "--max-new-tokens", "64", "--output-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    samples = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    ref = _reference(trained_user_model_dir, user_tasks["eval"], 64)
    assert len(samples) == len(ref) == 40
    for s in samples:
        assert (s["completion"], s["ok"]) == ref[(s["skill"], s["key"])], s
    doc = json.loads((tmp_path / "probe.json").read_text())
    for name, sk in doc["skills"].items():
        fmt = sk["target_format"]
        assert sk["formats"][fmt]["correct"] == sum(ok for (k, _), (_, ok) in ref.items() if k == name)
    # the item-by-item equality above is the guarantee; these only check it was tested on multi-line answers and
    # on passing ones, with room for what a short pretraining gives on another CPU (over pretraining seeds 0-5:
    # 15-30 of 40 multi-line; the qwen model, seeds 0-4, passes 3-9 of 10 code items)
    assert sum("\n" in s["completion"] for s in samples) >= 4  # whole multi-line completions, never cut at a newline
    if "qwen" in trained_user_model_dir.name:  # the longer-trained model writes working code
        assert doc["skills"]["code"]["formats"]["default"]["correct"] >= 1


def test_gold_answers_pass_their_own_verifiers(user_tasks, tmp_path):
    from dataladder.cli.main import app

    r = CliRunner().invoke(app, ["probe", "--skill", str(user_tasks["eval"]), "--check-gold"])
    assert r.exit_code == 0 and "all gold answers pass" in r.output, r.output
    bad = tmp_path / "bad.jsonl"
    lines = user_tasks["eval"].read_text().splitlines()
    rec = json.loads(lines[0])
    rec["messages"][-1]["content"] = rec["messages"][-1]["content"].upper()  # no longer its own answer... as gold
    rec["answer"] = "not this"
    bad.write_text("\n".join([lines[1], json.dumps(rec)]) + "\n")
    r = CliRunner().invoke(app, ["probe", "--skill", str(bad), "--check-gold"])
    assert r.exit_code == 1 and f"{bad}:2" in r.output and "1 gold answers fail" in r.output, r.output
