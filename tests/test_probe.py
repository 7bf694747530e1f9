import json

import pytest

from dataladder.evals.probe import DATA_BANDS, diagnose, with_prerequisites
from dataladder.core.stats import wilson


def fmt(**acc):
    """Per-format cells from accuracies: `exam=0.1` (strict only) or `exam=(0.0, 0.9)` (strict, lenient)."""
    out = {}
    for f, a in acc.items():
        strict, le = a if isinstance(a, tuple) else (a, None)
        out[f] = {"accuracy": strict} if le is None else {"accuracy": strict, "lenient": {"accuracy": le}}
    return out


def test_diagnoses():
    assert diagnose(fmt(native=0.95, exam=0.9), "exam", 0.8, 0.15)[0] == "mastered"
    assert diagnose(fmt(native=0.95, exam=0.01), "exam", 0.8, 0.15)[:3] == ("format-gap", "native", "other-format")
    assert diagnose(fmt(native=0.5, exam=0.0), "exam", 0.8, 0.15)[0] == "partial"
    assert diagnose(fmt(native=0.05, exam=0.0), "exam", 0.8, 0.15)[0] == "missing"


def test_lenient_format_gap_without_a_second_format():
    # GSM8K-style answers without `####`: strict 0, the gold number in 90% of the completions
    d = diagnose(fmt(default=(0.0, 0.9)), "default", 0.8, 0.15)
    assert (d.diagnosis, d.best_other_format, d.format_gap_by) == ("format-gap", None, "lenient")
    # JSON followed by prose: half strict, all lenient
    assert diagnose(fmt(default=(0.46, 1.0)), "default", 0.8, 0.15).format_gap_by == "lenient"
    # another mastered format is the reason first, as before
    assert diagnose(fmt(native=0.9, exam=(0.0, 0.9)), "exam", 0.8, 0.15).format_gap_by == "other-format"
    # strict mastered: mastered, whatever the lenient reading
    assert diagnose(fmt(default=(0.85, 1.0)), "default", 0.8, 0.15)[:3] == ("mastered", None, None)


def test_lenient_low_stays_missing_or_partial():
    d = diagnose(fmt(default=(0.02, 0.05)), "default", 0.8, 0.15)
    assert (d.diagnosis, d.format_gap_by, d.partly_format) == ("missing", None, False)
    # knowledge that only the lenient reading sees is partial, not missing, and partly a format gap
    d = diagnose(fmt(default=(0.0, 0.4)), "default", 0.8, 0.15)
    assert (d.diagnosis, d.format_gap_by, d.partly_format) == ("partial", None, True)
    # partial on both readings alike: not a format matter
    assert diagnose(fmt(default=(0.4, 0.5)), "default", 0.8, 0.15).partly_format is False
    # a ladder's base eval carries lenient_correct beside correct and n
    assert diagnose({"exam": {"accuracy": 0.1, "correct": 1, "n": 10, "lenient_correct": 9}}, "exam", 0.8, 0.15
                    ).format_gap_by == "lenient"


class FakeGen:
    """The generator seam `score_formats` uses, answering from a dict of prompt -> completion."""

    prompt_frame = "raw"

    def __init__(self, answer):
        self.answer = answer

    def prompt_for(self, skill, fmt, item):
        return skill.formats[fmt].prompt(item)

    def greedy(self, prompts, on_batch=None):
        return [self.answer(p) for p in prompts]

    def render_text(self, p):
        return p


def toy_skill(name, n=20):
    from dataladder.skills import Format, Item, Skill
    from dataladder.verify import get_verifier

    items = [Item(skill=name, key=str(i), answer=str(i + 3), data={"operands": [i, 3]}) for i in range(n)]
    return Skill(name=name, items=lambda split, k, seed: items[:k], verify=get_verifier("numeric"), is_eval=lambda it: True,
                 formats={"default": Format(prompt=lambda it: f"What is {it.key} plus 3?", completion=lambda it: it.answer)},
                 target_format="default", verifier="numeric")


