"""Every number option of every command, found from the CLI itself (a new option joins without a line here): a value
far past any sensible size, and NaN for a float, is refused in one line naming the option, before the heavy work
begins (`_quiet`, the line before the first model load), and nothing is written."""

import pytest
import typer
from typer.testing import CliRunner

from dataladder.cli.main import app
from tests.test_bad_inputs import files  # noqa: F401  (the fixture: tasks.jsonl, points.csv, ok.py, …)

runner = CliRunner()
COMMANDS = typer.main.get_command(app).commands
# commands whose inputs are documents a run wrote (their options are covered in test_bad_files.py)
NEEDS_A_RUN = {"demo", "report", "rm-policy", "run", "skills", "compare"}
# where a huge value is a valid one: fit's scores are unbounded without eval_n, so any target or delta may be meant
VALID = {("fit", "--target"), ("fit", "--delta")}


def _numbers():
    for name, cmd in sorted(COMMANDS.items()):
        if name in NEEDS_A_RUN:
            continue
        for p in cmd.params:
            if getattr(p, "param_type_name", "") != "option" or p.is_flag or (name, p.opts[0]) in VALID:
                continue
            kind = p.bare_type()
            if kind == "int":
                yield name, p.opts[0], "1000000000000"
            elif kind == "float":
                yield name, p.opts[0], "1e30"
                yield name, p.opts[0], "nan"


CASES = list(_numbers())


def test_the_sweep_finds_the_options():
    assert len(CASES) > 100 and {("climb", "--growth"), ("rl", "--num-generations"), ("probe", "--batch-size")} <= \
        {(c, o) for c, o, _ in CASES}


@pytest.mark.parametrize("cmd, option, value", CASES, ids=[f"{c} {o} {v}" for c, o, v in CASES])
def test_a_number_past_any_sensible_size_is_refused_naming_its_option(cmd, option, value, files, tmp_path,  # noqa: F811
                                                                      monkeypatch):
    import dataladder.core.runtime as runtime

    def heavy_work(*a, **k):
        raise AssertionError(f"{cmd} {option} {value} was accepted: the heavy work began")

    monkeypatch.setattr(runtime, "requested_threads", heavy_work)  # `_quiet`: every check has passed
    monkeypatch.setattr(runtime, "load_warning", lambda: None)
    out = tmp_path / "out"
    base = {"curate": [str(files / "tasks.jsonl"), "--skill", f"{files / 'tasks.jsonl'}:caps"],
            "fit": [str(files / "points.csv")], "corrupt": [str(files / "tasks.jsonl"), "--wrong-share", "0.1"],
            "synth": ["--skill", "mul"], "sandbox": [str(files / "ok.py")]}.get(cmd, [])
    where = [] if cmd == "sandbox" else ["--output", str(out / "x.jsonl")] if cmd in ("synth", "corrupt") else \
        ["--output-dir", str(out)]
    r = runner.invoke(app, [cmd, *base, option, value, *where], env={"COLUMNS": "400"})
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), (r.output, r.exception)
    assert len(lines) == 1 and lines[0].startswith("error:") and option in lines[0], r.stderr
    assert not out.exists()
