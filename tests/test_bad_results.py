"""Result documents read through the one validator (`core/results.py`), audit 6: every path a document names
stays inside its directory once symbolic links are resolved (report never embeds a file from elsewhere), the
values fit, compare and report accepted (no seeds, a skill that is a number, a NaN forecast, an unknown stop
reason, a reached_at that is no size, a crossed data band, a top-level skill against its config's), the
documents `synth --probe` and `rl --reward-model` read, lines that name the field or the option at fault, and
report's output checked before the page is built (no .tmp left). Each CLI case: exit 2, one line on stderr
naming the file and the field or option, no traceback, nothing written, no model loaded."""

import json
import os
import re
from pathlib import Path

import pytest

from tests.test_bad_files import _ladder, _prefs, _rung, no_model, refused  # noqa: F401  (no_model: a fixture)

no_model_loads = pytest.mark.usefixtures("no_model")  # a model loaded before the input was checked fails the test

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def docs(tmp_path):
    """A study (as tests/test_bad_files.py's `docs`): a valid prefs/prefs.json, climbs/a/ for the ladder."""
    run = tmp_path / "study"
    (run / "climbs" / "a" / "runs" / "abc").mkdir(parents=True)
    (run / "climbs" / "a" / "runs" / "abc" / "samples.jsonl").write_text("")
    (run / "prefs").mkdir()
    (run / "prefs" / "prefs.json").write_text(json.dumps(_prefs()))
    return run


def _arm(d):
    return d["arms"][0]


def _r(i):
    return lambda d: d["arms"][0]["rungs"][i]


def _forecast(**median):
    return {"after_n": 80, "n_target": {"median": 120.0, "lo80": 60.0, "hi80": 400.0, **median}, "p_reachable": 0.9}


