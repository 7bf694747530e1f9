"""The forecast's learned prior (`dataladder/forecast/stack.py`): a curve the line follows keeps its forecast, one
the line missed moves toward the learned median with its spread kept, flat or falling draws are never raised, the
learned rise starts at 0 and never falls, and its fit (bench/fit_forecast_prior.py) is robust and reads only the
calibration split. No lcdb, no torch."""

import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dataladder.forecast import model
from dataladder.forecast.model import Link, forecast
from dataladder.forecast.stack import COEF, learned
from dataladder.forecast.trend import follow, measured_trend
from dataladder.ladder.fit import summarize_fit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

RUNGS = np.repeat([20, 40, 80, 160, 320], 2).astype(float)


def both(monkeypatch, n, y, eval_n=None, trend=False, **kw):
    """The forecast with the learned prior and without it, on the same draws."""
    def one():
        f = forecast(n, y, eval_n, **kw)
        return follow(f, measured_trend(f, n, y, eval_n)) if trend else f
    with_it = one()
    monkeypatch.setattr(model, "STACK", False)
    return with_it, one()


def test_a_curve_the_line_follows_exactly_keeps_its_forecast(monkeypatch):
    y = 1 / (1 + np.exp(-0.8 * (np.log(RUNGS) - math.log(400))))  # a straight line in logit: the line's own family
    on, off = both(monkeypatch, RUNGS, y, np.full(len(y), 500.0), target=0.9)
    assert on.learned is not None and on.learned.gate < 1e-3
    assert np.allclose(on.at(5120), off.at(5120), atol=1e-3)
    assert on.n_target_interval() == pytest.approx(off.n_target_interval(), rel=0.02)


def test_a_curve_the_line_missed_moves_toward_the_learned_median_with_its_spread(monkeypatch):
    """0.75 − 0.6·n^−0.4 levels off below the bound: the line, fitted to the rungs before the last, overshoots it."""
    n = np.repeat([16, 32, 64, 128, 256], 2).astype(float)
    y = np.clip(0.75 - 0.6 * n ** -0.4 + np.random.default_rng(0).normal(0, 0.003, len(n)), 0, 1)
    on, off = both(monkeypatch, n, y)
    lp = on.learned
    assert lp.gate > 0.5 and any("prior learned from real curves" in x for x in on.notes)
    link = on.link
    for h in (4, 16, 32):
        centre = lp.z_last + lp.rise(link, np.array([math.log(h)]))[0]
        z_on, z_off = link.z(on.at(256 * h)), link.z(off.at(256 * h))
        m_on, m_off = np.median(z_on), np.median(z_off)
        assert m_on - m_off == pytest.approx(lp.gate * (centre - m_off), abs=1e-6)  # moved by the gate, toward it
        assert np.quantile(z_on, 0.9) - np.quantile(z_on, 0.1) == pytest.approx(
            np.quantile(z_off, 0.9) - np.quantile(z_off, 0.1), abs=1e-6)  # the spread kept
    within = on.at(200)  # inside the rungs nothing moves
    assert np.array_equal(within, off.at(200))
    doc = summarize_fit(replace(on, target=0.7), 256, 10_000)
    assert doc["model"]["prior_share"] == lp.gate  # the result files say how far


def test_draws_that_follow_a_flat_or_falling_trend_are_never_raised(monkeypatch):
    falling = [(10, 16), (20, 15), (40, 15), (80, 13)]  # per seed of 30 items: 0.533, 0.500, 0.500, 0.433
    n = np.array([r for r, _ in falling for _ in range(2)], float)
    y = np.array([k / 30 for _, k in falling for _ in range(2)])
    on, off = both(monkeypatch, n, y, np.full(len(n), 30.0), trend=True, target=0.9)
    assert on.trend.share == 1 and on.learned.gate > 0
    grid = np.geomspace(81, 80 * 64, 40)
    assert np.all(np.median(on.link.z(np.array([on.at(g) for g in grid])), axis=1)
                  <= np.median(off.link.z(np.array([off.at(g) for g in grid])), axis=1) + 1e-9)
    assert on.p_reachable() <= off.p_reachable()


def test_the_learned_rise_starts_at_zero_never_falls_and_keeps_the_order_asked():
    link = Link("logit", "higher")
    rungs = np.array([16, 32, 64, 128, 256], float)
    for means in ([0.5, 0.6, 0.66, 0.7, 0.72], [0.9, 0.91, 0.95, 0.93, 0.94], [0.1, 0.1, 0.11, 0.2, 0.4]):
        lp = learned(link, rungs, np.array(means), np.full(5, 2.0), 1e-4)
        d = np.linspace(0, math.log(100), 60)
        r = lp.rise(link, d)
        assert r[0] == 0 and np.all(r >= 0) and np.all(np.diff(r) >= 0)
        perm = np.random.default_rng(1).permutation(60)
        assert np.array_equal(lp.rise(link, d[perm]), r[perm])


def test_the_prior_applies_to_bounded_scores_with_four_rungs_or_more_only():
    assert forecast(RUNGS, RUNGS ** -0.3 * 3, direction="lower", bounds=None).learned is None  # a loss
    three = forecast(np.repeat([20, 40, 80], 2), [0.3, 0.31, 0.4, 0.41, 0.5, 0.52])
    assert three.learned is not None and three.learned.gate == 0  # no backtest worth the name with three
    assert COEF.shape == (3, 6)


def test_the_fit_is_robust_to_outliers_and_reads_only_the_calibration_split(monkeypatch):
    fp = pytest.importorskip("fit_forecast_prior")
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=(400, 3)), np.ones(400)])
    beta = np.array([0.5, -0.2, 0.1, 0.3])
    y = X @ beta + rng.normal(0, 0.05, 400)
    y[:40] += rng.choice([-1, 1], 40) * rng.uniform(3, 6, 40)  # one in ten far off
    ols = np.linalg.lstsq(X, y, rcond=None)[0]
    hub = fp.huber(X, y, np.ones(400))
    assert np.abs(hub - beta).max() < 0.03 < np.abs(ols - beta).max()

    case = lambda split: {"split": split, "bounded": True}  # noqa: E731
    monkeypatch.setattr(fp.bf, "lcdb_fixed_cases", lambda: [case("cal"), case("check"), case("check")])
    monkeypatch.setattr(fp.bf, "finetune_fixed_cases", lambda: [case("check"), case("cal")])
    assert [c["split"] for c in fp.calibration_cases()] == ["cal", "cal"]
