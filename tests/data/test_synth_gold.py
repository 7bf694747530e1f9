"""synth on a json-schema skill: a sample that fits the schema but not the gold answer is not a verified record."""

import json

from typer.testing import CliRunner

from dataladder.cli.main import app
from dataladder.data.synth import SelfSource, SynthConfig, synthesize

PEOPLE = [("Ana", 31, "Lisbon"), ("Bo", 40, "Oslo"), ("Cy", 25, "Lima"), ("Di", 52, "Riga")]
SCHEMA = {"type": "object", "required": ["name", "age", "city"],
          "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string"}}}


def people_file(tmp_path):
    p = tmp_path / "people.jsonl"
    p.write_text("".join(json.dumps({
        "skill": "person", "split": "train", "verifier": "json-schema", "schema": SCHEMA,
        "prompt": f"As JSON: {n} is {a} and lives in {c}.",
        "completion": json.dumps({"name": n, "age": a, "city": c})}) + "\n" for n, a, c in PEOPLE))
    return p


def fake_model(monkeypatch):
    """Per prompt: the gold JSON re-laid-out, one with another city (the schema passes it), and not JSON."""
    def candidates(self, items, batch):
        out = []
        for it in items:
            doc = json.loads(it.answer) if it.answer else {"name": "Ed", "age": 9, "city": "Nowhere"}
            out.append([json.dumps(dict(reversed(doc.items())), indent=2), json.dumps({**doc, "city": "Atlantis"}),
                        "no idea"])
        return out

    monkeypatch.setattr(SelfSource, "candidates", candidates)


def test_self_samples_that_disagree_with_the_gold_json_are_dropped_and_counted(tmp_path, monkeypatch):
    fake_model(monkeypatch)
    recs, stats = synthesize(SynthConfig(skill=str(people_file(tmp_path)), n=100, source="self", model="m", k=3,
                                         greedy_check=False))
    # before: 8 of 12 samples "verified", 4 of them with a city that is not the prompt's
    assert stats["accepted"] == 4 and len(recs) == 4
    assert stats["rejected"] == {"disagrees_with_gold": 4, "invalid_json": 4}
    for r in recs:
        assert json.loads(r["completion"]) == json.loads(r["answer"])  # the sample written is the gold document


def test_without_a_gold_answer_the_schema_alone_decides(tmp_path, monkeypatch):
    fake_model(monkeypatch)
    prompts = tmp_path / "more.jsonl"
    prompts.write_text(json.dumps({"prompt": "As JSON: someone somewhere.", "verifier": "json-schema",
                                   "schema": SCHEMA}) + "\n")
    src = people_file(tmp_path)
    recs, stats = synthesize(SynthConfig(skill=str(src), n=100, source="self", model="m", k=3, greedy_check=False,
                                         prompts_file=str(prompts)))
    # the prompts-file line has no gold: both schema-valid samples are kept, as before
    assert stats["accepted"] == 4 + 2 and stats["rejected"]["disagrees_with_gold"] == 4


def test_cli_summary_says_how_many_disagreed_with_the_gold(tmp_path, monkeypatch):
    fake_model(monkeypatch)
    monkeypatch.setattr("dataladder.models.hub.check_model", lambda model: None)
    out = tmp_path / "o.jsonl"
    r = CliRunner().invoke(app, ["synth", "--skill", str(people_file(tmp_path)), "--source", "self", "--model", "m",
                                 "--k", "3", "--n", "10", "--no-greedy-check", "--output", str(out)],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "dropped 4 samples that pass the verifier but disagree with their item's gold answer" in r.output
    assert json.loads(out.with_suffix(".stats.json").read_text())["rejected"]["disagrees_with_gold"] == 4