LADDER_EDITS = [  # (what, edit of the ladder document, the field path and words of the error): fit, compare, report
    ("seeds empty", lambda d: _r(0)(d).update(seeds=[]), "arms[0].rungs[0].seeds: no seeds (an empty list)"),
    ("a seed a number", lambda d: _r(1)(d).update(seeds=[5]), "arms[0].rungs[1].seeds[0]: expected a seed's score"),
    ("skill a number", lambda d: _arm(d).update(skill=5), "arms[0].skill: 5 is not a skill name"),
    ("skill a boolean", lambda d: _arm(d).update(skill=True), "arms[0].skill: true is not a skill name"),
    ("skill empty", lambda d: _arm(d).update(skill=""), 'arms[0].skill: "" is not a skill name'),
    ("forecast median NaN", lambda d: _r(2)(d).update(forecast=_forecast(median=float("nan"))),
     "arms[0].rungs[2].forecast.n_target.median: NaN is not a finite number"),
    ("forecast hi80 inf", lambda d: _r(2)(d).update(forecast=_forecast(hi80=float("inf"))),
     "arms[0].rungs[2].forecast.n_target.hi80: inf is not a finite number"),
    ("forecast lo80 a string", lambda d: _r(3)(d).update(forecast=_forecast(lo80="60")),
     'arms[0].rungs[3].forecast.n_target.lo80: "60" is not a number'),
    ("forecast median a boolean", lambda d: _r(3)(d).update(forecast=_forecast(median=True)),
     "arms[0].rungs[3].forecast.n_target.median: true is not a number"),
    ("fit's gain NaN", lambda d: _arm(d).update(fit={"gain_next_doubling": {"mean": float("nan")}}),
     "arms[0].fit.gain_next_doubling.mean: NaN is not a finite number"),
    ("stop reason unknown", lambda d: _arm(d).update(stop={"reason": "bogus", "n": 160}),
     'arms[0].stop.reason: "bogus" is not a stop reason (target-reached'),
    ("stop reason a number", lambda d: _arm(d).update(stop={"reason": 3}), "arms[0].stop.reason: 3 is not a stop reason"),
    ("a recommendation's stop reason", lambda d: d.update(recommendations=[{"skill": "add", "stop_reason": "tired"}]),
     'recommendations[0].stop_reason: "tired" is not a stop reason'),
    ("reached_at a word", lambda d: _arm(d).update(reached_at="forty"), 'arms[0].reached_at: "forty" is not a size'),
    ("reached_at a boolean", lambda d: _arm(d).update(reached_at=True), "arms[0].reached_at: true is not a size"),
    ("reached_at fractional", lambda d: _arm(d).update(reached_at=40.5), "arms[0].reached_at: 40.5 is not a size"),
    ("stop's reached_at negative", lambda d: _arm(d).update(stop={"reason": "target-reached", "reached_at": -40}),
     "arms[0].stop.reached_at: -40 is not a size"),
    ("base missing", lambda d: _arm(d).pop("base"), "arms[0].base: missing (the score before any data"),
    ("samples a string", lambda d: _r(0)(d).update(samples="runs/abc/samples.jsonl"),
     "arms[0].rungs[0].samples: expected a list of paths, got a string"),
    ("samples empty text", lambda d: _r(0)(d).update(samples=[""]), 'arms[0].rungs[0].samples[0]: "" is outside'),
    ("run_dirs escaping", lambda d: _r(1)(d).update(run_dirs=["../../../x"]),
     'arms[0].rungs[1].run_dirs[0]: "../../../x" is outside the ladder\'s directory'),
    ("run_dirs absolute", lambda d: _r(1)(d).update(run_dirs=["/tmp"]),
     'arms[0].rungs[1].run_dirs[0]: "/tmp" is outside the ladder\'s directory'),
    # a second audit: the sizes, times and names a reader prints
    ("flops a word", lambda d: _r(0)(d).update(flops="many"), 'arms[0].rungs[0].flops: "many" is not a number ≥ 0'),
    ("seconds negative", lambda d: _r(0)(d).update(seconds=-5), "arms[0].rungs[0].seconds: -5 is not a number ≥ 0"),
    ("lora_r a word", lambda d: _arm(d).update(lora_r="four"), 'arms[0].lora_r: "four" is not a count'),
    ("min_examples negative", lambda d: _arm(d).update(min_examples=-1), "arms[0].min_examples: -1 is not a count"),
    ("train_loss a word", lambda d: _r(0)(d).update(train_loss="low"),
     'arms[0].rungs[0].train_loss: "low" is not a training loss'),
    ("model a number", lambda d: _arm(d).update(model=5), "arms[0].model: 5 is not a model"),
    # a third audit: the settings a reader shows and refits with
    ("config growth 1", lambda d: d["config"].update(growth=1), "config.growth: 1 is not a rung-to-rung growth"),
    ("config skills a string", lambda d: d["config"].update(skills="add"), 'config.skills: "add" is not a list'),
    # a fourth audit: a field every reader relies on, deleted or made null
    ("an arm without rungs", lambda d: _arm(d).pop("rungs"), "arms[0].rungs: missing (the arm's measured rungs)"),
    ("config target null", lambda d: d["config"].update(target=None), "config.target: null; a ladder's target"),
    ("config eval_n null", lambda d: d["config"].update(eval_n=None), "config.eval_n: null; a ladder's eval_n"),
]


def _write(docs, doc) -> Path:
    f = docs / "climbs" / "a" / "ladder.json"
    f.write_text(json.dumps(doc))
    return f


def _all_refuse(docs, f, says, out):
    refused(["report", docs], f"{f}: {says}", docs / "report.html", docs / "report.html.tmp")
    refused(["compare", "--climb", f.parent, "--prefs", docs / "prefs", "--output-dir", out], f"{f}: {says}", out)
    refused(["fit", f, "--output-dir", out], f"{f}: {says}", out)


