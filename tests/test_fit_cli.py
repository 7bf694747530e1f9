"""`dataladder fit POINTS`: forecasts from the user's own rungs, against curves whose truth is known; every file
format read alike; bad input one line, exit code 2, nothing written. CPU only, no torch."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from dataladder.cli.main import app

runner = CliRunner()
ENV = {"COLUMNS": "400"}
TRUE_N = math.exp((math.log(9) + 3.0) / 0.7)  # where acc(n) = 0.9


def acc(n):
    return 1 / (1 + math.exp(-(-3.0 + 0.7 * math.log(n))))  # logistic in log n


def loss(n):
    return 5.0 * n ** -0.3


def _acc_rows(seed=1):
    rng = np.random.default_rng(seed)
    return [{"n": n, "seed": s, "value": rng.binomial(400, acc(n)) / 400, "eval_n": 400}
            for n in (20, 40, 80, 160, 320, 640) for s in range(2)]


def _write_csv(path, rows, newline="\n", bom=False):
    cols = list(rows[0])
    text = newline.join([",".join(cols)] + [",".join(str(r[c]) for c in cols) for r in rows]) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def _fit(*args):
    r = runner.invoke(app, ["fit", *map(str, args)], env=ENV)
    return r


def _doc(out):
    return json.loads((out / "fit.json").read_text())


def test_accuracy_curve_interval_covers_the_true_size(tmp_path):
    pts = _write_csv(tmp_path / "acc.csv", _acc_rows())
    out = tmp_path / "out"
    r = _fit(pts, "--target", "0.9", "--budget", "2000", "--at", "5000", "--output-dir", out)
    assert r.exit_code == 0, r.output
    assert "n for value ≥ 0.9:" in r.output and "P(≤ budget 2,000)" in r.output and "verdict:" in r.output
    doc = _doc(out)
    assert doc["bounds"] == [0.0, 1.0] and doc["target"] == 0.9 and doc["version"] == 1
    (c,) = doc["curves"]
    nt = c["n_target"]
    assert nt["hi80"] is not None and nt["lo80"] <= TRUE_N <= nt["hi80"]
    assert 0 < c["p_within_budget"] < 1 and c["p_reachable"] > 0.8
    assert [a["n"] for a in c["at"]] == [5000]
    assert c["verdict"]["rule"] == "continue" and c["noise"]["from"] == "binomial"
    assert [r["n"] for r in c["rungs"]] == [20, 40, 80, 160, 320, 640] and len(c["rungs"][0]["points"]) == 2
    assert c["curve"]["n"][0] == 10 and c["curve"]["n"][-1] >= 16 * 640
    assert (out / "fit.png").stat().st_size > 1000


def test_loss_curve_band_at_16x_covers_the_truth(tmp_path):
    rng = np.random.default_rng(3)
    rows = [{"n": n, "value": loss(n) * (1 + 0.02 * rng.normal()), "seed": s}
            for n in (16, 32, 64, 128, 256, 512) for s in range(2)]
    pts = tmp_path / "loss.jsonl"
    pts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    r = _fit(pts, "--direction", "lower", "--target", "1.2", "--output-dir", out)
    assert r.exit_code == 0, r.output
    doc = _doc(out)
    (c,) = doc["curves"]
    assert doc["bounds"] is None and c["link"] == "log"
    big = next(a for a in c["at"] if a["n"] == 16 * 512)
    assert big["lo80"] <= loss(16 * 512) <= big["hi80"]
    assert c["gain_next_doubling"]["mean"] > 0  # lower is better: a falling loss is a gain
    assert "n for value ≤ 1.2" in r.output


def test_two_curves_in_one_file_give_two_results(tmp_path):
    rows = [{"curve": name, "n": n, "value": round(acc(n * k), 3), "eval_n": 500}
            for name, k in (("base", 1), ("bigger", 4)) for n in (20, 40, 80, 160)]
    out = tmp_path / "out"
    r = _fit(_write_csv(tmp_path / "two.csv", rows), "--target", "0.9", "--output-dir", out)
    assert r.exit_code == 0, r.output
    names = [c["name"] for c in _doc(out)["curves"]]
    assert names == ["base", "bigger"]
    med = [c["n_target"]["median"] for c in _doc(out)["curves"]]
    assert med[1] < med[0]


def test_parquet_and_bom_crlf_read_like_plain_csv(tmp_path):
    from dataladder.forecast import read_points, summarize

    rows = _acc_rows()
    plain = _write_csv(tmp_path / "plain.csv", rows)
    bom = _write_csv(tmp_path / "bom.csv", rows, newline="\r\n", bom=True)
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r) + "\r\n" for r in rows).encode())
    arr = tmp_path / "rows.json"
    arr.write_text(json.dumps(rows, indent=1))
    import pyarrow as pa  # a dependency of datasets, so always here
    import pyarrow.parquet as pq

    parquet = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    ref = summarize(read_points(plain), target=0.9)["curves"]
    for f in (bom, jsonl, arr, parquet):
        got = summarize(read_points(f), target=0.9)["curves"]
        assert got == ref, f


def test_single_rung_answers_with_a_wide_interval(tmp_path):
    out = tmp_path / "out"
    rows = [{"n": 50, "value": 0.6, "eval_n": 200}]
    r = _fit(_write_csv(tmp_path / "one.csv", rows), "--target", "0.9", "--output-dir", out)
    assert r.exit_code == 0, r.output
    (c,) = _doc(out)["curves"]
    nt = c["n_target"]
    assert nt["hi80"] is None or nt["hi80"] / nt["lo80"] > 10
    assert c["verdict"]["rule"] == "continue" and c["notes"]


def test_ladder_json_is_read_per_seed_with_its_target(tmp_path):
    def rung(n, seeds):
        correct = sum(round(a * 100) for a in seeds)
        return {"n": n, "accuracy": correct / (100 * len(seeds)), "correct": correct, "total": 100 * len(seeds),
                "seeds": [{"seed": i, "accuracy": a} for i, a in enumerate(seeds)]}

    doc = {"config": {"target": 0.8, "delta": 0.01, "max_examples": 5120},
           "arms": [{"model": "tiny-arith", "skill": "add", "label": "full", "base": {"accuracy": 0.1},
                     "rungs": [rung(20, [0.3, 0.34]), rung(40, [0.45, 0.41]), rung(80, [0.6, 0.58]),
                               rung(160, [0.7, 0.72])]}]}
    path = tmp_path / "ladder.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    r = _fit(path, "--output-dir", out)
    assert r.exit_code == 0, r.output
    fit = _doc(out)
    assert fit["target"] == 0.8 and fit["kind"] == "ladder" and fit["delta"] == 0.01 and fit["bounds"] == [0, 1]
    (c,) = fit["curves"]
    assert c["name"] == "add · full" and c["rungs"][0]["points"] == [0.3, 0.34] and c["rungs"][0]["eval_n"] == 200
    assert "examples for accuracy ≥ 0.8" in r.output


def test_rl_json_skips_the_base_rung(tmp_path):
    rungs = [{"rollouts": 0, "correct": 30, "total": 200}] + [
        {"rollouts": 1024 * 2 ** k, "correct": 40 + 15 * k, "total": 200} for k in range(3)]
    path = tmp_path / "rl.json"
    path.write_text(json.dumps({"config": {"target": 0.8}, "metric": "greedy accuracy",
                                "arms": [{"label": "verifier", "rungs": rungs}]}))
    from dataladder.forecast import read_points

    pts = read_points(path)
    assert pts.kind == "rl" and pts.curves[0].n == [1024, 2048, 4096] and pts.curves[0].eval_n == [200] * 3


@pytest.fixture
def bad(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "typo.csv").write_text("n,vlaue\n10,0.5\n")
    (d / "nonnum.csv").write_text("n,value\n10,0.5\n20,abc\n")
    (d / "empty.csv").write_text("")
    (d / "small.csv").write_text("n,value\n0,0.5\n")
    (d / "evaln.jsonl").write_text('{"n": 10, "value": 0.5, "eval_n": 2.5}\n')
    (d / "dup.csv").write_text("n,value,N\n10,0.5,3\n")
    (d / "outside.csv").write_text("n,value,eval_n\n10,0.5,100\n20,1.7,100\n")
    (d / "ok.csv").write_text("n,value\n10,0.5\n20,0.6\n")
    (d / "curves.csv").write_text("curves,n,value\na,10,0.5\nb,10,0.3\n")  # would merge two curves into one
    return d


def test_bad_inputs_are_one_line_exit_2_and_write_nothing(bad, tmp_path):
    out = tmp_path / "out"
    ok = bad / "ok.csv"
    cases = [
        ([bad / "typo.csv"], "did you mean 'vlaue'"),
        ([bad / "curves.csv"], "curves.csv:2: column 'curves' is not one fit reads (n, value, seed, eval_n, curve); did you mean 'curve'?"),
        ([bad / "nonnum.csv"], "nonnum.csv:3: field 'value'"),
        ([bad / "empty.csv"], "empty"),
        ([bad / "missing.csv"], "no such file"),
        ([bad], "is a directory"),
        ([bad / "small.csv"], "small.csv:2: field 'n'"),
        ([bad / "evaln.jsonl"], "evaln.jsonl:1: field 'eval_n'"),
        ([bad / "dup.csv"], "appears twice"),
        ([bad / "outside.csv"], "outside.csv:3: field 'value': 1.7 lies outside the bounds 0,1"),
        ([ok, "--bounds", "1,0"], "--bounds 1,0"),
        ([ok, "--bounds", "zero,one"], "--bounds"),
        ([ok, "--bounds", "0,1", "--target", "1.5"], "--target 1.5"),
        ([bad / "outside.csv", "--target", "1.5"], "--target 1.5"),
        ([ok, "--direction", "up"], "--direction up"),
        ([ok, "--delta", "-1"], "--delta -1"),
        ([ok, "--budget", "0"], "--budget 0"),
        ([ok, "--at", "0.5"], "--at 0.5"),
        ([ok, "--output-dir", str(ok)], "is a file"),
    ]
    before = sorted(p.name for p in bad.iterdir())
    for args, msg in cases:
        extra = [] if "--output-dir" in args else ["--output-dir", out]
        r = _fit(*args, *extra)
        lines = [x for x in r.output.splitlines() if x.strip()]
        assert r.exit_code == 2, (args, r.output, r.exception)
        assert len(lines) == 1 and lines[0].startswith("error:") and msg in lines[0], (args, r.output)
        assert not out.exists(), args
        assert sorted(p.name for p in bad.iterdir()) == before, args


def test_fit_never_imports_torch(tmp_path):
    pts = _write_csv(tmp_path / "acc.csv", _acc_rows())
    for args in (["--help"], [str(pts), "--target", "0.9", "--output-dir", str(tmp_path / "o")]):
        r = subprocess.run([sys.executable, "-X", "importtime", "-m", "dataladder.cli.main", "fit", *args],
                           capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr[-2000:]
        mods = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
        assert not {m for m in mods if m.split(".")[0] in ("torch", "transformers", "trl")}, args


def test_library_api(tmp_path):
    import dataladder.forecast as fcast

    pts = fcast.read_points(_write_csv(tmp_path / "acc.csv", _acc_rows()))
    doc = fcast.summarize(pts, target=0.9, at=[1000])
    assert doc["curves"][0]["at"][0]["n"] == 1000 and callable(fcast.forecast)


def test_a_falling_score_without_direction_lower_is_flagged(tmp_path):
    rows = [{"n": n, "value": loss(n), "seed": s} for n in (16, 32, 64, 128) for s in range(2)]
    pts = tmp_path / "loss.jsonl"
    pts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = _fit(pts, "--target", "1.5", "--output-dir", tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert "did you mean --direction lower" in " ".join(_doc(tmp_path / "out")["curves"][0]["notes"])
    r = _fit(pts, "--target", "1.5", "--direction", "lower", "--output-dir", tmp_path / "out2")
    assert not any("did you mean" in n for n in _doc(tmp_path / "out2")["curves"][0]["notes"])


def test_a_target_passed_from_the_first_rung_says_so(tmp_path):
    pts = _write_csv(tmp_path / "pts.csv", _acc_rows())
    r = _fit(pts, "--target", str(acc(20) / 2), "--output-dir", tmp_path / "out")
    assert r.exit_code == 0, r.output
    c = _doc(tmp_path / "out")["curves"][0]
    assert c["n_target"]["median"] == pytest.approx(20) and c["verdict"]["rule"] == "target-reached"
    assert "already reached at the first rung" in " ".join(r.output.split())


def test_the_readme_example_interval_covers_its_truth():
    """configs/examples/points.csv samples 1/(1+exp(-0.8·(ln n − ln 400)))): 0.9 is reached at 6,235."""
    from pathlib import Path

    from dataladder.forecast import read_points, summarize

    doc = summarize(read_points(Path(__file__).parent.parent / "configs/examples/points.csv"), target=0.9)
    nt = doc["curves"][0]["n_target"]
    assert nt["lo80"] <= 6235 <= nt["hi80"]


def _ladder_doc(tmp_path, monkeypatch, scores: dict, items: int, base: tuple[int, int], **rule) -> tuple[dict, object]:
    """A climb's ladder.json from the engine itself, on scripted per-seed scores (no training): {n: (c0, c1)}."""
    from dataladder.ladder.engine import Rule, climb_ladders
    from dataladder.forecast.stop import RungScore
    from dataladder.core.store import RunStore
    from tests.ladder.test_engine import FakeLadder, local

    from dataladder.ladder.kinds import KINDS, Kind

    monkeypatch.setitem(KINDS._items, "fake", Kind("fake", "tests.ladder.test_engine", "", "", "things", "fake", "f.json"))
    from dataladder.core.results import NAMES

    monkeypatch.setitem(NAMES["kinds"], "fake", "things")  # what `register` records for the result validator

    class Scripted(FakeLadder):
        def score(self, rc, result):
            return scores[rc["n"]][rc["seed"]], items

    r = Rule(**{"target": 0.9, "start": min(scores), "growth": 2.0, "budget": max(scores), "n_boot": 200, **rule})
    lad, = climb_ladders([Scripted("lora r=4", "m", {"curve": "never"}, r, RungScore(0, *base))],
                         RunStore(tmp_path / "store"), local())
    doc = {"config": {"target": r.target, "delta": r.delta, "max_examples": r.budget, "min_rungs": r.min_rungs,
                      "n_boot": r.n_boot, "growth": r.growth, "start": r.start},
           "arms": [{"kind": "sft", "model": "m", "skill": "toy", "min_examples": r.min_size, **lad.document()}]}
    path = tmp_path / "ladder.json"
    path.write_text(json.dumps(doc))
    return doc["arms"][0], path


