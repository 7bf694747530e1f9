"""The forecast's centre past the last rung (`dataladder/forecast/stack.py`).

Shipped, the learned regression (`CENTRE = "learned"`): a curve the line follows keeps its forecast, one the line
missed moves toward the learned median with its spread kept, the learned rise starts at 0 and never falls, its fit
(bench/fit_forecast_prior.py) is robust and reads only the calibration split, and flat or falling draws are never
raised. The candidate the bench measures beside it (`CENTRE = "mix"`): the whole band moves to the mean of a power
law and a logit line fitted to every rung, ramped in over one doubling, its spread kept, the same mean as an
independent fit gives, and a falling curve still says it does not rise. No lcdb, no torch."""

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
LEVELLING = np.repeat([16, 32, 64, 128, 256], 2).astype(float)


def levelling(noise=0.003):
    """0.75 − 0.6·n^−0.4 on LEVELLING's rungs, two seeds each: it levels off below the bound."""
    return np.clip(0.75 - 0.6 * LEVELLING ** -0.4 + np.random.default_rng(0).normal(0, noise, len(LEVELLING)), 0, 1)


def both(monkeypatch, n, y, eval_n=None, trend=False, centre="learned", **kw):
    """The forecast with its centre (`centre`) and without it, on the same draws."""
    def one():
        f = forecast(n, y, eval_n, **kw)
        return follow(f, measured_trend(f, n, y, eval_n)) if trend else f
    monkeypatch.setattr(model, "CENTRE", centre)
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
    on, off = both(monkeypatch, LEVELLING, levelling())
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


def test_the_candidate_centre_is_the_fitted_curves_mean_all_the_way_from_one_doubling(monkeypatch):
    on, off = both(monkeypatch, LEVELLING, levelling(), centre="mix", target=0.7)
    lp, link = on.learned, on.link
    assert lp.centre == "mix" and lp.gate == 1 and any("mean of a power law" in x for x in on.notes)
    for h in (2, 4, 16, 32, 100):
        z_on, z_off = link.z(on.at(256 * h)), link.z(off.at(256 * h))
        assert np.median(z_on) == pytest.approx(lp.mix(link, np.array([math.log(h)]))[0], abs=1e-9)  # all the way
        assert np.quantile(z_on, 0.9) - np.quantile(z_on, 0.1) == pytest.approx(
            np.quantile(z_off, 0.9) - np.quantile(z_off, 0.1), abs=1e-6)  # the spread kept
    half = 256 * math.sqrt(2)  # half a doubling past the last rung: half the way (`stack.RAMP`)
    zh_on, zh_off = np.median(link.z(on.at(half))), np.median(link.z(off.at(half)))
    assert zh_on - zh_off == pytest.approx((lp.mix(link, np.array([math.log(2) / 2]))[0] - zh_off) / 2, abs=1e-6)
    assert np.array_equal(on.at(200), off.at(200))  # inside the rungs nothing moves
    assert summarize_fit(on, 256, 10_000)["model"]["prior_share"] == 1.0
    lo, med, hi = on.n_target_interval()
    grid = np.geomspace(257, 256 * 64, 400)
    first = grid[np.argmax(np.median(on.link.z(np.array([on.at(g) for g in grid])), axis=1) >= link.z(0.7))]
    assert lo <= med <= hi and med == pytest.approx(first, rel=0.1)  # the size for a target moves with the median


def test_the_fitted_curves_mean_agrees_with_an_independent_fit():
    """scipy's least squares of A − B·n^−c and numpy's logit line, on the rung means: their mean 4–32× out."""
    from scipy.optimize import curve_fit
    y = levelling(0.01)
    fc = forecast(LEVELLING, y)
    rungs = np.unique(LEVELLING)
    means = np.array([y[LEVELLING == r].mean() for r in rungs])
    (A, B, c), _ = curve_fit(lambda n, A, B, c: A - B * n ** -c, rungs, means, p0=(0.8, 0.5, 0.3), maxfev=20000)
    u = np.log(means / (1 - means))
    line = np.polyfit(np.log(rungs), u, 1)
    for h in (4, 16, 32):
        n = 256 * h
        mine = float(fc.link.y(fc.learned.mix(fc.link, np.array([math.log(h)]))[0]))
        theirs = (A - B * n ** -c + 1 / (1 + np.exp(-np.polyval(line, math.log(n))))) / 2
        assert mine == pytest.approx(theirs, abs=0.005)


FALLING = [(10, 16), (20, 15), (40, 15), (80, 13)]  # per seed of 30 items: 0.533, 0.500, 0.500, 0.433
FALL_N = np.array([r for r, _ in FALLING for _ in range(2)], float)
FALL_Y = np.array([k / 30 for _, k in FALLING for _ in range(2)])


def test_a_falling_curve_moved_to_the_fitted_curves_still_says_it_does_not_rise(monkeypatch):
    """The real model's falling LoRA climb: the whole band moves to the fitted curves' mean (flat: the power law,
    B ≥ 0, finds no rise; the line falls), so the next doubling's gain is centred near zero and 0.9 stays unlikely."""
    on, _ = both(monkeypatch, FALL_N, FALL_Y, np.full(len(FALL_N), 30.0), trend=True, centre="mix", target=0.9)
    assert on.trend.share == 1 and on.learned.gate == 1
    gain = on.gain_next_doubling(80)
    lo, med, hi = np.quantile(gain, [0.1, 0.5, 0.9])
    assert lo < 0 < hi and abs(med) < 0.05 and on.p_reachable() < 0.25
    assert on.band(80 * 16)[1] <= on.band(80 * 2)[1] <= max(FALL_Y)  # the median never climbs past the rungs


def test_draws_that_follow_a_flat_or_falling_trend_are_never_raised_by_the_learned_centre(monkeypatch):
    n, y = FALL_N, FALL_Y
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


@pytest.mark.parametrize("centre", ["mix", "learned"])
def test_the_prior_applies_to_bounded_scores_with_four_rungs_or_more_only(monkeypatch, centre):
    monkeypatch.setattr(model, "CENTRE", centre)
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