@no_model_loads
@pytest.mark.parametrize("what, edit, says", LADDER_EDITS, ids=[e[0] for e in LADDER_EDITS])
def test_an_edited_ladder_json_is_refused_by_fit_compare_and_report(docs, tmp_path, what, edit, says):
    doc = _ladder()
    edit(doc)
    _all_refuse(docs, _write(docs, doc), says, tmp_path / "out")


def _secret(tmp_path) -> Path:
    s = tmp_path / "elsewhere" / "secret.jsonl"
    s.parent.mkdir()
    s.write_text(json.dumps({"skill": "add", "format": "exam", "prompt": "SECRET-MARKER", "completion": "x",
                             "answer": "x", "ok": True}) + "\n")
    return s


LINKS = [  # (what, the link made under the ladder's directory → where, the rung's samples or run_dirs, the error)
    ("a samples file linking out", ("runs/esc.jsonl", "{secret}"), {"samples": ["runs/esc.jsonl"]},
     'samples[0]: "runs/esc.jsonl" leads outside the ladder\'s directory (through a symbolic link, to {secret}'),
    ("the runs folder linking out", ("runs2", "{out}"), {"samples": ["runs2/secret.jsonl"]},
     'samples[0]: "runs2/secret.jsonl" leads outside the ladder\'s directory'),
    ("a dangling link out", ("runs/gone.jsonl", "{out}/gone.jsonl"), {"samples": ["runs/gone.jsonl"]},
     'samples[0]: "runs/gone.jsonl" leads outside'),
    ("a run directory linking out", ("runs/key", "{out}"), {"run_dirs": ["runs/key"]},
     'run_dirs[0]: "runs/key" leads outside the ladder\'s directory'),
    ("a link out and back in", ("runs/back", "{out}/../study/climbs/a/runs/abc"), {"samples": ["runs/back/samples.jsonl"]},
     None),  # resolves inside: fine
    ("a link loop inside", ("runs/loop", "loop"), {"samples": ["runs/loop"]}, None),  # no such file: read as none
]


@no_model_loads
@pytest.mark.parametrize("what, link, paths, says", LINKS, ids=[e[0] for e in LINKS])
def test_a_path_that_leaves_the_run_through_a_link_is_refused(docs, tmp_path, what, link, paths, says):
    secret = _secret(tmp_path)
    fill = {"secret": secret, "out": secret.parent}
    lad = docs / "climbs" / "a"
    os.symlink(link[1].format(**fill), lad / link[0])
    doc = _ladder()
    doc["arms"][0]["rungs"][0].update(paths)
    f = _write(docs, doc)
    out = tmp_path / "out"
    if says is None:  # a valid document: still read
        from dataladder.core.results import read_result

        assert read_result(f)["arms"][0]["rungs"][0] == {**_ladder()["arms"][0]["rungs"][0], **paths}
        return
    _all_refuse(docs, f, "arms[0].rungs[0]." + says.format(**fill), out)
    assert not any("SECRET-MARKER" in p.read_text(errors="replace") for p in docs.rglob("*.html"))


def test_the_report_samples_table_never_reads_outside_its_ladder(tmp_path):
    """The second lock (report/samples.py): a path that resolves outside is not read even if it got past."""
    from dataladder.report.samples import samples_section

    secret = _secret(tmp_path)
    lad = tmp_path / "lad"
    (lad / "runs").mkdir(parents=True)
    os.symlink(secret, lad / "runs" / "s.jsonl")
    (lad / "runs" / "ok.jsonl").write_text(secret.read_text().replace("SECRET-MARKER", "inside"))
    arm = {"skill": "add", "label": "full", "target_format": "exam",
           "rungs": [{**_rung(20, 0.3), "samples": ["runs/s.jsonl"]}]}
    assert samples_section(lad, {"arms": [arm]}) == ""
    os.symlink("loop.jsonl", lad / "runs" / "loop.jsonl")  # a link loop inside: nothing to show, no traceback
    arm["rungs"][0]["samples"] = ["runs/loop.jsonl"]
    assert samples_section(lad, {"arms": [arm]}) == ""
    arm["rungs"][0]["samples"] = ["runs/ok.jsonl"]
    assert "inside" in samples_section(lad, {"arms": [arm]})