LADDERS = {  # name: (per-seed correct at each n, items per seed, base, rule knobs, the ladder's stop reason)
    "falling": ({10: (16, 16), 20: (15, 15), 40: (15, 15), 80: (13, 13), 160: (13, 13)}, 30, (6, 60), {},
                "not-improving"),
    "rising": ({n: (round(100 * acc(n)), round(100 * acc(n)) + 1) for n in (20, 40, 80, 160)}, 100, (5, 200),
               {"min_rungs": 9}, "budget-exhausted"),
    "levelled": ({20: (20, 20), 40: (62, 62), 80: (62, 62), 160: (62, 62), 320: (62, 62)}, 100, (10, 100), {},
                 "diminishing-returns"),
}


@pytest.mark.parametrize("name", list(LADDERS))
def test_fit_on_a_ladders_document_agrees_with_the_ladder(name, tmp_path, monkeypatch):
    scores, items, base, rule, reason = LADDERS[name]
    arm, path = _ladder_doc(tmp_path, monkeypatch, scores, items, base, **rule)
    assert arm["stop"]["reason"] == reason
    out = tmp_path / "out"
    r = _fit(path, "--output-dir", out)
    assert r.exit_code == 0, r.output
    (c,) = _doc(out)["curves"]
    v = c["verdict"]
    assert v["rule"] == reason and v["decided_as"] == "ladder" and "as the ladder decided" not in v["reason"]
    assert f"verdict: {reason}" in r.output
    assert c["n_target"] == arm["fit"]["n_target"] and c["p_reachable"] == arm["fit"]["p_reachable"]
    assert c["p_within_budget"] == arm["fit"]["p_reach_within_budget"]
    assert c["gain_next_doubling"]["mean"] == arm["fit"]["gain_next_doubling"]["mean"]
    if name == "falling":  # the climb of the bug report: fit said "continue, measure 160" where it had stopped
        assert v["slope_per_doubling"] == arm["stop"]["slope_per_doubling"] < 0 and c["p_reachable"] < 0.2
    if name == "rising":
        assert c["n_target"]["median"] is not None


