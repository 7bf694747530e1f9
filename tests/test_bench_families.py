"""bench/bench_families.py: each four-parameter family recovers a curve of its own form, and the report's
ratios are over the best simple baseline."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_families as bfam  # noqa: E402

RUNGS = np.repeat([16.0, 32, 64, 128, 256], 2)
TRUE = {"pow3": [0.9, 0.8, 0.4], "mmf4": [0.1, 0.85, 1.2, np.log(60)], "wbl4": [0.88, 0.6, np.log(0.05), 0.6],
        "pow4": [0.9, 3.0, 0.5, np.log(20)]}


@pytest.mark.parametrize("kind", bfam.LAWS)
def test_a_family_fitted_to_its_own_exact_curve_forecasts_it_16x_out(kind):
    f, _, _, _ = bfam._law(kind)
    p = np.array(TRUE[kind])
    fit = bfam.fit_law(kind, RUNGS, f(p, RUNGS))
    assert abs(float(fit(16 * 256)) - float(f(p, 16 * 256))) < 0.01


def test_the_report_divides_by_the_best_simple_baseline():
    row = {"source": "s", "split": "cal", "backtest": {k: 0.01 for k in (*bfam.LAWS, "line")},
           "at": {4: {"truth": 0.8, "pow3": 0.78, "mmf4": 0.7, "wbl4": 0.9, "pow4": 0.8, "line": 0.75, "last": 0.6}}}
    r = bfam.report([row])["s", "cal", 4]
    assert r["pow3"] == pytest.approx(1.0)  # pow3 is the best of pow3, line and last here (0.02 off)
    assert r["pow4"] == pytest.approx(0.0)
    assert r["mmf4"] == pytest.approx(0.1 / 0.02)
    assert r["mean(pow3, line)"] == pytest.approx(abs(0.765 - 0.8) / 0.02)
