"""compare: synthetic ladder.json / prefs.json / rl.json on one axis, any two of three, bad input."""

import json
import math

import pytest

from dataladder.core.errors import InputError
from dataladder.ladder.compare import compare
from dataladder.core.stats import wilson


def curve(ns, f, total=400, seeds=2):
    rows = []
    for n in ns:
        acc = f(n)
        c = round(acc * total)
        lo, hi = wilson(c, total)
        rows.append({"n": n, "accuracy": c / total, "ci_low": lo, "ci_high": hi, "correct": c, "total": total,
                     "seeds": [{"seed": s, "accuracy": c / total} for s in range(seeds)]})
    return rows


def sat_curve(n):  # +0.1 per decade until 0.9 at 10^3: 10× more gains < 0.02 from about 630 pairs
    return min(0.9, 0.6 + 0.1 * math.log10(n))


@pytest.fixture
def files(tmp_path):
    climb = tmp_path / "climb"
    climb.mkdir()
    (climb / "ladder.json").write_text(json.dumps({
        "config": {"target_format": "exam"},
        "arms": [{"skill": "add", "label": "full", "rungs": curve([20, 40, 80, 160, 320], lambda n: 0.3)},
                 {"skill": "mul", "label": "full", "rungs": curve([20, 40, 80, 160, 320, 640], lambda n: min(0.95, 0.1 + 0.15 * math.log10(n)))}]}))
    prefs = tmp_path / "prefs"
    prefs.mkdir()
    lad = [{"pairs": r["n"], **{k: v for k, v in r.items() if k != "n"}} for r in curve([50, 100, 200, 400, 800, 1600, 3200], sat_curve)]
    (prefs / "prefs.json").write_text(json.dumps({"skill": "mul", "ladder": lad, "saturation": None}))
    rl = tmp_path / "rl"
    rl.mkdir()
    rows = [{"rollouts": r["n"], "accuracy": r["accuracy"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
             "correct": r["correct"], "total": r["total"]}
            for r in curve([64, 128, 256, 512, 1024], lambda n: 0.5 + 0.05 * math.log2(n / 64))]
    (rl / "rl.json").write_text(json.dumps({"config": {"skill": "mul"}, "ladder": rows}))
    return climb, prefs, rl, tmp_path / "out"


@pytest.mark.integration  # bootstrap fits: a few seconds
def test_compare_three_curves(files):
    climb, prefs, rl, out = files
    doc = compare(climb, prefs, rl, out, delta=0.02, n_boot=50)
    saved = json.loads((out / "compare.json").read_text())
    assert saved == json.loads(json.dumps(doc))
    assert (out / "compare.png").stat().st_size > 1000
    kinds = [c["kind"] for c in doc["curves"]]
    assert kinds == ["supervised examples", "preference pairs", "rollouts"]
    sup, pairs, rollouts = doc["curves"]
    assert "mul" in sup["metric"] and len(sup["points"]) == 6  # the arm of the prefs skill
    assert [p["n"] for p in pairs["points"]] == [50, 100, 200, 400, 800, 1600, 3200]
    assert "pairwise accuracy" in pairs["metric"] and "accuracy" in rollouts["metric"]
    for c in doc["curves"]:
        assert c["saturation_from"] == "refit" and c["saturation"] is not None
        assert all(set(p) == {"n", "accuracy", "ci_low", "ci_high"} for p in c["points"])
    # the prefs curve flattens at 10^3 within the measured range (saturation near 630 pairs): its 80% interval
    # covers that, and of the three it is the one forecast to gain least from 10× more and most surely saturates
    sat = pairs["saturation"]
    assert sat["lo80"] <= 630 <= (sat["hi80"] or math.inf)
    gains = [c["saturation"]["gain_10x_at_largest_rung"]["mean"] for c in doc["curves"]]
    assert gains[1] == min(gains) and gains[1] < 0.05
    assert sat["p_saturated"] == max(c["saturation"]["p_saturated"] for c in doc["curves"])


@pytest.mark.integration
def test_compare_any_two_and_file_saturation(files):
    climb, prefs, rl, out = files
    doc = json.loads((prefs / "prefs.json").read_text())
    doc["saturation"] = {"delta": 0.02, "median": 777.0, "lo80": 500.0, "hi80": 900.0}
    (prefs / "prefs.json").write_text(json.dumps(doc))
    got = compare(None, prefs, rl, out, delta=0.02, n_boot=30)
    assert [c["kind"] for c in got["curves"]] == ["preference pairs", "rollouts"]
    assert got["curves"][0]["saturation"]["median"] == 777.0 and got["curves"][0]["saturation_from"] == "file"
    got = compare(climb, None, rl, out, delta=0.02, n_boot=30, skill="add")
    assert "add" in got["curves"][0]["metric"]
    with pytest.raises(ValueError, match="at least two"):
        compare(climb, None, None, out)


def test_compare_bad_input_names_file_and_field(files, tmp_path):
    climb, prefs, rl, out = files
    (rl / "rl.json").write_text(json.dumps({"ladder": [{"rollouts": 64, "accuracy": 0.5}]}))
    with pytest.raises(InputError, match=r"rl.json ladder\[0\].*ci_low"):
        compare(climb, prefs, rl, out)
    with pytest.raises(InputError, match="no prefs.json"):
        compare(climb, tmp_path / "nowhere", None, out)
    (prefs / "prefs.json").write_text("{")
    with pytest.raises(InputError, match="not a valid JSON result file"):  # read through dataladder.core.results
        compare(climb, prefs, None, out)
    assert not (out / "compare.json").exists()  # nothing half-written
