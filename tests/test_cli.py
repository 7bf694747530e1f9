import json

from typer.testing import CliRunner

from dataladder.cli import app

runner = CliRunner()


def test_malformed_jsonl_exits_2_with_one_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"skill": "x", "prompt": "a", "completion": "b"}\n{"skill": "x", "prompt": 3, "completion": "b"}\n')
    r = runner.invoke(app, ["probe", "--skill", str(p), "--output-dir", str(tmp_path / "out")])
    assert r.exit_code == 2
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and f"{p}:2: field 'prompt'" in lines[0]
    assert not (tmp_path / "out").exists()


def test_unknown_skill_did_you_mean(tmp_path):
    r = runner.invoke(app, ["probe", "--skill", "mull", "--output-dir", str(tmp_path)])
    assert r.exit_code == 2 and "did you mean 'mul'" in r.output


def test_skills_lists_builtins():
    r = runner.invoke(app, ["skills"])
    assert r.exit_code == 0 and all(n in r.output for n in ["add", "sub", "mul", "div", "mixed"])