def test_a_valid_ladder_with_paths_inside_is_still_read(docs, tmp_path):
    os.symlink("abc", docs / "climbs" / "a" / "runs" / "alias")  # a link that stays inside: fine
    doc = _ladder()
    doc["arms"][0]["rungs"][0].update(samples=["runs/alias/samples.jsonl"], run_dirs=["runs/abc"],
                                      forecast=None)
    doc["arms"][0]["rungs"][3]["forecast"] = _forecast(hi80=None)
    doc["arms"][0].update(stop={"reason": "budget-exhausted", "reached_at": None}, reached_at=None)
    f = _write(docs, doc)
    from typer.testing import CliRunner

    from dataladder.cli.main import app

    for args in (["fit", f, "--output-dir", tmp_path / "fit"],
                 ["compare", "--climb", f.parent, "--prefs", docs / "prefs", "--output-dir", tmp_path / "cmp"]):
        r = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})
        assert r.exit_code == 0, (args, r.output)


def test_every_stop_reason_the_code_writes_is_one_the_validator_knows():
    from dataladder.core.results import NAMES
    from dataladder.forecast.stop import UNSTABLE
    import dataladder.ladder.kinds  # noqa: F401  (registers the reasons)

    src = "".join(p.read_text() for d in ("forecast", "ladder") for p in (ROOT / "dataladder" / d).glob("*.py"))
    written = set(re.findall(r'Decision\(True, "([a-z-]+)"', src)) | set(re.findall(r'\.reason = "([a-z-]+)"', src))
    assert {"target-reached", "budget-exhausted", "data-exhausted"} <= written
    assert written | {UNSTABLE} <= set(NAMES["stop_reasons"])


# ---- other documents: prefs, dpo, probe, a reward model's dataladder.json -------------------------------------

def _dpo():
    return {"config": {"skill": "add", "max_pairs": 160}, "model": "tiny-arith", "skill": "add", "kind": "dpo",
            "unit": "pairs", "label": "DPO full", "base": {"accuracy": 0.1, "correct": 10, "total": 100,
                                                             "ci_low": 0.05, "ci_high": 0.17},
            "rungs": [_rung(20, 0.2), _rung(40, 0.3), _rung(80, 0.4)]}


