import json

import pytest

from dataladder.probe import DATA_BANDS, diagnose, with_prerequisites
from dataladder.stats import wilson


def fmt(**acc):
    return {f: {"accuracy": a} for f, a in acc.items()}


def test_diagnoses():
    assert diagnose(fmt(native=0.95, exam=0.9), "exam", 0.8, 0.15)[0] == "mastered"
    assert diagnose(fmt(native=0.95, exam=0.01), "exam", 0.8, 0.15) == ("format-gap", "native")
    assert diagnose(fmt(native=0.5, exam=0.0), "exam", 0.8, 0.15)[0] == "partial"
    assert diagnose(fmt(native=0.05, exam=0.0), "exam", 0.8, 0.15)[0] == "missing"


def test_prerequisites_are_added():
    assert with_prerequisites(["div"]) == ["div", "mul", "sub", "add"]
    assert set(DATA_BANDS) >= {"mastered", "format-gap", "partial", "missing", "prerequisite-missing"}


@pytest.fixture(scope="module")
def micro_model(tmp_path_factory):
    from dataladder.models.pretrain import PretrainConfig, pretrain
    from dataladder.models.tiny import TinyArch

    out = tmp_path_factory.mktemp("micro")
    cfg = PretrainConfig(arch=TinyArch(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128),
                         mixture={"add": 1.0}, digits=1, steps=150, batch_size=16, seq_len=64, learning_rate=1e-2,
                         warmup_steps=10)
    report = pretrain(cfg, out)
    return out, report


@pytest.mark.integration
def test_pretrain_writes_model_and_budget(micro_model):
    out, report = micro_model
    for f in ("config.json", "model.safetensors", "tokenizer.json", "pretrain.yaml", "pretrain_report.json"):
        assert (out / f).exists(), f
    assert report["tokens_seen"] == 150 * 16 * 64
    assert report["compute_flops"] == 6 * report["parameters"] * report["tokens_seen"]
    assert report["history"][-1]["loss"] < report["history"][0]["loss"]


def naive_greedy(model, tok, prompt, max_new_tokens):
    """Reference decoding: one prompt, no padding, no KV cache, argmax until newline or EOS."""
    import torch

    ids = tok(prompt, return_tensors="pt")["input_ids"]
    out = ""
    for _ in range(max_new_tokens):
        with torch.no_grad():
            nxt = model(input_ids=ids, use_cache=False).logits[0, -1].argmax().item()
        if nxt == tok.eos_token_id:
            break
        ch = tok.decode([nxt])
        if "\n" in ch:
            break
        out += ch
        ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    return out


@pytest.mark.integration
def test_probe_micro_model_matches_naive_decoding(micro_model, tmp_path):
    from dataladder.models.hub import load_model
    from dataladder.generate.hf import HFGenerator
    from dataladder.probe import probe, write_probe
    from dataladder.skills import get_skill

    model, tok = load_model(str(micro_model[0]))
    skills = [get_skill("add", digits=1), get_skill("div", digits=1)]
    report, samples = probe(HFGenerator(model, tok, batch_size=7), skills, n=10, target_format="exam")
    # batched, left-padded, KV-cached generation gives exactly the unbatched greedy completions
    for s in samples[::3]:
        assert s["completion"] == naive_greedy(model, tok, s["prompt"], skills[0].max_new_tokens)
    # verdicts agree with the verifier, intervals with Wilson
    for s in samples:
        assert s["ok"] == (s["completion"].strip() != "" and get_skill("add").verify(s["completion"], s["answer"]).ok)
    for r in report["skills"].values():
        for x in r["formats"].values():
            assert (x["ci_low"], x["ci_high"]) == pytest.approx(wilson(x["correct"], x["n"]))
    write_probe(report, samples, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == report["items"] == 2 * 10 * 2
    assert {"skill", "format", "prompt", "completion", "answer", "ok", "reason"} <= set(rows[0])
    saved = json.loads((tmp_path / "probe.json").read_text())
    for name, r in saved["skills"].items():
        for f, x in r["formats"].items():
            assert x["correct"] == sum(1 for s in rows if s["skill"] == name and s["format"] == f and s["ok"])


@pytest.mark.integration
def test_random_weights_are_missing_everywhere(tmp_path):
    from dataladder.models.tiny import TinyArch, build_tiny_model
    from dataladder.generate.hf import HFGenerator
    from dataladder.models.tokenizer import build_char_tokenizer
    from dataladder.probe import probe
    from dataladder.skills import get_skill

    tok = build_char_tokenizer()
    model = build_tiny_model(TinyArch(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128), tok)
    model.eval()
    skills = [get_skill(n) for n in ["add", "sub", "mul", "div", "mixed"]]
    report, _ = probe(HFGenerator(model, tok), skills, n=40)
    assert {r["diagnosis"] for r in report["skills"].values()} == {"missing"}


@pytest.mark.integration
def test_jsonl_skill_with_module_function_verifier_probes(micro_model, tmp_path, monkeypatch):
    import sys

    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model
    from dataladder.probe import probe
    from dataladder.skills import load_skills

    (tmp_path / "my_checks.py").write_text(
        "CALLS = []\n"
        "def starts_with_digit(completion, answer, **item):\n"
        "    CALLS.append((completion, item['source']))\n"
        "    return (completion.strip()[:1].isdigit(), None if completion.strip()[:1].isdigit() else 'no_digit')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("my_checks", None)
    p = tmp_path / "skill.jsonl"
    p.write_text("".join(json.dumps({"skill": "digits", "prompt": f"{i}+1=", "completion": str(i + 1),
                                     "verifier": "my_checks:starts_with_digit"}) + "\n" for i in range(6)))
    model, tok = load_model(str(micro_model[0]))
    report, samples = probe(HFGenerator(model, tok), load_skills([str(p)]), n=6)
    import my_checks

    assert len(my_checks.CALLS) == 6 and {s for _, s in my_checks.CALLS} == {f"{p}:{i}" for i in range(1, 7)}
    for s in samples:  # every verdict is the user's function's verdict
        assert s["ok"] == s["completion"].strip()[:1].isdigit()
        assert s["reason"] == (None if s["ok"] else "no_digit")
    r = report["skills"]["digits"]["formats"]["default"]
    assert r["n"] == 6 and r["correct"] == sum(s["ok"] for s in samples)
