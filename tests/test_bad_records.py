"""Bad records in the files users give (JSONL task and skill files, training records, fit's points, plans and
pretrain configs), refused by the shared readers (`core/errors.loads`, `core/config`): one line naming the file,
the line and the field, exit code 2, before any model loads, nothing written, no traceback. And the valid but
unusual ones (a schema as JSON text, a Parquet task file, a JSON Schema pair of surrogates) accepted."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dataladder.cli.main import app

runner = CliRunner()


from tests.test_bad_files import no_model, refused  # noqa: F401  (no_model: a fixture)


ITEM = {"skill": "caps", "prompt": "Capital of land 1?", "completion": "City 1"}
ITEMS = "".join(json.dumps({"skill": "caps", "split": "eval" if i < 4 else "train", "prompt": f"Capital of land {i}?",
                            "completion": f"City {i}"}) + "\n" for i in range(12))
REC = '{"prompt": "Capital of land 5?", "completion": "City 5"'  # a training record, open for one more field
PTS = '{"n": 20, "value": 0.1}\n{"n": 40, "value": 0.2}\n'


def line(**over) -> str:
    return json.dumps({**ITEM, **over}) + "\n"


# (what, file name, file text, command (FILE: the file, T: a valid task file, OUT: the output), words of the line)
CASES = [
    # 1. JSON that Python reads and JSON does not: a key twice, NaN / Infinity, a lone surrogate, nested too deep
    ("skill file: a key twice", "t.jsonl", '{"skill": "caps", "prompt": "p", "completion": "c", "completion": "d"}\n',
     ["skills", "FILE"], ["t.jsonl:1: field 'completion'", "given twice"]),
    ("check-gold: a key twice", "t.jsonl", line() + '{"skill": "caps", "skill": "caps", "prompt": "q", '
     '"completion": "c"}\n', ["probe", "--skill", "FILE", "--check-gold"], ["t.jsonl:2: field 'skill'", "given twice"]),
    ("a key twice in a nested object", "t.jsonl", '{"skill": "caps", "prompt": "p", "completion": "c", '
     '"meta": {"a": 1, "a": 2}}\n', ["skills", "FILE"], ["t.jsonl:1: field 'meta.a'", "given twice"]),
    ("a key twice in a JSON array of items", "t.json", "[\n" + json.dumps(ITEM) + ",\n" + '{"skill": "caps", '
     '"prompt": "q",\n "prompt": "r", "completion": "c"}\n]\n', ["skills", "FILE"], ["t.json:3: field '[1].prompt'"]),
    ("curate: a key twice", "r.jsonl", REC + ', "completion": "x"}\n', ["curate", "FILE", "--output-dir", "OUT"],
     ["r.jsonl:1: field 'completion'", "given twice"]),
    ("climb --train-file: a key twice", "r.jsonl", REC + ', "prompt": "x"}\n',
     ["climb", "--skill", "T:caps", "--train-file", "FILE", "--output-dir", "OUT"], ["r.jsonl:1: field 'prompt'"]),
    ("fit: a key twice", "p.jsonl", PTS + '{"n": 80, "value": 0.3, "value": 0.9}\n', ["fit", "FILE", "--output-dir", "OUT"],
     ["p.jsonl:3: field 'value'", "given twice"]),
    ("NaN in an extra field", "t.jsonl", line()[:-2] + ', "meta": NaN}\n', ["skills", "FILE"],
     ["t.jsonl:1: field 'meta'", "NaN is not valid JSON"]),
    ("curate: Infinity", "r.jsonl", REC + ', "score": -Infinity}\n', ["curate", "FILE", "--output-dir", "OUT"],
     ["r.jsonl:1: field 'score'", "-Infinity is not valid JSON"]),
    ("fit: NaN", "p.jsonl", PTS + '{"n": 80, "value": NaN}\n', ["fit", "FILE", "--output-dir", "OUT"],
     ["p.jsonl:3: field 'value'", "NaN"]),
    ("a lone surrogate in a prompt", "t.jsonl", '{"skill": "caps", "prompt": "a \\ud800 b", "completion": "c"}\n',
     ["skills", "FILE"], ["t.jsonl:1: field 'prompt'", "lone UTF-16 surrogate"]),
    ("check-gold: a lone surrogate", "t.jsonl", line() + '{"skill": "caps", "prompt": "q", "completion": "\\udfff"}\n',
     ["probe", "--skill", "FILE", "--check-gold"], ["t.jsonl:2: field 'completion'", "surrogate"]),
    ("curate: a lone surrogate in a turn", "r.jsonl", '{"messages": [{"role": "user", "content": "q\\udc00"}, '
     '{"role": "assistant", "content": "a"}]}\n', ["curate", "FILE", "--output-dir", "OUT"],
     ["r.jsonl:1: field 'messages[0].content'", "surrogate"]),
    ("corrupt: a lone surrogate", "r.jsonl", REC + ', "x": "\\ud800"}\n',
     ["corrupt", "FILE", "--wrong-share", "0.5", "--output", "OUT/x.jsonl"], ["r.jsonl:1: field 'x'", "surrogate"]),
    ("curate: a completion list of strings, not messages", "r.jsonl", '{"prompt": "What is 2+2?", "completion": '
     '["4"], "skill": "add"}\n', ["curate", "FILE", "--output-dir", "OUT"],
     ["r.jsonl:1: field 'completion[0]'", "expected a message (an object with role and content), got str"]),
    ("fit: JSON nested thousands deep", "p.json", "[" * 50_000 + "]" * 50_000, ["fit", "FILE", "--output-dir", "OUT"],
     ["p.json", "nested too deeply"]),
    ("a number past Python's digits", "t.jsonl", line()[:-2] + ', "big": ' + "9" * 5000 + "}\n", ["skills", "FILE"],
     ["t.jsonl:1", "more digits than Python reads"]),
    ("CR-only line ends: named, not a mystery", "t.jsonl", line().replace("\n", "\r") * 2, ["skills", "FILE"],
     ["t.jsonl:1", "lone CRs"]),
    ("fit: a CSV with CR-only line ends", "p.csv", "n,value\r20,0.1\r40,0.2\r", ["fit", "FILE", "--output-dir", "OUT"],
     ["p.csv", "lone CRs"]),
    ("curate: NaN in a JSON array of records", "r.json", "[" + REC + ', "score": NaN}]', ["curate", "FILE",
                                                                                       "--output-dir", "OUT"],
     ["r.json:1: field '[0].score'", "NaN"]),
    # 2. YAML nested thousands deep
    ("a plan nested 5,000 deep", "plan.yaml", "probe: " + "[" * 5000 + "]" * 5000 + "\n",
     ["run", "FILE", "output_dir=OUT"], ["plan.yaml", "nested too deeply"]),
    ("a pretrain config nested deep", "pre.yaml", "mixture: " + "[" * 5000 + "]" * 5000 + "\n",
     ["pretrain", "--config", "FILE", "--output-dir", "OUT"], ["pre.yaml", "nested too deeply"]),
    # 3. fields of task items and training records
    ("a skill name with '/'", "t.jsonl", line(skill="a/b"), ["skills", "FILE"], ["t.jsonl:1: field 'skill'", "'/'"]),
    ("a skill name with a newline", "t.jsonl", line(skill="a\nb"), ["skills", "FILE"],
     ["t.jsonl:1: field 'skill'", "newline"]),
    ("a skill name with a control character", "t.jsonl", line(skill="a\x07b"), ["skills", "FILE"],
     ["field 'skill'", "control character"]),
    ("a skill name with a space at an end", "t.jsonl", line(skill="caps "), ["skills", "FILE"],
     ["field 'skill'", "spaces at an end"]),
    ("an empty format name", "t.jsonl", line(format=""), ["skills", "FILE"], ["t.jsonl:1: field 'format'", "empty"]),
    ("a format name with '/'", "t.jsonl", line(format="a/b"), ["skills", "FILE"], ["field 'format'", "'/'"]),
    ("messages and conversations that differ", "r.jsonl", json.dumps({
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        "conversations": [{"from": "human", "value": "other"}, {"from": "gpt", "value": "x"}]}) + "\n",
     ["curate", "FILE", "--output-dir", "OUT"], ["r.jsonl:1: field 'conversations'", "differs from 'messages'"]),
    ("climb: messages and conversations", "r.jsonl", json.dumps({
        "messages": [{"role": "user", "content": "Capital of land 5?"}, {"role": "assistant", "content": "City 5"}],
        "conversations": [{"from": "human", "value": "other"}, {"from": "gpt", "value": "x"}]}) + "\n",
     ["climb", "--skill", "T:caps", "--train-file", "FILE", "--output-dir", "OUT"], ["field 'conversations'"]),
    ("a completion spoken by the user", "r.jsonl", json.dumps({"prompt": [{"role": "user", "content": "q"}],
                                                             "completion": [{"role": "user", "content": "x"}]}) + "\n",
     ["curate", "FILE", "--output-dir", "OUT"], ["r.jsonl:1: field 'completion'", "turn 0 is 'user'"]),
    ("a chosen answer spoken by the system", "r.jsonl", json.dumps({
        "prompt": "q", "chosen": [{"role": "system", "content": "x"}], "rejected": "y"}) + "\n",
     ["curate", "FILE", "--output-dir", "OUT"], ["field 'chosen'", "'system'"]),
    ("noise a number", "r.jsonl", REC + ', "noise": 5}\n', ["curate", "FILE", "--output-dir", "OUT"],
     ["r.jsonl:1: field 'noise'", "'kind'"]),
    ("noise without a kind", "r.jsonl", REC + ', "noise": {"original": "x"}}\n', ["curate", "FILE", "--output-dir", "OUT"],
     ["field 'noise'"]),
    ("fit: a curve label that is a list", "p.jsonl", '{"n": 20, "value": 0.1, "curve": 1}\n'
     '{"n": 40, "value": 0.3, "curve": [1]}\n', ["fit", "FILE", "--output-dir", "OUT"], ["p.jsonl:2: field 'curve'"]),
    ("fit: a curve label that is an object", "p.jsonl", '{"n": 20, "value": 0.1, "curve": {"a": 1}}\n',
     ["fit", "FILE", "--output-dir", "OUT"], ["p.jsonl:1: field 'curve'"]),
    ("fit: a seed that is a list", "p.jsonl", '{"n": 20, "value": 0.1, "seed": [0]}\n',
     ["fit", "FILE", "--output-dir", "OUT"], ["p.jsonl:1: field 'seed'"]),
    ("fit: n a JSON string", "p.jsonl", '{"n": "20", "value": 0.1}\n' + PTS, ["fit", "FILE", "--output-dir", "OUT"],
     ["p.jsonl:1: field 'n'", 'expected a number, got "20"']),
    ("fit: value a JSON string in an array", "p.json", '[{"n": 20, "value": "0.1"}]', ["fit", "FILE", "--output-dir", "OUT"],
     ["p.json:1: field 'value'"]),
    ("fit: n and N in one row", "p.jsonl", '{"n": 20, "N": 30, "value": 0.1}\n', ["fit", "FILE", "--output-dir", "OUT"],
     ["p.jsonl:1", "given twice"]),
    ("skills: a digit count past the generator's", None, None, ["skills", "add:digits=100000"],
     ["add:digits=100000", "digits", "1 to 100"]),
    ("check-gold: a digit count past the generator's", None, None, ["probe", "--skill", "add:digits=100000",
                                                                    "--check-gold"], ["digits", "1 to 100"]),
    ("a schema as text that is not JSON", "t.jsonl", line(verifier="json-schema", schema="{type: object}"),
     ["skills", "FILE"], ["t.jsonl:1: field 'schema'", "must be JSON"]),
    # 4. plans and pretrain configs
    ("plan: probe n true", "plan.yaml", "probe: {n: true}\n", ["run", "FILE", "output_dir=OUT"],
     ["plan.yaml", "key 'probe.n'", "got true"]),
    ("plan: a climb's seeds false", "plan.yaml", "climbs: [{name: a, seeds: false}]\n", ["run", "FILE", "output_dir=OUT"],
     ["key 'climbs.0.seeds'", "got false"]),
    ("plan: a float true", "plan.yaml", "climbs: [{name: a, target: true}]\n", ["run", "FILE", "output_dir=OUT"],
     ["key 'climbs.0.target'", "expected a number"]),
    ("plan: the same ladder twice in compare", "plan.yaml", "climbs: [{name: a}]\nprefs: {max_pairs: 400}\n"
     "compare: {climb: a, climbs: [a]}\n", ["run", "FILE", "output_dir=OUT"],
     ["plan.yaml:3: field 'compare.climbs.0'", "already compare.climb"]),
    ("pretrain: an empty mixture", "pre.yaml", "mixture: {}\n", ["pretrain", "--config", "FILE", "--output-dir", "OUT"],
     ["pre.yaml", "key 'mixture'", "empty mixture"]),
    ("pretrain: a negative share", "pre.yaml", "mixture: {add: -0.5, mul: 1.5}\n",
     ["pretrain", "--config", "FILE", "--output-dir", "OUT"], ["pre.yaml", "add", "negative"]),
    ("pretrain: every share 0", "pre.yaml", "mixture: {add: 0, mul: 0}\n",
     ["pretrain", "--config", "FILE", "--output-dir", "OUT"], ["pre.yaml", "every share is 0"]),
    ("pretrain: steps true", "pre.yaml", "steps: true\n", ["pretrain", "--config", "FILE", "--output-dir", "OUT"],
     ["pre.yaml", "key 'steps'", "got true"]),
    ("pretrain: digits past the generator's", "pre.yaml", "digits: 100000\n",
     ["pretrain", "--config", "FILE", "--output-dir", "OUT"], ["pre.yaml", "key 'digits'"]),
    # a second audit: a pair given in two forms, a conversation with no answer, a size past any forecast
    ("curate: chosen a conversation, rejected text", "r.jsonl", json.dumps({
        "prompt": "q", "chosen": [{"role": "assistant", "content": "a"}], "rejected": "b"}) + "\n",
     ["curate", "FILE", "--output-dir", "OUT"], ["r.jsonl:1: field 'rejected'", "plain text but 'chosen'"]),
    ("corrupt: a conversation whose only reply is a tool's", "r.jsonl", json.dumps({"messages": [
        {"role": "user", "content": "q"}, {"role": "tool", "content": "42"}]}) + "\n",
     ["corrupt", "FILE", "--wrong-share", "0.5", "--output", "OUT/x.jsonl"], ["r.jsonl:1: field 'messages[1].role'",
                                                                              "no assistant turn"]),
    ("a verifier that takes no argument given one", "t.jsonl", json.dumps({**ITEM, "verifier": "exact:foo"}) + "\n",
     ["skills", "FILE"], ["t.jsonl:1: field 'verifier'", "exact takes no argument"]),
    ("check-gold: contains with an argument", "t.jsonl", json.dumps({**ITEM, "verifier": "contains:x"}) + "\n",
     ["probe", "--skill", "FILE", "--check-gold"], ["t.jsonl:1: field 'verifier'", "contains takes no argument"]),
    ("fit: a size past the largest a forecast names", "p.csv", "n,value\n20,0.3\n40,0.4\n1e30,0.5\n",
     ["fit", "FILE", "--output-dir", "OUT"], ["p.csv:4: field 'n'", "past the largest size"]),
]


def _args(args, tmp_path, f):
    t = tmp_path / "tasks.jsonl"
    t.write_text(ITEMS)
    return [str(f) if a == "FILE" else a.replace("T:", f"{t}:").replace("OUT", str(tmp_path / "out")) for a in args]


@pytest.mark.usefixtures("no_model")  # a model loaded before the input was checked fails the test
@pytest.mark.parametrize("what, name, text, args, says", CASES, ids=[c[0] for c in CASES])
def test_a_bad_record_is_one_line_naming_file_line_and_field(tmp_path, what, name, text, args, says):
    f = None
    if name:
        f = tmp_path / "in" / name
        f.parent.mkdir()
        f.write_bytes(text.encode("utf-8", "surrogatepass"))
    refused(_args(args, tmp_path, f), says, tmp_path / "out")


# ---- valid input that must be read ------------------------------------------------------------------------

def _parquet(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)


def test_a_parquet_task_file_is_a_skill(tmp_path):
    rows = [json.loads(x) for x in ITEMS.splitlines()]
    _parquet(tmp_path / "tasks.parquet", rows)
    r = runner.invoke(app, ["probe", "--skill", str(tmp_path / "tasks.parquet"), "--check-gold"])
    assert r.exit_code == 0, r.output
    assert "12 items" in r.output
    from dataladder.skills import get_skill

    sk = get_skill(str(tmp_path / "tasks.parquet"))
    assert sk.name == "caps" and len(sk.items("eval", 100, 0)) == 4


def test_a_schema_given_as_json_text_is_read(tmp_path):
    f = tmp_path / "s.jsonl"
    f.write_text(json.dumps({"skill": "person", "split": "eval", "verifier": "json-schema",
                             "schema": json.dumps({"type": "object", "required": ["a"]}),
                             "prompt": "JSON please", "completion": '{"a": 1}'}) + "\n")
    r = runner.invoke(app, ["probe", "--skill", str(f), "--check-gold"])
    assert r.exit_code == 0, r.output
    from dataladder.skills import get_skill

    sk = get_skill(str(f))
    it = sk.items("eval", 1, 0)[0]
    assert sk.verify('{"a": 2}', it.answer, **sk.fields(it)).ok
    assert not sk.verify('{"b": 2}', it.answer, **sk.fields(it)).ok


VALID = [  # (what, file name, text): JSON that must still be read
    ("a surrogate pair as escapes (an emoji)", "t.jsonl", '{"skill": "caps", "prompt": "smile \\ud83d\\ude00", '
                                                          '"completion": "c"}\n'),
    ("an escaped backslash before u", "t.jsonl", '{"skill": "caps", "prompt": "path \\\\ud800", "completion": "c"}\n'),
    ("the same key in two objects", "t.jsonl", '{"skill": "caps", "prompt": "p", "completion": "c", '
                                               '"meta": {"skill": 1}}\n'),
    ("CRLF line ends", "t.jsonl", line().replace("\n", "\r\n") * 2),
    ("a skill name with a space inside", "t.jsonl", line(skill="my caps")),
    ("a format name with a space inside", "t.jsonl", line(format="my format")),
]


@pytest.mark.parametrize("what, name, text", VALID, ids=[v[0] for v in VALID])
def test_valid_json_is_still_read(tmp_path, what, name, text):
    f = tmp_path / name
    f.write_text(text, newline="")
    r = runner.invoke(app, ["skills", str(f)], env={"COLUMNS": "400"})
    assert r.exit_code == 0, (what, r.output)


def test_valid_records_and_points_are_still_read(tmp_path):
    recs = tmp_path / "r.jsonl"
    recs.write_text("".join(json.dumps(x) + "\n" for x in [
        {"messages": [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"}],
         "conversations": [{"from": "human", "value": "q1"}, {"from": "gpt", "value": "a1"}]},  # the same turns
        {"prompt": [{"role": "user", "content": "q2"}], "completion": [{"role": "assistant", "content": "a2"}]},
        {"prompt": "q3", "completion": "a3", "noise": {"kind": "wrong_answer", "original": "x"}},
        {"prompt": "q4", "completion": "a4", "noise": None}]))
    r = runner.invoke(app, ["curate", str(recs), "--output-dir", str(tmp_path / "cur")])
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "cur" / "kept.jsonl").read_text().splitlines()) == 4
    pts = tmp_path / "p.jsonl"
    pts.write_text('{"n": 20, "value": 0.1, "curve": 1, "seed": "a"}\n{"n": 40, "value": 0.2, "curve": 1, "seed": 0}\n'
                   '{"n": 80, "value": 0.3, "curve": 1}\n')
    r = runner.invoke(app, ["fit", str(pts), "--output-dir", str(tmp_path / "fit")])
    assert r.exit_code == 0, r.output


def test_plan_booleans_that_are_booleans_still_pass(tmp_path):
    from dataladder.core.config import bool_problem
    from dataladder.models.pretrain import PretrainConfig
    from dataladder.study.plan import Plan

    assert bool_problem(Plan, {"probe": {"n": 5}, "climbs": [{"name": "a", "seeds": 2}]}) == ""
    assert "probe.n" in bool_problem(Plan, {"probe": {"n": True}})
    assert "mixture.add" in bool_problem(PretrainConfig, {"mixture": {"add": True}})
    assert bool_problem(PretrainConfig, {"mixture": {"add": 1}, "steps": 3}) == ""


def test_the_strict_reader_names_the_place(tmp_path):
    from dataladder.core.errors import InputError, loads

    with pytest.raises(InputError) as e:
        loads('{"a": {"b": [1, {"c": 1, "c": 2}]}}', "f.jsonl", 7)
    assert str(e.value) == ("f.jsonl:7: field 'a.b[1].c': the key is given twice in one object; keep one (a JSON "
                            "reader would silently take the last)")
    assert loads('{"a": NaN}', "f", constants=True) is not None  # result documents: their own check names it
    assert loads('{"s": "\\ud83d\\ude00"}', "f") == {"s": "\U0001F600"}