def _probe(**band):
    return {"model": "tiny-arith", "skills": {"add": {"diagnosis": "format-gap", "formats": {"exam": {
        "accuracy": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n": 10, "correct": 5}},
        "data_band": {"label": "tens of examples", "low": 10, "high": 100, **band}}}}


def _study_with(docs, name, doc) -> Path:
    (docs / "climbs" / "a" / "ladder.json").write_text(json.dumps(_ladder()))
    f = docs / name
    f.parent.mkdir(exist_ok=True)
    f.write_text(json.dumps(doc))
    return f


PROBE_EDITS = [  # (what, the probe.json, the error): report reads it, and so does synth --probe
    ("data band crossed", _probe(low=100, high=10), "skills.add.data_band.high: 10 is below low (100)"),
    ("data band low negative", _probe(low=-5), "skills.add.data_band.low: -5 is not a data size"),
    ("data band high a word", _probe(high="lots"), 'skills.add.data_band.high: "lots" is not a data size'),
    ("data band a list", {"skills": {"add": {**_probe()["skills"]["add"], "data_band": [10, 100]}}},
     "skills.add.data_band: expected a data band (an object"),
    ("accuracy a boolean", {"skills": {"add": {"formats": {"exam": {
        "accuracy": True, "ci_low": 0.4, "ci_high": 0.6, "n": 10, "correct": 5}}}}},
     "skills.add.formats.exam.accuracy: true is not a number"),
    ("data band null", {"skills": {"add": {**_probe()["skills"]["add"], "data_band": None}}},
     "skills.add.data_band: null; the probe writes a data band"),
    ("diagnosis null", {"skills": {"add": {**_probe()["skills"]["add"], "diagnosis": None}}},
     "skills.add.diagnosis: null; the probe writes a diagnosis"),
    ("partial above mastered", {**_probe(), "partial_at": 0.9, "mastered_at": 0.8},
     "partial_at: 0.9 is above mastered_at (0.8)"),
    ("a target format it was not scored in", {"skills": {"add": {**_probe()["skills"]["add"], "target_format": "x"}}},
     'skills.add.target_format: "x" is none of the formats it was scored in (exam)'),
]


@no_model_loads
@pytest.mark.parametrize("what, doc, says", PROBE_EDITS, ids=[e[0] for e in PROBE_EDITS])
def test_report_and_synth_read_a_probe_through_the_validator(docs, tmp_path, what, doc, says):
    f = _study_with(docs, "probe/probe.json", doc)
    refused(["report", docs], f"{f}: {says}", docs / "report.html")
    out = tmp_path / "o" / "x.jsonl"
    refused(["synth", "--skill", "add", "--n", "3", "--source", "self", "--model", "tiny-arith", "--probe", f,
             "--output", out], f"{f}: {says}", out.parent)
    from dataladder.data.synth import SynthConfig
    from dataladder.core.errors import InputError

    with pytest.raises(InputError, match=re.escape(says)):
        SynthConfig(skill="add", n=3, source="self", model="tiny-arith", probe=str(f))


def test_a_valid_probe_is_still_read_by_synth(docs):
    from dataladder.data.synth import SynthConfig, probe_accuracy

    f = _study_with(docs, "probe/probe.json", _probe(high=None))
    SynthConfig(skill="add", n=3, source="self", model="tiny-arith", probe=str(f))
    assert probe_accuracy(f, "add", "exam")["accuracy"] == 0.5


OTHER_EDITS = [  # (what, option, document, edit, the error): compare reads it
    ("dpo.json without base", "--dpo", "dpo.json", _dpo, lambda d: d.pop("base") and None, "dpo.json: base: missing"),
    ("dpo.json that is only a base", "--dpo", "dpo.json", _dpo, lambda d: d["base"],
     "dpo.json: not a dpo.json as dataladder writes it: none of kind, unit, rungs is here (it holds accuracy"),
    ("prefs.json skill against its config", "--prefs", "prefs.json", _prefs, lambda d: d.update(skill="div"),
     'prefs.json: skill: "div", but config.skill is "mul"'),
    ("dpo.json skill against its config", "--dpo", "dpo.json", _dpo, lambda d: d["config"].update(skill="mul"),
     'dpo.json: skill: "add", but config.skill is "mul"'),
    ("dpo.json stop reason unknown", "--dpo", "dpo.json", _dpo, lambda d: d.update(stop={"reason": "bored"}),
     'dpo.json: stop.reason: "bored" is not a stop reason'),
]


@no_model_loads
@pytest.mark.parametrize("what, option, name, make, edit, says", OTHER_EDITS, ids=[e[0] for e in OTHER_EDITS])
def test_compare_refuses_an_edited_document_naming_the_field(docs, tmp_path, what, option, name, make,
                                                              edit, says):
    doc = make()
    doc = edit(doc) or doc
    d = tmp_path / "other"
    d.mkdir()
    (d / name).write_text(json.dumps(doc))
    _write(docs, _ladder())
    out = tmp_path / "out"
    refused(["compare", "--climb", docs / "climbs" / "a", option, d, "--output-dir", out], f"{d / name}: " +
            says.split(": ", 1)[1], out)


@no_model_loads
def test_rm_policy_refuses_a_prefs_json_whose_skill_disagrees_with_its_config(docs, tmp_path):
    doc = _prefs()
    doc["skill"] = "div"
    (docs / "prefs" / "prefs.json").write_text(json.dumps(doc))
    out = tmp_path / "rm"
    refused(["rm-policy", "--prefs", docs / "prefs", "--output-dir", out],
            ["--prefs", 'prefs.json: skill: "div", but config.skill is "mul"'], out)


@no_model_loads
def test_compare_names_the_option_of_a_ladder_given_twice_or_missing(docs, tmp_path):
    f = _write(docs, _ladder())
    lad, out = f.parent, tmp_path / "out"
    refused(["compare", "--climb", lad, "--ladder", f, "--output-dir", out],
            f"--climb {lad} and --ladder {f}: the same ladder twice", out)
    refused(["compare", "--climb", lad, "--prefs", docs / "prefs", "--ladder", docs / "prefs" / "prefs.json",
             "--output-dir", out], f"--prefs {docs / 'prefs'} and --ladder {docs / 'prefs' / 'prefs.json'}: the same "
            "ladder twice", out)
    empty = tmp_path / "empty"
    empty.mkdir()
    os.symlink(empty, tmp_path / "link")
    refused(["compare", "--climb", tmp_path / "link", "--prefs", docs / "prefs", "--output-dir", out],
            f"--climb {tmp_path / 'link'}: no ladder.json here (run `dataladder climb` first", out)
    refused(["compare", "--climb", lad, "--dpo", empty, "--output-dir", out],
            f"--dpo {empty}: no dpo.json here (run `dataladder dpo` first", out)
    refused(["compare", "--ladder", f, "--prefs", docs / "prefs", "--output-dir", out],
            f"{f}: a climb's ladder.json (its ladders are its arms, not one ladder); give it as --climb", out)


META = [  # (what, the reward model's dataladder.json text, the error): rl refuses it before any model loads
    ("not JSON", "{oops", "dataladder.json:1: not a valid JSON document"),
    ("a list", "[1, 2]", "dataladder.json: expected a JSON object"),
    ("skill a number", json.dumps({"skill": 5, "format": None, "pairs": 50, "seed": 0}),
     "dataladder.json: skill: 5 is not a skill name"),
    ("skill a boolean", json.dumps({"skill": True}), "dataladder.json: skill: true is not a skill name"),
    ("format a number", json.dumps({"skill": "mul", "format": 3}), "dataladder.json: format: 3 is not a format name"),
    ("pairs a word", json.dumps({"skill": "mul", "pairs": "many"}), 'dataladder.json: pairs: "many" is not a count'),
    ("seed a boolean", json.dumps({"skill": "mul", "seed": False}), "dataladder.json: seed: false is not a count"),
]


def _reward_model(tmp_path, meta: str | None) -> Path:
    d = tmp_path / "reward_model"
    d.mkdir()
    (d / "config.json").write_text('{"model_type": "llama"}')
    (d / "tokenizer.json").write_text("{}")
    (d / "model.safetensors").write_bytes(b"")  # the files a model directory holds (their contents are not read here)
    if meta is not None:
        (d / "dataladder.json").write_text(meta)
    return d


@no_model_loads
@pytest.mark.parametrize("what, meta, says", META, ids=[e[0] for e in META])
def test_rl_refuses_a_reward_models_bad_dataladder_json_before_any_model(tmp_path, what, meta, says):
    d = _reward_model(tmp_path, meta)
    out = tmp_path / "out"
    refused(["rl", "--reward-model", d, "--output-dir", out], [f"--reward-model {d}: {d}/{says}"], out)


def test_rl_reads_a_valid_dataladder_json_or_none(tmp_path):
    from dataladder.ladder.rl import check_config, reward_model_format
    from dataladder.ladder.rl_config import RLConfig

    d = _reward_model(tmp_path, json.dumps({"skill": "mul", "format": "exam", "pairs": 100, "seed": 0}))
    check_config(RLConfig(reward_model=str(d)))
    assert reward_model_format(str(d)) == "exam"
    (d / "dataladder.json").unlink()  # a reward model from elsewhere: nothing recorded, nothing refused
    check_config(RLConfig(reward_model=str(d)))
    assert reward_model_format(str(d)) is None
    (d / "dataladder.json").mkdir()
    with pytest.raises(ValueError, match="dataladder.json: is a directory"):
        check_config(RLConfig(reward_model=str(d)))
    (d / "dataladder.json").rmdir()
    (d / "model.safetensors").unlink()  # a copy without its weights: refused before the policy loads, not 20 s on
    with pytest.raises(ValueError, match=f"--reward-model {d}: no weights in"):
        check_config(RLConfig(reward_model=str(d)))


# ---- report's output: checked before the page is built, never a .tmp left --------------------------------------

def _leftovers(docs) -> list[str]:
    return sorted(p.name for p in docs.iterdir() if p.name.startswith("report"))


@no_model_loads
def test_report_refuses_a_directory_where_its_page_goes(docs):
    _write(docs, _ladder())
    (docs / "report.html").mkdir()
    refused(["report", docs], f"{docs / 'report.html'}: is a directory", docs / "report.html.tmp")
    (docs / "report.html").rmdir()
    (docs / "report.html.tmp").mkdir()
    refused(["report", docs], f"{docs / 'report.html.tmp'}: is a directory", docs / "report.html")


@pytest.mark.parametrize("why", ["a read-only file system", "no write permission"])
def test_report_refuses_a_study_it_cannot_write_in_before_building(docs, monkeypatch, why):
    import dataladder.report.html as html

    _write(docs, _ladder())
    monkeypatch.setattr(html, "_page", lambda *a: pytest.fail("the page was built before the output was checked"))
    if why == "no write permission":
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **k: False if Path(p) == docs and mode & os.W_OK
                            else real(p, mode, **k))
    else:
        real_statvfs = os.statvfs

        class ReadOnly:
            f_flag = os.ST_RDONLY

        monkeypatch.setattr(os, "statvfs", lambda p: ReadOnly() if Path(p) == docs else real_statvfs(p))
    refused(["report", docs], f"{docs}: cannot write report.html here ({why})")
    assert _leftovers(docs) == []


def test_a_report_that_fails_to_write_leaves_no_tmp(docs, monkeypatch):
    import errno

    import dataladder.report.html as html

    _write(docs, _ladder())
    monkeypatch.setattr(html, "_page", lambda *a: "<html>\ud800 a lone surrogate in a label</html>")

    def full(self, target):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    replace = Path.replace
    monkeypatch.setattr(Path, "replace", full)
    refused(["report", docs], f"{docs / 'report.html'}: cannot be written (No space left on device)")
    assert _leftovers(docs) == []
    monkeypatch.setattr(Path, "replace", replace)
    monkeypatch.setattr(html, "_page", lambda *a: "<html>\ud800</html>")
    assert html.build_report(docs).read_bytes() == b"<html>?</html>"  # written whole; the surrogate as '?'
    assert _leftovers(docs) == ["report.html"]


# ---- real documents from a tiny run: still read, and the link escape refused on them ---------------------------

@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """A study from tiny runs: climbs/add (a real ladder.json, its run store and samples) and probe/probe.json."""
    from typer.testing import CliRunner

    from dataladder.cli.main import app

    run = tmp_path_factory.mktemp("real") / "study"
    for args in (["probe", "--skill", "add", "--n", "10", "--output-dir", run / "probe"],
                 ["climb", "--skill", "add", "--budget", "40", "--seeds", "1", "--eval-n", "10", "--min-rungs", "2",
                  "--output-dir", run / "climbs" / "add"]):
        r = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})
        assert r.exit_code == 0, (args, r.output)
    (run / "prefs").mkdir()
    (run / "prefs" / "prefs.json").write_text(json.dumps(_prefs()))
    return run


