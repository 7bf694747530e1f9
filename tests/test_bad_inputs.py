"""Bad input, class by class: one line, exit code 2, before any model is loaded, nothing written. And valid but
unusual input (BOM, CRLF, JSON arrays, a huge line) accepted."""

import json
import os

import pytest
from typer.testing import CliRunner

from dataladder.cli import app

runner = CliRunner()


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    items = [{"skill": "caps", "split": "eval" if i < 4 else "train", "prompt": f"Capital of land {i}?",
              "completion": f"City {i}"} for i in range(12)]
    (d / "tasks.jsonl").write_text("".join(json.dumps(x) + "\n" for x in items))
    (d / "train.jsonl").write_text("".join(json.dumps({"messages": [{"role": "user", "content": x["prompt"]},
                                                                    {"role": "assistant", "content": x["completion"]}]})
                                           + "\n" for x in items[4:]))
    (d / "empty.jsonl").write_text("")
    (d / "truncated.jsonl").write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "c", "compl')
    (d / "latin1.jsonl").write_bytes('{"prompt": "caf\xe9", "completion": "x"}\n'.encode("latin-1"))
    (d / "wrongtype.jsonl").write_text('{"prompt": 7, "completion": "b"}\n')
    (d / "collide.jsonl").write_text('{"skill": "mul", "prompt": "2*3=", "completion": "6"}\n')
    (d / "nomodel").mkdir()
    (d / "afile").write_text("x")
    (d / "plan.yaml").write_text("model: tiny-arith\nclimbs: [{name: a, seeds: 0}]\n")
    (d / "empty_plan.yaml").write_text("# nothing yet\n\n")
    (d / "utf16_plan.yaml").write_bytes("model: tiny-arith\n".encode("utf-16"))
    (d / "nul_plan.yaml").write_bytes(b"model: tiny-arith\nclimbs: [{name: a\x00}]\n")
    (d / "list_plan.yaml").write_text("- model: tiny-arith\n")
    (d / "twins_plan.yaml").write_text("climbs: [{name: x}, {name: x, method: lora}]\n")
    (d / "escape_plan.yaml").write_text("climbs: [{name: ../../elsewhere}]\n")
    (d / "skill_plan.yaml").write_text("climbs: [{name: a, skills: [add, nosuch]}]\n")
    (d / "growth_plan.yaml").write_text("climbs: [{name: a, growth: .inf}]\n")
    (d / "empty_array.json").write_text("[]\n")
    (d / "blank.jsonl").write_text("\n   \n\n")
    (d / "colon.jsonl").write_text('{"skill": "my:task", "prompt": "p", "completion": "c"}\n')
    (d / "case.jsonl").write_text('{"skill": "Mixed", "prompt": "p", "completion": "c"}\n')
    (d / "adir").mkdir()
    (d / "alleval.jsonl").write_text("".join(json.dumps({"skill": "ev", "split": "eval", "prompt": f"q{i}",
                                                         "completion": "a"}) + "\n" for i in range(4)))
    (d / "badtests.jsonl").write_text('{"skill": "f", "prompt": "def f():", "completion": "x", '
                                      '"verifier": "python-tests", "tests": 5}\n')
    (d / "badrole.jsonl").write_text('{"skill": "r", "messages": [{"role": "wizard", "content": "hi"}, '
                                     '{"role": "assistant", "content": "x"}]}\n')
    (d / "noskills_plan.yaml").write_text("climbs: [{name: a, skills: []}]\n")
    (d / "noranks_plan.yaml").write_text("climbs: [{name: a, method: lora, lora_ranks: []}]\n")
    (d / "m_badcfg").mkdir()
    (d / "m_badcfg" / "config.json").write_text("{not json")
    (d / "run_bad").mkdir()
    (d / "run_bad" / "probe").mkdir()
    (d / "run_bad" / "probe" / "probe.json").write_text("{}")
    (d / "run_badjson").mkdir()
    (d / "run_badjson" / "probe").mkdir()
    (d / "run_badjson" / "probe" / "probe.json").write_text("{oops")
    (d / "badladder").mkdir()
    (d / "badladder" / "ladder.json").write_text('{"arms": 5}')
    (d / "badprefs").mkdir()
    (d / "badprefs" / "prefs.json").write_text('{"unit": "pairs", "rungs": [')
    (d / "userplan.yaml").write_text(f"model: {d / 'nomodel'}\nrl: {{max_rollouts: 64}}\n")
    return d