def test_probe_scores_the_lenient_reading(tmp_path):
    from dataladder.evals.probe import probe, write_probe

    def answer(prompt):  # word-problem style: the operands first, the answer last, no `####`
        k = int(prompt.split()[2])
        if k == 5:
            return f"{k + 3}"  # the one answer in the strict format
        return f"{k} and 3 make {k + 3}." if k % 10 else f"{k} and 3 make {k + 4}."

    report, samples = probe(FakeGen(answer), [toy_skill("words")], n=20)
    r = report["skills"]["words"]
    cell = r["formats"]["default"]
    assert (cell["correct"], cell["accuracy"]) == (1, 0.05)  # strict reads the first number: an operand
    le = cell["lenient"]
    assert set(le) == {"accuracy", "ci_low", "ci_high", "correct", "n"}
    # 18 right answers after prose, and `0 and 3 make 4`: the gold 3 is there as an operand (an upper bound)
    assert (le["correct"], le["n"], le["accuracy"]) == (19, 20, 0.95)
    assert (le["ci_low"], le["ci_high"]) == pytest.approx(wilson(19, 20))
    assert (r["diagnosis"], r["format_gap_by"], r["partly_format"]) == ("format-gap", "lenient", False)
    assert r["data_band"] == DATA_BANDS["format-gap"]
    write_probe(report, samples, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert sum(s["lenient_ok"] for s in rows) == 19 and sum(s["ok"] for s in rows) == 1
    assert all(s["lenient_ok"] or not s["ok"] for s in rows)  # strict ok is lenient ok


def test_probe_both_low_is_missing():
    from dataladder.evals.probe import probe

    report, _ = probe(FakeGen(lambda p: "I am not sure, maybe 1000."), [toy_skill("words")], n=20)
    r = report["skills"]["words"]
    assert r["formats"]["default"]["lenient"]["correct"] == 0
    assert (r["diagnosis"], r["format_gap_by"], r["partly_format"]) == ("missing", None, False)


def test_probe_json_skill_with_prose_after_the_object(tmp_path):
    from dataladder.evals.probe import probe
    from dataladder.skills import load_skills

    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    p = tmp_path / "people.jsonl"
    p.write_text("".join(json.dumps({"skill": "person", "prompt": f"Person {i} as JSON:", "verifier": "json-schema",
                                     "completion": json.dumps({"name": f"P{i}"}), "schema": schema, "split": "eval"})
                         + "\n" for i in range(10)))

    def answer(prompt):
        i = int(prompt.split()[1])
        doc = json.dumps({"name": f"P{i}"})
        return doc if i < 4 else doc + "\nI hope this helps!"  # 6 of 10 fail strictly, only for the prose after

    report, samples = probe(FakeGen(answer), load_skills([str(p)]), n=10)
    r = report["skills"]["person"]
    cell = r["formats"]["default"]
    assert (cell["correct"], cell["lenient"]["correct"]) == (4, 10)
    assert (r["diagnosis"], r["format_gap_by"]) == ("format-gap", "lenient")
    assert {s["reason"] for s in samples if not s["ok"]} == {"invalid_json"}


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
    from dataladder.evals.probe import probe, write_probe
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
    assert {"skill", "format", "prompt", "completion", "answer", "ok", "reason", "lenient_ok"} <= set(rows[0])
    saved = json.loads((tmp_path / "probe.json").read_text())
    for name, r in saved["skills"].items():
        for f, x in r["formats"].items():
            assert x["correct"] == sum(1 for s in rows if s["skill"] == name and s["format"] == f and s["ok"])


@pytest.mark.integration
def test_random_weights_are_missing_everywhere(tmp_path):
    from dataladder.models.tiny import TinyArch, build_tiny_model
    from dataladder.generate.hf import HFGenerator
    from dataladder.models.tokenizer import build_char_tokenizer
    from dataladder.evals.probe import probe
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
    from dataladder.evals.probe import probe
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


def test_table_shows_lenient_where_it_differs(capsys):
    from dataladder.cli.tables import print_probe
    from dataladder.evals.probe import probe

    report, _ = probe(FakeGen(lambda p: f"{p.split()[2]} plus 3 gives {int(p.split()[2]) + 3}"), [toy_skill("words")], n=20)
    report["model"] = "fake"
    print_probe(report)
    out = capsys.readouterr().out
    assert "(lenient 1.00)" in out and "format-gap (lenient)" in out
    assert max(len(line) for line in out.splitlines() if line.startswith(("┃", "│"))) <= 80


def two_format_file(tmp_path, chat_split="eval", n=20):
    """A JSONL skill whose items alternate `"format": "chat"` and the default format (all eval unless told)."""
    p = tmp_path / "two.jsonl"
    p.write_text("".join(json.dumps({"skill": "twofmt", "prompt": f"What is {i} plus 3?", "completion": str(i + 3),
                                     "verifier": "numeric", "split": chat_split if i % 2 else "eval",
                                     **({"format": "chat"} if i % 2 else {})}) + "\n" for i in range(n)))
    return p


def test_n_counts_items_per_format_not_per_skill(tmp_path):
    from dataladder.evals.probe import eval_items, probe
    from dataladder.skills import load_skills

    sk, = load_skills([str(two_format_file(tmp_path))])
    by = eval_items(sk, 6)
    assert {f: len(v) for f, v in by.items()} == {"default": 6, "chat": 6}
    assert all(it.data["format"] == f for f, its in by.items() for it in its)  # each format its own items
    report, samples = probe(FakeGen(lambda p: str(int(p.split()[2]) + 3)), [sk], n=6)
    cells = report["skills"]["twofmt"]["formats"]
    assert (cells["default"]["n"], cells["chat"]["n"]) == (6, 6)  # was 3 and 3 (n drawn for the skill, then split)
    assert len(samples) == report["items"] == 12
    # a generated skill's items carry no format: every format gets the same n
    from dataladder.skills import get_skill

    add = eval_items(get_skill("add"), 5)
    assert [len(v) for v in add.values()] == [5, 5] and add["native"] == add["exam"]


def test_a_format_without_eval_items_is_not_scored(tmp_path, capsys):
    from dataladder.cli.tables import print_probe
    from dataladder.evals.probe import probe
    from dataladder.report.html import probe_section
    from dataladder.skills import load_skills

    sk, = load_skills([str(two_format_file(tmp_path, chat_split="train"))])  # every chat item is a train item
    report, _ = probe(FakeGen(lambda p: str(int(p.split()[2]) + 3)), [sk], n=5)
    r = report["skills"]["twofmt"]
    assert list(r["formats"]) == ["default"] and r["diagnosis"] == "mastered"  # no 0.00 chat cell behind it
    report["model"] = "fake"
    print_probe(report)
    out = capsys.readouterr().out
    assert "—" in out and "0.00 [0.00–1.00]" not in out and "n = 5 scored" in out
    assert "n = 5 scored per bar" in probe_section(report)
    # the target format without eval items: unscored, not missing
    report, _ = probe(FakeGen(lambda p: "no idea"), [sk], n=5, target_format="chat")
    assert report["skills"]["twofmt"]["diagnosis"] == "unscored"
    assert diagnose({"chat": {"accuracy": 0.0, "n": 0}, "default": {"accuracy": 0.9, "n": 5}}, "chat", 0.8,
                    0.15).diagnosis == "unscored"


def test_climb_refuses_a_target_format_without_eval_items_before_loading(tmp_path, monkeypatch):
    import dataladder.models.hub as hub
    from dataladder.ladder.climb import ClimbConfig, prepare

    p = two_format_file(tmp_path, chat_split="train")
    monkeypatch.setattr(hub, "load_model", lambda spec: (_ for _ in ()).throw(AssertionError("loaded")))
    with pytest.raises(ValueError, match="no eval items in its target format chat"):
        prepare("tiny-arith", ClimbConfig(skills=[str(p)], target_format="chat", eval_skills=[]))