@pytest.mark.integration  # two tiny training runs: a few seconds
def test_real_documents_are_read_and_a_link_out_of_them_refused(real, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from dataladder.cli.main import app

    study = tmp_path / "study"
    shutil.copytree(real, study, symlinks=True)
    f = study / "climbs" / "add" / "ladder.json"
    for args in (["fit", f, "--output-dir", tmp_path / "fit"], ["report", study],
                 ["compare", "--climb", f.parent, "--prefs", study / "prefs", "--output-dir", tmp_path / "cmp"]):
        r = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})
        assert r.exit_code == 0, (args, r.output)
    page = (study / "report.html").read_text()
    assert "Samples of the worst rungs" in page
    (study / "report.html").unlink()
    doc = json.loads(f.read_text())
    rung = next(r for r in doc["arms"][0]["rungs"] if r.get("samples"))
    secret = _secret(tmp_path)
    target = f.parent / rung["samples"][0]
    target.unlink()
    os.symlink(secret, target)  # the path the document names is unchanged; the file behind it now lies outside
    i = doc["arms"][0]["rungs"].index(rung)
    _all_refuse(study, f, f"arms[0].rungs[{i}].samples[0]: {json.dumps(rung['samples'][0])} leads outside",
                tmp_path / "out")
    assert not (study / "report.html").exists()