def _cases(d, out):
    T = str(d / "tasks.jsonl")
    return [
        # bad numbers
        (["climb", "--budget", "-40"], "--budget"),
        (["climb", "--budget", "40,30m,99"], "--budget"),
        (["climb", "--eval-n", "-5"], "--eval-n -5"),
        (["climb", "--seeds", "0"], "--seeds 0"),
        (["climb", "--target", "1.5"], "--target 1.5"),
        (["climb", "--growth", "1"], "--growth 1"),
        (["climb", "--method", "lora", "--lora-ranks", "0"], "lora_ranks"),
        (["probe", "--n", "0"], "--n 0"),
        (["prefs", "--start", "0"], "--start 0"),
        (["rl", "--eval-n", "0"], "--eval-n 0"),
        (["--threads", "0", "probe"], "--threads 0"),
        (["dpo", "--seeds", "0"], "--seeds 0"),
        (["dpo", "--format", "bogus"], "bogus"),
        (["dpo", "--train-sources", "endpoint"], "--train-sources endpoint"),
        (["dpo", "--report-to", "tensorbord"], "did you mean 'tensorboard'"),
        (["climb", "--report-to", "wandbb"], "--report-to"),
        (["prefs", "--executor", "slurm"], "--executor slurm"),
        (["rm-policy", "--prefs", str(d / "missing")], "prefs.json"),
        (["rm-policy", "--steps", "0"], "--steps 0"),
        # bad paths
        (["probe", "--model", str(d / "missing")], "missing"),
        (["probe", "--model", str(d / "nomodel")], "config.json"),
        (["probe", "--model", "dataladder-tests/no-such-model", "--skill", "add"], "local Hugging Face cache"),
        (["climb", "--skill", f"{T}:caps", "--train-file", str(d / "missing.jsonl")], "missing.jsonl"),
        (["probe", "--output-dir", str(d / "afile")], "is a file"),
        (["curate", T, "--output-dir", str(d / "afile" / "sub")], "cannot be created"),
        (["corrupt", T, "--output", str(d), "--wrong-share", "0.1"], "is a directory"),
        # bad files
        (["climb", "--skill", f"{T}:caps", "--train-file", str(d / "empty.jsonl")], "empty.jsonl"),
        (["climb", "--skill", f"{T}:caps", "--train-file", str(d / "truncated.jsonl")], "truncated.jsonl:2"),
        (["curate", str(d / "latin1.jsonl")], "latin1.jsonl"),
        (["curate", str(d / "wrongtype.jsonl")], "wrongtype.jsonl:1"),
        (["probe", "--skill", str(d / "empty.jsonl")], "empty.jsonl"),
        # collisions and specs
        (["probe", "--skill", str(d / "collide.jsonl")], "built-in skill"),
        (["probe", "--skill", "mul:digits=0"], "digits"),
        (["synth", "--skill", f"{T}:eval_share=2"], "eval_share"),
        (["probe", "--model", str(d / "nomodel"), "--skill", T], "config.json"),
        # plans
        (["run", str(d / "plan.yaml"), f"output_dir={out}"], "seeds"),
        (["run", str(d / "userplan.yaml"), f"output_dir={out}"], "rl.skill"),
        (["run", str(d / "empty_plan.yaml"), f"output_dir={out}"], "the plan is empty"),
        (["run", str(d / "utf16_plan.yaml"), f"output_dir={out}"], "utf16_plan.yaml:1: not UTF-8"),
        (["run", str(d / "nul_plan.yaml"), f"output_dir={out}"], "nul_plan.yaml:2: not valid YAML"),
        (["run", str(d / "list_plan.yaml"), f"output_dir={out}"], "a YAML list"),
        (["run", str(d / "twins_plan.yaml"), f"output_dir={out}"], "climbs.1.name"),
        (["run", str(d / "escape_plan.yaml"), f"output_dir={out}"], "climbs.0.name"),
        (["run", str(d / "skill_plan.yaml"), f"output_dir={out}"], "skill_plan.yaml: climbs.0.skills: unknown skill"),
        (["run", str(d / "growth_plan.yaml"), f"output_dir={out}"], "growth"),
        (["run", str(d / "plan.yaml"), f"output_dir={out}", "climbs.0.seeds=1", "parallel=0"], "parallel"),
        (["run", str(d / "adir"), f"output_dir={out}"], "is a directory"),
        # more numbers: infinite, NaN, crossed ranges, budgets below the first rung, generation options
        (["climb", "--growth", "inf"], "--growth"),
        (["climb", "--budget", "infm"], "--budget"),
        (["climb", "--skill", "add", "--skill", "add"], "given twice"),
        (["climb", "--hp", "epochs=0"], "epochs"),
        (["probe", "--batch-size", "0"], "--batch-size 0"),
        (["probe", "--mastered-at", "1.5"], "--mastered-at 1.5"),
        (["probe", "--partial-at", "0.9", "--mastered-at", "0.5"], "below mastered_at"),
        (["probe", "--skill", "mul", "--skill", "mul"], "given twice"),
        (["prefs", "--max-pairs", "10"], "max_pairs (--max-pairs) 10 is below start (--start) 50"),
        (["rl", "--num-generations", "1"], "num_generations"),
        (["synth", "--skill", "mul", "--n", "5", "--temperature", "nan", "--source", "self"], "--temperature nan"),
        (["synth", "--skill", "mul", "--n", "5", "--top-p", "0", "--source", "self"], "--top-p 0"),
        (["synth", "--skill", "mul", "--n", "5", "--concurrency", "0", "--source", "endpoint"], "--concurrency 0"),
        (["synth", "--skill", "mul", "--n", "5", "--source", "self", "--model", str(d / "missing")], "missing"),
        (["synth", "--skill", "mul", "--n", "5", "--probe", str(d / "adir")], "is a directory"),
        (["synth", "--skill", "mul", "--n", "5", "--stats", str(d / "adir")], "is a directory"),
        (["curate", T, "--min-chars", "100", "--max-chars", "10"], "below min_chars"),
        # more files: empty in other shapes, a directory for a file, an unparsable model config, result files
        (["curate", str(d / "empty_array.json")], "holds no records"),
        (["curate", str(d / "blank.jsonl")], "holds no records"),
        (["corrupt", str(d / "empty.jsonl"), "--output", str(out / "x.jsonl"), "--wrong-share", "0.1"], "holds no records"),
        (["curate", str(d / "adir")], "is a directory"),
        (["climb", "--skill", f"{T}:caps", "--train-file", str(d / "adir")], "is a directory"),
        (["curate", T, "--eval-set", str(d / "adir")], "is a directory"),
        (["probe", "--skill", str(d / "adir")], "is a directory"),
        (["probe", "--model", str(d / "m_badcfg"), "--skill", T], "not valid JSON"),
        (["probe", "--skill", str(d / "colon.jsonl")], "without ':'"),
        (["probe", "--skill", str(d / "case.jsonl")], "built-in skill"),
        (["report", str(d / "run_bad")], "run_bad"),
        (["report", str(d / "run_badjson")], "probe.json:1: not a valid JSON"),
        (["compare", "--climb", str(d / "badladder"), "--ladder", str(d / "badladder" / "ladder.json")], "badladder"),
        (["rm-policy", "--prefs", str(d / "badprefs")], "prefs.json"),
        # a second audit's: empty lists, all-eval skills, item fields of the wrong shape, the input as the output
        (["climb", "--method", "lora", "--lora-ranks", ""], "lora_ranks is empty"),
        (["run", str(d / "noskills_plan.yaml"), f"output_dir={out}"], "skills is empty"),
        (["run", str(d / "noranks_plan.yaml"), f"output_dir={out}"], "lora_ranks is empty"),
        (["climb", "--skill", str(d / "alleval.jsonl")], "no train items"),
        (["climb", "--target-format", "bogus"], "--target-format"),
        (["probe", "--skill", str(d / "badtests.jsonl")], "badtests.jsonl:1: field 'tests'"),
        (["probe", "--skill", str(d / "badrole.jsonl")], "messages[0].role"),
        (["corrupt", T, "--output", T, "--wrong-share", "0.1"], "is the input file"),
        (["curate", T, "--steps", "dedup,dedup"], "given twice"),
        (["curate", T, "--steps", ",,"], "at least one step"),
        (["pretrain", "--steps", "0", "--output-dir", str(out)], "--steps 0"),
        (["prefs", "--heldout-sources", "bogus"], "--heldout-sources"),
        (["sandbox", str(d / "missing.py")], "missing.py: no such file"),
    ]


