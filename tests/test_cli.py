from typer.testing import CliRunner

from dataladder.cli.main import app

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


def test_skills_shows_a_user_file_with_its_splits(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text("".join(f'{{"skill": "s", "split": "{"eval" if i < 3 else "train"}", "prompt": "q{i}", '
                         f'"completion": "a", "verifier": "exact"}}\n' for i in range(10)))
    r = runner.invoke(app, ["skills", str(p)], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "3 / 7" in r.output and "exact" in r.output, r.output
    r = runner.invoke(app, ["skills", str(tmp_path / "nope.jsonl")])
    assert r.exit_code == 2 and r.output.strip() == f"error: {tmp_path / 'nope.jsonl'}: no such file"


def test_budget_parsing():
    from dataladder.cli.common import parse_budget

    assert parse_budget("5120") == (5120, None)
    assert parse_budget("30m") == (None, 30.0)
    assert parse_budget("5120,2h") == (5120, 120.0)
    import pytest

    with pytest.raises(ValueError, match="--budget"):
        parse_budget("lots")


def test_climb_rejects_bad_options_before_work(tmp_path):
    r = runner.invoke(app, ["climb", "--method", "qlora", "--output-dir", str(tmp_path / "o")])
    assert r.exit_code == 2 and "method" in r.output
    r = runner.invoke(app, ["climb", "--skill", "dvi", "--output-dir", str(tmp_path / "o")])
    assert r.exit_code == 2 and "did you mean 'div'" in r.output
    assert not (tmp_path / "o").exists()


def test_run_plan_with_typo_fails_before_work(tmp_path):
    p = tmp_path / "plan.yaml"
    p.write_text(f"model: tiny-arith\noutput_dir: {tmp_path / 'out'}\nclimbs:\n  - name: a\n    skills: [add]\n    tragett: 0.9\n")
    r = runner.invoke(app, ["run", str(p)])
    assert r.exit_code == 2
    assert "climbs.0.tragett" in r.output and "did you mean 'target'" in r.output
    assert not (tmp_path / "out").exists()


def test_user_model_and_skill_mistakes_are_one_line_before_any_model_is_loaded(tmp_path):
    import json

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps({"skill": s, "prompt": f"{s}?", "completion": "x"}) + "\n" for s in ("a", "b")))
    again = tmp_path / "again.jsonl"
    again.write_text(json.dumps({"skill": "a", "prompt": "other?", "completion": "y"}) + "\n")
    empty = tmp_path / "empty-model"
    empty.mkdir()
    out = tmp_path / "out"
    for args, msg in (
        (["probe", "--model", str(tmp_path / "nope")], "no such model directory"),
        (["probe", "--model", str(empty)], "no config.json"),
        (["probe", "--skill", str(tasks), "--skill", str(again)], "skill 'a' is defined twice"),
        (["probe", "--target-format", "exma"], "did you mean 'exam'"),
        (["probe", "--chat-template", "yes"], "option --chat-template"),
        (["climb", "--skill", str(tasks)], f"name one, e.g. {tasks}:a"),
        (["climb", "--model", str(tmp_path / "nope"), "--skill", f"{tasks}:a"], "no such model directory"),
        (["climb", "--skill", "add", "--target-format", "exma"], "did you mean 'exam'"),
    ):
        r = runner.invoke(app, [*args, "--output-dir", str(out)])
        lines = [x for x in r.output.splitlines() if x.strip()]
        assert r.exit_code == 2 and len(lines) == 1 and msg in lines[0], (args, r.output)
        assert not out.exists()


def test_climb_prints_its_time_estimate_before_the_first_rung(tmp_path, monkeypatch):
    import dataladder.ladder.climb as climb_mod

    seen = []

    def fake_climb(cfg, output_dir, executor=None, on_rung=None, **kw):
        seen.append(cfg)
        return {"config": {"target": cfg.target, "target_format": "exam", "models": cfg.models}, "arms": [{}],
                "recommendations": []}

    monkeypatch.setattr(climb_mod, "climb", fake_climb)
    r = runner.invoke(app, ["climb", "--skill", "add", "--seeds", "1", "--budget", "40", "--eval-skill", "add",
                            "--output-dir", str(tmp_path / "o")], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and seen, r.output
    first = r.output.splitlines()[0]
    assert first.startswith("estimate: up to ") and "order of magnitude" in first and "Over an hour" not in first
    r = runner.invoke(app, ["climb", "--skill", "add", "--method", "lora", "--lora-ranks", "1,4,16,32", "--seeds", "5",
                            "--eval-n", "300", "--output-dir", str(tmp_path / "o")], env={"COLUMNS": "200"})
    first = r.output.splitlines()[0]
    assert r.exit_code == 0 and "Over an hour" in first and "--seeds 1" in first and "--lora-ranks 8" in first


def test_the_demo_finds_its_plans():
    """`dataladder demo` (the README's first command) reads configs/demo.yaml and configs/demo-quick.yaml from the
    repository, wherever the command runs from: both are there and valid plans."""
    from dataladder.cli.main import CONFIGS
    from dataladder.study.plan import load_plan

    for name in ("demo.yaml", "demo-quick.yaml"):
        assert (CONFIGS / name).is_file(), CONFIGS / name
        load_plan(CONFIGS / name)
