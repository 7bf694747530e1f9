"""Bad files and paths, class by class: output paths checked before any model loads, nothing created before the
input is accepted, result documents read through one validator, no semaphores left after a kill, sandbox
output summarised. Each CLI case: exit 2, one line on stderr naming the file and the field or option, no
traceback, nothing created."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dataladder.cli.main import app

runner = CliRunner()


@pytest.fixture
def no_model(monkeypatch):
    import dataladder.models.hub as hub

    def refuse(*a, **k):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(hub, "load_model", refuse)


def refused(args, says, *gone):
    """Run `args`: exit 2, one error line on stderr containing each of `says`, no traceback, none of `gone`."""
    r = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.exit_code == 2, (args, r.output, r.exception)
    assert len(lines) == 1 and lines[0].startswith("error:"), (args, r.output)
    for s in [says] if isinstance(says, str) else says:
        assert s in lines[0], (args, s, lines[0])
    assert "Traceback" not in r.output
    for p in gone:
        assert not Path(p).exists(), (args, p)
    return lines[0]


# ---- 1. output paths: resolved and checked first -----------------------------------------------------------

@pytest.fixture
def paths(tmp_path):
    d = tmp_path / "p"
    d.mkdir()
    os.symlink("loop", d / "loop")
    os.symlink("nowhere", d / "dangling")
    (d / "afile").write_text("x")
    (d / "ro").mkdir()
    (d / "tasks.jsonl").write_text("".join(json.dumps({"skill": "caps", "split": "eval" if i < 4 else "train",
                                                       "prompt": f"Capital of {i}?", "completion": f"C{i}"}) + "\n"
                                           for i in range(12)))
    (d / "points.csv").write_text("n,value\n10,0.5\n20,0.6\n40,0.7\n")
    return d


BAD_OUTPUTS = {  # the bad path (under the fixture's folder) → what the error line says
    "loop": "is a symbolic link loop",
    "loop/sub": "loop is a symbolic link loop",
    "dangling": "is a link to nowhere, which does not exist",
    "dangling/sub": "is a link to nowhere, which does not exist",
    "afile": "is a file",
    "afile/sub": "afile is a file, so the path cannot be created",
}


def commands(d):
    """Every command that writes, with the least it needs to get as far as its output check: (args, option)."""
    T = d / "tasks.jsonl"
    return [
        (["curate", T], "--output-dir"), (["demo"], "--output-dir"), (["fit", d / "points.csv"], "--output-dir"),
        (["probe"], "--output-dir"), (["climb"], "--output-dir"), (["prefs"], "--output-dir"),
        (["rl"], "--output-dir"), (["dpo"], "--output-dir"), (["rm-policy"], "--output-dir"),
        (["pretrain"], "--output-dir"), (["compare", "--climb", d, "--rl", d], "--output-dir"),
        (["synth", "--skill", "add"], "--output"), (["corrupt", T], "--output"),
    ]


@pytest.mark.parametrize("bad", sorted(BAD_OUTPUTS))
def test_a_bad_output_path_is_refused_first_by_every_command(paths, bad, no_model):
    before = sorted(p.name for p in paths.iterdir())
    for args, option in commands(paths):
        out = paths / bad
        if option == "--output" and bad == "afile":
            continue  # a file is what --output names: replaced, which is fine
        refused([*args, option, out], [f"{option} {out}", BAD_OUTPUTS[bad]])
        assert sorted(p.name for p in paths.iterdir()) == before, args
    os.environ.pop("DATALADDER_THREADS", None)


def test_a_plans_output_dir_is_checked_before_any_step(paths, no_model):
    plan = paths / "plan.yaml"
    plan.write_text("model: tiny-arith\nprobe: {n: 10}\n")
    refused(["run", plan, f"output_dir={paths / 'loop' / 'x'}"], ["output_dir", "is a symbolic link loop"])
    refused(["run", plan, f"output_dir={paths / 'afile'}"], ["output_dir", "is a file"])


def test_a_read_only_output_dir_is_refused_without_creating_anything(paths, no_model, monkeypatch):
    ro = paths / "ro"
    if os.geteuid() == 0:  # root writes through a 0o555 mode: stand in for a read-only mount
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **k: False if Path(p) == ro else real(p, mode, **k))
    else:
        ro.chmod(0o555)
    try:
        for args, option in commands(paths):
            refused([*args, option, ro / "new" / "deeper"], [f"{option} {ro / 'new' / 'deeper'}", f"cannot write in {ro}"])
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_check_writable_creates_nothing_and_accepts_good_paths(tmp_path):
    from dataladder.cli.common import check_writable

    check_writable(tmp_path / "a" / "b" / "c", "--output-dir")
    check_writable(tmp_path / "x.jsonl", "--output", file=True)
    os.symlink(tmp_path, tmp_path / "link")
    check_writable(tmp_path / "link" / "sub", "--output-dir")  # a link to a directory is fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_an_input_that_is_a_loop_or_a_fifo_says_so(paths, no_model, tmp_path):
    os.mkfifo(paths / "pipe.jsonl")
    os.symlink("self.jsonl", paths / "self.jsonl")
    out = tmp_path / "out"
    for name, says in (("pipe.jsonl", "is a FIFO (named pipe), not a regular file"),
                       ("self.jsonl", "is a symbolic link loop")):
        f = paths / name
        refused(["curate", f, "--output-dir", out], [str(f), says], out)
        refused(["fit", f, "--output-dir", out], [str(f), says], out)
        refused(["probe", "--skill", f, "--output-dir", out], [str(f), says], out)
        refused(["climb", "--train-file", f, "--output-dir", out], [str(f), says], out)
    from dataladder.core.errors import not_a_file

    assert not_a_file(paths / "dangling") == "is a link to nowhere, which does not exist; give a file"
    assert not_a_file(paths / "nosuch") == "no such file"


# ---- 2. nothing created before the input is accepted -------------------------------------------------------

def test_curate_refusing_a_record_leaves_no_empty_parents(paths, tmp_path):
    bad = paths / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": 7, "completion": "b"}\n')
    r = runner.invoke(app, ["curate", str(bad), "--output-dir", str(tmp_path / "new" / "a" / "b")])
    assert r.exit_code == 2 and "bad.jsonl:2" in r.stderr, r.output
    assert not (tmp_path / "new").exists()


PLAN_FILES = [  # a plan whose step reads a file that is not there: (plan text, what the line names)
    ("climbs: [{{name: a, skills: [add], train_file: {d}/missing.jsonl}}]", "climbs.0.train_file"),
    ("climbs: [{{name: a, skills: [add], train_file: {d}/loop}}]", "climbs.0.train_file"),
    ("rl: {{skill: {d}/tasks.jsonl:caps, prompts_file: {d}/missing.jsonl}}", "rl.prompts_file"),
    ("prefs: {{skill: {d}/tasks.jsonl:caps, prompts_file: {d}/missing.jsonl}}", "prefs.prompts_file"),
    ("rl: {{skill: {d}/tasks.jsonl:caps, reward_model: {d}/nomodel}}", "rl.reward_model"),
    ("rm_policy: {{prefs: {d}/noprefs}}", "rm_policy.prefs"),
]


@pytest.mark.parametrize("text, says", PLAN_FILES)
def test_a_plans_files_are_all_checked_before_any_step(paths, tmp_path, no_model, text, says):
    plan = paths / "plan.yaml"
    plan.write_text("model: tiny-arith\nprobe: {n: 10}\n" + text.format(d=paths) + "\n")
    out = tmp_path / "study"
    t0 = time.perf_counter()
    refused(["run", plan, f"output_dir={out}"], [str(plan), says], out)
    assert time.perf_counter() - t0 < 10


def test_an_override_of_a_list_the_plan_lacks_says_so(paths, tmp_path):
    plan = paths / "plan.yaml"
    plan.write_text("model: tiny-arith\nprobe: {n: 10}\n")
    refused(["run", plan, "climbs.5.target=0.8", f"output_dir={tmp_path / 'o'}"],
            "'climbs.5.target=0.8': the plan has no climbs, so it has no item '5'", tmp_path / "o")
    plan.write_text("model: tiny-arith\nclimbs: []\n")
    refused(["run", plan, "climbs.5.target=0.8", f"output_dir={tmp_path / 'o'}"],
            "climbs is an empty list, so it has no item '5'", tmp_path / "o")


# ---- 3. result documents: one validator for report, compare, fit and rm-policy -------------------------------

def _rung(n, acc, total=100):
    return {"n": n, "accuracy": acc, "ci_low": max(0.0, acc - 0.1), "ci_high": min(1.0, acc + 0.1),
            "correct": round(acc * total), "total": total, "seeds": [{"seed": 0, "accuracy": acc}], "seconds": 1.0}


def _ladder():
    return {"config": {"target": 0.8, "models": ["tiny-arith"], "max_examples": 640},
            "arms": [{"model": "tiny-arith", "skill": "add", "label": "full", "kind": "sft", "unit": "examples",
                      "base": {"accuracy": 0.1, "correct": 10, "total": 100, "ci_low": 0.05, "ci_high": 0.17},
                      "rungs": [_rung(20, 0.3), _rung(40, 0.5), _rung(80, 0.62), _rung(160, 0.7)]}],
            "recommendations": []}


def _prefs():
    return {"config": {"skill": "mul"}, "model": "tiny-arith", "skill": "mul", "kind": "reward", "unit": "pairs",
            "label": "reward model: mul", "base": {"accuracy": 0.5, "correct": 100, "n": 200},
            "rungs": [_rung(50, 0.6, 200), _rung(100, 0.65, 200), _rung(200, 0.7, 200)]}


EDITS = [  # (what, edit of the ladder document, the field path and words of the error)
    ("accuracy 7.5", lambda d: d["arms"][0]["rungs"][2].update(accuracy=7.5),
     "arms[0].rungs[2].accuracy: 7.5 is not in [0, 1]"),
    ("accuracy NaN", lambda d: d["arms"][0]["rungs"][1].update(accuracy=float("nan")),
     "arms[0].rungs[1].accuracy: NaN is not a number"),
    ("n = -20", lambda d: d["arms"][0]["rungs"][0].update(n=-20), "arms[0].rungs[0].n: -20 is negative"),
    ("rungs a string", lambda d: d["arms"][0].update(rungs="20,40"),
     "arms[0].rungs: expected a list of rungs, got a string"),
    ("a seed's accuracy", lambda d: d["arms"][0]["rungs"][3]["seeds"][0].update(accuracy=-0.5),
     "arms[0].rungs[3].seeds[0].accuracy: -0.5 is not in [0, 1]"),
    ("correct over total", lambda d: d["arms"][0]["rungs"][0].update(correct=130),
     "arms[0].rungs[0].correct: 130 is more than total (100)"),
    ("arms an object", lambda d: d.update(arms={}), "arms: expected a list, got an object"),
    ("a string count", lambda d: d["arms"][0]["base"].update(total="100"), 'arms[0].base.total: "100" is not a number'),
    # the audit's acceptances: rungs out of order or repeated, an interval upside down, a rung scored on nothing,
    # a size no data set has, names no reader knows, a target that is no accuracy, no rungs, samples outside
    ("rungs decreasing", lambda d: d["arms"][0]["rungs"].reverse(), "arms[0].rungs[1].n: 80 after 160"),
    ("a size twice", lambda d: d["arms"][0]["rungs"][1].update(n=20), "arms[0].rungs[1].n: 20 after 20"),
    ("ci_low above ci_high", lambda d: d["arms"][0]["rungs"][0].update(ci_low=0.95, ci_high=0.2),
     "arms[0].rungs[0].ci_low: 0.95 is above ci_high (0.2)"),
    ("accuracy outside its interval", lambda d: d["arms"][0]["rungs"][1].update(accuracy=0.9),
     "arms[0].rungs[1].accuracy: 0.9 lies outside its interval [0.4, 0.6]"),
    ("total 0", lambda d: d["arms"][0]["rungs"][0].update(correct=0, total=0), "arms[0].rungs[0].total: 0"),
    ("n huge", lambda d: d["arms"][0]["rungs"][3].update(n=10**40), "arms[0].rungs[3].n: 1e+40 is beyond any data size"),
    ("kind bogus", lambda d: d["arms"][0].update(kind="bogus"), 'arms[0].kind: "bogus" is not a ladder kind'),
    ("unit pairs", lambda d: d["arms"][0].update(unit="pairs"), 'arms[0].unit: "pairs", but the sft kind counts examples'),
    ("target 2", lambda d: d["config"].update(target=2), "config.target: 2 is not an accuracy to reach"),
    ("rungs empty", lambda d: d["arms"][0].update(rungs=[]), "arms[0].rungs: no rungs (an empty list)"),
    ("diagnosis bogus", lambda d: d["arms"][0].update(diagnosis="bogus"), 'arms[0].diagnosis: "bogus" is not a diagnosis'),
    ("samples escaping", lambda d: d["arms"][0]["rungs"][0].update(samples=["../../../../etc/hostname"]),
     'arms[0].rungs[0].samples[0]: "../../../../etc/hostname" is outside the ladder\'s directory'),
    ("samples absolute", lambda d: d["arms"][0]["rungs"][1].update(samples=["/etc/hostname"]),
     'arms[0].rungs[1].samples[0]: "/etc/hostname" is outside the ladder\'s directory'),
]


@pytest.fixture
def docs(tmp_path):
    run = tmp_path / "study"
    (run / "climbs" / "a").mkdir(parents=True)
    (run / "prefs").mkdir()
    (run / "prefs" / "prefs.json").write_text(json.dumps(_prefs()))
    return run


@pytest.mark.parametrize("what, edit, says", EDITS, ids=[e[0] for e in EDITS])
def test_an_edited_ladder_json_is_refused_naming_file_and_field(docs, tmp_path, what, edit, says):
    doc = _ladder()
    edit(doc)
    f = docs / "climbs" / "a" / "ladder.json"
    f.write_text(json.dumps(doc))
    out = tmp_path / "out"
    refused(["report", docs], f"{f}: {says}", docs / "report.html")
    refused(["compare", "--climb", f.parent, "--prefs", docs / "prefs", "--output-dir", out], f"{f}: {says}", out)
    refused(["fit", f, "--output-dir", out], f"{f}: {says}", out)


def test_a_valid_ladder_json_is_still_read(docs, tmp_path):
    f = docs / "climbs" / "a" / "ladder.json"
    f.write_text(json.dumps(_ladder()))
    r = runner.invoke(app, ["fit", str(f), "--output-dir", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    from dataladder.core.results import read_result

    assert read_result(docs / "prefs", "prefs.json", need=("config", "unit", "rungs"))["unit"] == "pairs"


PREFS_EDITS = [
    ("rungs a string", lambda d: d.update(rungs="50,100"), "prefs.json: rungs: expected a list, got a string"),
    ("no config", lambda d: d.pop("config"), "prefs.json: config: missing"),
    ("no rungs", lambda d: d.update(rungs=[]), "prefs.json: rungs: no rungs"),
    ("NaN accuracy", lambda d: d["rungs"][0].update(accuracy=float("nan")),
     "prefs.json: rungs[0].accuracy: NaN is not a number"),
    ("a bad config value", lambda d: d["config"].update(max_pairs="lots"), "prefs.json: config.max_pairs"),
    ("another kind", lambda d: d.update(kind="dpo", unit="pairs"), "not a prefs (reward model) ladder"),
    ("rungs decreasing", lambda d: d["rungs"].reverse(), "prefs.json: rungs[1].n: 100 after 200"),
    ("model a missing path", lambda d: d["config"].update(model="/nonexistent/model"),
     "prefs.json: config.model /nonexistent/model: no such model directory"),
    ("skill unknown", lambda d: d["config"].update(skill="nosuch"), "prefs.json: config.skill: unknown skill 'nosuch'"),
    ("no run store", lambda d: None, "prefs.json: rungs: no run store beside it"),  # the fixture has none
]


@pytest.mark.parametrize("what, edit, says", PREFS_EDITS, ids=[e[0] for e in PREFS_EDITS])
def test_rm_policy_refuses_an_edited_prefs_json_before_any_model(docs, tmp_path, no_model, what, edit, says):
    doc = _prefs()
    edit(doc)
    (docs / "prefs" / "prefs.json").write_text(json.dumps(doc))
    out = tmp_path / "rm"
    line = refused(["rm-policy", "--prefs", docs / "prefs", "--output-dir", out], says, out)
    assert "older dataladder" not in line and line.startswith("error: --prefs")


def _store(prefs_dir, sizes):
    """The prefs run store's finished runs of the reward models (seed 0) of `sizes` pairs."""
    from dataladder.core.store import RunStore
    from dataladder.ladder.prefs import PrefsConfig, data_config, rung_config

    pc = PrefsConfig(**_prefs()["config"])
    for n in sizes:
        run = RunStore(prefs_dir).path(rung_config(pc, data_config(pc), n, 0))
        run.mkdir(parents=True)
        (run / "done").write_text("")