@no_model_loads
def test_a_studys_document_that_links_out_or_to_nothing_is_named(docs, tmp_path):
    """report reads a study's own documents: a climb linked in from another run, or a probe.json linked to nothing,
    is one line naming it (not rendered, not skipped)."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "ladder.json").write_text(json.dumps(_ladder()))
    (docs / "climbs" / "a" / "ladder.json").write_text(json.dumps(_ladder()))
    (docs / "climbs" / "b").symlink_to(other)
    refused(["report", docs], [f"{docs / 'climbs' / 'b' / 'ladder.json'}: leads outside the study"],
            docs / "report.html")
    (docs / "climbs" / "b").unlink()
    (docs / "probe").mkdir(exist_ok=True)
    (docs / "probe" / "probe.json").symlink_to(tmp_path / "gone.json")
    refused(["report", docs], [f"{docs / 'probe' / 'probe.json'}: is a link to", "which does not exist"],
            docs / "report.html")



@no_model_loads
@pytest.mark.parametrize("opts, says", [(["--direction", "lower"], "--direction lower contradicts the result document"),
                                        (["--bounds", "none"], "--bounds none contradicts the result document")])
def test_fit_refuses_options_that_contradict_a_result_documents_accuracies(docs, tmp_path, opts, says):
    """A ladder's scores are accuracies: fit with --direction lower or --bounds none would forecast past 1 or call
    its rise a fall; one line names the option and the file. The options that agree with it are still taken."""
    f = _write(docs, _ladder())
    refused(["fit", f, *opts, "--output-dir", tmp_path / "out"], [f"{f}: ", says], tmp_path / "out")
    from typer.testing import CliRunner

    from dataladder.cli.main import app

    r = CliRunner().invoke(app, [str(a) for a in ["fit", f, "--direction", "higher", "--bounds", "0,1", "--output-dir",
                                                  tmp_path / "ok"]], env={"COLUMNS": "400"})
    assert r.exit_code == 0 and (tmp_path / "ok" / "fit.json").is_file(), r.output


@no_model_loads
def test_a_field_report_reads_but_the_validator_does_not_check_names_its_file_and_key(docs):
    """Past the validator, a key the report's sections read and do not find is named with the document that
    lacks it (each document's section under its own file), not the study's directory."""
    doc = _ladder()
    _arm(doc).pop("label")
    f = _write(docs, doc)
    refused(["report", docs], [f"{f}: ", "no field 'label'"], docs / "report.html")
    f.write_text(json.dumps(_ladder()))
    p = _study_with(docs, "probe/probe.json", _probe())  # no probe writes one without mastered_at
    refused(["report", docs], [f"{p}: ", "no field 'mastered_at'"], docs / "report.html")