def test_every_bad_input_is_one_line_exit_2_before_any_model_and_writes_nothing(files, tmp_path, monkeypatch):
    import dataladder.models.hub as hub

    def no_model(*a, **k):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(hub, "load_model", no_model)
    monkeypatch.delenv("DATALADDER_THREADS", raising=False)
    out = tmp_path / "out"
    before = sorted(p.name for p in files.iterdir())
    for args, msg in _cases(files, out):
        extra = [] if args[0] in ("run", "--threads", "report", "sandbox") or "--output-dir" in args or "--output" in args else \
            ["--output-dir", str(out)] if args[0] != "synth" else ["--output", str(out / "x.jsonl")]
        r = runner.invoke(app, [*args, *extra], env={"COLUMNS": "400"})
        lines = [x for x in r.output.splitlines() if x.strip()]
        assert r.exit_code == 2, (args, r.output, r.exception)
        assert len(lines) == 1 and lines[0].startswith("error:") and msg in lines[0], (args, r.output)
        assert not out.exists(), args
        assert sorted(p.name for p in files.iterdir()) == before, args
    os.environ.pop("DATALADDER_THREADS", None)


def test_valid_unusual_files_are_accepted(files, tmp_path):
    from dataladder.data.trainfile import read_train_file
    from dataladder.skills import get_skill

    d = files
    bom = d / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + (d / "tasks.jsonl").read_bytes().replace(b"\n", b"\r\n"))
    assert len(get_skill(str(bom)).items("eval", 100, 0)) == 4
    alpaca = d / "alpaca.json"
    alpaca.write_text(json.dumps([{"instruction": f"Capital of land {i}?", "input": "", "output": f"City {i}"}
                                  for i in range(4, 12)]))
    assert len(read_train_file(alpaca)) == 8
    huge = d / "huge.jsonl"
    huge.write_text(json.dumps({"prompt": "Summarize: " + "word " * 80_000, "completion": "words"}) + "\n")
    r = runner.invoke(app, ["curate", str(huge), "--output-dir", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "c" / "stats.json").read_text())["kept"] == 1


@pytest.mark.parametrize("args, says", [
    (["fit", "points.csv", "--target", "40%"], "Invalid value for '--target'"),
    (["climb", "--bogus"], "No such option: --bogus"),
    (["fit"], "Missing argument"),
])
def test_option_errors_of_the_installed_command_are_one_line(args, says, tmp_path):
    """Click's own usage errors (a typo'd option, a value of the wrong type) through the real entry point."""
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "dataladder"
    r = subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=tmp_path)
    lines = (r.stdout + r.stderr).strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and says in lines[0] and "--help" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_a_plan_whose_rl_budget_cannot_hold_a_rung_stops_before_any_step(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("probe: {n: 10}\nrl: {max_rollouts: 512}\n")
    r = runner.invoke(app, ["run", str(plan), f"output_dir={tmp_path / 'out'}"], env={"COLUMNS": "400"})
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and "rl: --budget (max_rollouts) 512 is below one rung" in lines[0]
    assert not (tmp_path / "out").exists()