def test_fit_on_a_ladders_document_with_another_target_decides_anew(tmp_path, monkeypatch):
    scores, items, base, rule, _ = LADDERS["rising"]
    _, path = _ladder_doc(tmp_path, monkeypatch, scores, items, base, **rule)
    r = _fit(path, "--target", "0.5", "--output-dir", tmp_path / "out")
    assert r.exit_code == 0, r.output
    v = _doc(tmp_path / "out")["curves"][0]["verdict"]
    assert v["rule"] == "target-reached" and "as the ladder decided" not in v["reason"]


def test_flat_or_falling_points_say_not_improving(tmp_path):
    vals = {20: 0.52, 40: 0.5, 80: 0.5, 160: 0.44}
    rows = [{"n": n, "seed": s, "value": v, "eval_n": 30} for n, v in vals.items() for s in range(2)]
    out = tmp_path / "out"
    r = _fit(_write_csv(tmp_path / "fall.csv", rows), "--target", "0.9", "--output-dir", out)
    assert r.exit_code == 0, r.output
    (c,) = _doc(out)["curves"]
    assert c["verdict"]["rule"] == "not-improving" and c["verdict"]["slope_per_doubling"] < 0
    assert c["p_reachable"] < 0.2 and c["gain_next_doubling"]["lo80"] < 0 < c["gain_next_doubling"]["hi80"]