def test_rm_policy_refuses_a_rung_without_its_reward_model_and_takes_a_whole_store(docs, tmp_path, monkeypatch):
    from dataladder.ladder.rm_policy import RMPolicyConfig, read_prefs

    _store(docs / "prefs", [50, 100])  # no reward model of 200 pairs
    refused(["rm-policy", "--prefs", docs / "prefs", "--output-dir", tmp_path / "rm"],
            ["--prefs", "prefs.json: rungs[2].n: no reward model of 200 pairs in its run store"], tmp_path / "rm")
    _store(docs / "prefs", [200])
    assert [r["n"] for r in read_prefs(RMPolicyConfig(prefs=str(docs / "prefs")))["rungs"]] == [50, 100, 200]


def test_report_names_the_probe_file(docs):
    (docs / "probe").mkdir()
    (docs / "probe" / "probe.json").write_text(json.dumps({"skills": {"add": {"formats": {"exam": {
        "accuracy": 1.5, "n": 10, "correct": 15}}}}}))
    refused(["report", docs], f"{docs / 'probe' / 'probe.json'}: skills.add.formats.exam.accuracy: 1.5 is not in [0, 1]",
            docs / "report.html")


OTHER_DOCS = [  # (a document beside a valid ladder in a study, its text, what the line says): report reads each one
    ("probe/probe.json", {"skills": {"add": {"diagnosis": "bogus", "formats": {"exam": {
        "accuracy": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n": 10, "correct": 5}}}}},
     'skills.add.diagnosis: "bogus" is not a diagnosis'),
    ("probe/probe.json", {"skills": {"add": {"diagnosis": "missing", "formats": {}}}},
     "skills.add.formats: no formats (an empty object)"),
    ("compare/compare.json", {"delta": 0.02, "saturation_rule": "x", "curves": 5}, "curves: expected a list, got a number"),
    ("compare/compare.json", {"delta": 0.02, "saturation_rule": "x", "curves": [{"points": []}]},
     "curves[0].points: no rungs"),
    ("rl/rl.json", {"kind": "rl", "unit": "rollouts", "config": {"target": 0.8},
                    "rungs": [_rung(64, 0.5), {**_rung(128, 0.6), "accuracy": 1.5}]},  # no rl.png beside it: read all the same
     "rungs[1].accuracy: 1.5 is not in [0, 1]"),
]


@pytest.mark.parametrize("name, doc, says", OTHER_DOCS, ids=[f"{d[0]}: {d[2][:20]}" for d in OTHER_DOCS])
def test_report_reads_every_document_of_the_study_through_the_validator(docs, name, doc, says):
    (docs / "climbs" / "a" / "ladder.json").write_text(json.dumps(_ladder()))
    f = docs / name
    f.parent.mkdir(exist_ok=True)
    f.write_text(json.dumps(doc))
    refused(["report", docs], f"{f}: {says}", docs / "report.html")


def test_a_ladder_json_with_a_bom_and_crlf_is_read(docs, tmp_path):
    f = docs / "climbs" / "a" / "ladder.json"
    doc = _ladder()
    doc["arms"][0]["rungs"][0]["samples"] = ["runs/abc/samples.jsonl"]  # inside the ladder's directory: fine
    f.write_bytes(b"\xef\xbb\xbf" + json.dumps(doc, indent=1).replace("\n", "\r\n").encode())
    for args in (["fit", f, "--output-dir", tmp_path / "fit"],
                 ["compare", "--climb", f.parent, "--prefs", docs / "prefs", "--output-dir", tmp_path / "cmp"]):
        r = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})
        assert r.exit_code == 0, (args, r.output)
    from dataladder.core.results import read_result  # report's reader (this ladder is too small for its sections)

    assert read_result(f, need=("config", "arms", "recommendations"))["arms"][0]["rungs"][0]["n"] == 20


def test_report_and_compare_say_what_is_wrong_with_the_path(paths, tmp_path, no_model):
    for bad, says in (("nosuch", "no such directory"), ("afile", "is a file, not a directory"),
                      ("loop", "is a symbolic link loop, not a directory"),
                      ("dangling", "is a link to nowhere, which does not exist")):
        refused(["report", paths / bad], f"{paths / bad}: {says}")
    out = tmp_path / "out"
    refused(["compare", "--climb", paths / "loop", "--rl", paths, "--output-dir", out],
            f"{paths / 'loop'}: is a symbolic link loop; give the directory that holds ladder.json", out)


def test_fit_refuses_a_fractional_size(paths, tmp_path):
    f = paths / "frac.csv"
    f.write_text("n,value\n20.5,0.1\n40,0.2\n80,0.3\n")
    refused(["fit", f, "--output-dir", tmp_path / "out"], f"{f}:2: field 'n': 20.5 is not a whole number", tmp_path / "out")


PLANS = [  # (plan text, overrides, what the line says): refused before plan.yaml or any step
    ("probe: {n: 10, skills: [add, add]}\n", [], "probe.skills: add: given twice; give each skill once"),
    ("probe: {n: 10}\n", ["probe.n=["], "override 'probe.n=[': the value '[' is not valid YAML (expected the node"),
]


@pytest.mark.parametrize("text, overrides, says", PLANS)
def test_a_plan_is_refused_whole_before_anything_is_written(paths, tmp_path, text, overrides, says):
    plan = paths / "plan.yaml"
    plan.write_text(text)
    out = tmp_path / "study"
    t0 = time.perf_counter()
    refused(["run", plan, f"output_dir={out}", *overrides], [str(plan), says], out)
    assert time.perf_counter() - t0 < 10


# ---- 4. the study pool leaves no named semaphores after a kill -----------------------------------------------

POOL = """
import sys, time
from pathlib import Path
import dataladder.study.run as run
from dataladder.study.plan import Plan
from dataladder.study.pool import run_steps_parallel


def step(*a, **k):  # in the worker (it imports this file again): a library's progress bar, then the step runs on
    from tqdm.auto import tqdm

    for _ in tqdm(range(3)):  # tqdm's first bar takes a multiprocessing lock unless the worker's is a thread lock
        pass
    Path(sys.argv[1] + ".running").write_text("")
    time.sleep(120)


run.run_step = step

if __name__ == "__main__":
    out = Path(sys.argv[1])
    plan = Plan.model_validate({"output_dir": str(out), "probe": {"n": 300}, "threads": 1})
    print("pool", flush=True)
    run_steps_parallel(plan, out, run.Hooks(), [("probe", ())], workers=2)
"""


def _sems() -> set[str]:
    return {p.name for p in Path("/dev/shm").glob("sem.mp-*")}


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no /dev/shm on this platform")
def test_a_killed_study_pool_leaves_no_semaphores(tmp_path):
    before = _sems()
    script = tmp_path / "pool.py"
    script.write_text(POOL)
    p = subprocess.Popen([sys.executable, str(script), str(tmp_path / "out")], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert p.stdout.readline().strip() == "pool"
        running = Path(str(tmp_path / "out") + ".running")
        for _ in range(600):  # the workers started (a spawned interpreter each) and the step is running
            if running.exists() or p.poll() is not None:
                break
            time.sleep(0.1)
        assert running.exists() and p.poll() is None, "the step never ran, or the pool ended before it was killed"
    finally:
        os.killpg(p.pid, signal.SIGKILL)  # the whole session: the study, its workers, any resource tracker
        p.wait()
    time.sleep(0.5)
    assert _sems() - before == set()


KILLED = """
import os, signal, sys
from pathlib import Path
import dataladder.study.run as run

run.run_step = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)  # in the worker too: it imports this file again

if __name__ == "__main__":
    from dataladder.study.plan import Plan
    from dataladder.study.pool import StepDied, run_steps_parallel

    plan = Plan.model_validate({"output_dir": sys.argv[1], "probe": {"n": 10}, "threads": 1})
    try:
        run_steps_parallel(plan, Path(sys.argv[1]), run.Hooks(), [("probe", ())], workers=2)
    except StepDied as e:
        print(e)
"""


def test_a_killed_step_is_one_line_naming_the_step_and_the_signal(tmp_path, monkeypatch):
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    p = subprocess.run([sys.executable, str(script), str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert p.stdout.startswith("step probe: its process was killed by SIGKILL"), p.stdout
    import dataladder.study.pool as pool
    from dataladder.study.pool import StepDied

    def die(plan, hooks=None):
        raise StepDied("climb a", -9)

    monkeypatch.setattr(pool, "run_plan", die)
    plan = tmp_path / "plan.yaml"
    plan.write_text("probe: {n: 10}\n")
    r = runner.invoke(app, ["run", str(plan), f"output_dir={tmp_path / 'study'}"], env={"COLUMNS": "400"})
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.exit_code == 1 and len(lines) == 1 and "Traceback" not in r.output, r.output
    assert lines[0].startswith("error: step climb a: its process was killed by SIGKILL") and "rerun" in lines[0]
    assert str(StepDied("noise", 3)).startswith("step noise: its process ended with exit code 3")


def test_the_pool_still_runs_steps_and_reports_their_errors(tmp_path):
    from dataladder.study.plan import Plan
    from dataladder.core.errors import InputError
    from dataladder.study.run import Hooks
    from dataladder.study.pool import run_steps_parallel

    plan = Plan.model_validate({"output_dir": str(tmp_path / "out"), "rm_policy": {"prefs": str(tmp_path / "none")}})
    before = _sems() if Path("/dev/shm").is_dir() else set()
    with pytest.raises(InputError, match="prefs.json"):
        run_steps_parallel(plan, tmp_path / "out", Hooks(), [("rm-policy", ())], workers=1)
    if Path("/dev/shm").is_dir():
        assert _sems() - before == set()


# ---- 5. the sandbox summarises a flood of output ------------------------------------------------------------

def test_sandbox_summarises_a_flood_of_output(tmp_path):
    flood = tmp_path / "stdout_flood.py"
    flood.write_text("for i in range(300000):\n    print('line', i)\n")
    r = runner.invoke(app, ["sandbox", str(flood)], env={"COLUMNS": "200"})
    assert r.exit_code == 1, r.output  # the output cap stops it
    assert len(r.stdout) < 20_000 and "line 0\n" in r.stdout and "stdout: 1,000,000 bytes in" in r.stdout
    assert "output_limit" in r.output


def test_sandbox_prints_short_output_whole():
    from dataladder.cli.data import summarised

    assert summarised("a\nb\n", "stdout") == "a\nb\n"
    long = "".join(f"{i}\n" for i in range(1000))
    s = summarised(long, "stdout")
    assert s.startswith("0\n1\n") and s.endswith("998\n999\n") and "1,000 lines" in s and len(s) < 400
