import math

import numpy as np

from dataladder.ladder.fit import fit_curve
from dataladder.core.schedule import sizes
from dataladder.forecast.stop import RungScore, decide, reached_at

M = 400  # pooled eval items per rung


def climb(curve, target, max_examples=5120, min_examples=0, seed=0):
    """Simulate a climb on a known curve; returns (stop reason, last n)."""
    rng = np.random.default_rng(seed)
    base = RungScore(0, int(curve(1) * M), M)
    scores, pts = [], []
    for n in sizes(20, 2, 10**7):
        k = int(rng.binomial(M, curve(n)))
        scores.append(RungScore(n, k, M))
        pts.append((n, k, M))
        fit = fit_curve(pts, target, n_boot=100, seed=len(scores)) if len(scores) >= 3 else None
        d = decide(scores, base, fit, target, 2 * n, max_examples, math.inf, min_examples=min_examples)
        if d.stop:
            return d.reason, n
    raise AssertionError("never stopped")


def test_saturating_curve_stops_for_diminishing_returns():
    reason, n = climb(lambda n: 0.6 - 0.6 * (n / 20) ** -1.0, target=0.9)
    assert reason in ("diminishing-returns", "unreachable-within-budget") and n <= 1280


def test_still_climbing_curve_keeps_going_until_target():
    reason, n = climb(lambda n: min(0.99, 0.1 * math.log2(n / 10)), target=0.85, max_examples=10**6)
    assert reason == "target-reached" and n >= 2000


def test_flat_curve_is_unreachable_but_not_before_the_prior():
    # a curve stuck at the floor (div on tiny-arith) may now stop as not-improving, at the same rung
    for seed in range(4):
        reason, n = climb(lambda n: 0.02, target=0.9, min_examples=1000, seed=seed)
        assert reason in ("not-improving", "unreachable-within-budget") and n == 1280


# the LoRA r=4 climb that fell: pooled 0.533, 0.500, 0.500, 0.433 (2 seeds × 30 items) at n = 10 … 80
FALLING = [(10, 16), (20, 15), (40, 15), (80, 13)]


def falling(base=RungScore(0, 6, 60)):
    pts = [(n, k, 30) for n, k in FALLING for _ in range(2)]
    fit = fit_curve(pts, 0.9, n_boot=200, seed=len(FALLING))
    scores = [RungScore(n, 2 * k, 60) for n, k in FALLING]
    return fit, decide(scores, base, fit, 0.9, 160, 5120, math.inf)


def test_falling_rungs_stop_not_improving_with_a_flat_forecast():
    fit, d = falling()  # the base (0.1) lies far below: it rose once, and falls now
    assert d.stop and d.reason == "not-improving"
    slope = d.detail["slope_per_doubling"]
    assert slope < 0 and d.detail["slope_lo80"] < slope < d.detail["slope_hi80"]
    assert d.detail["slope_rungs"] == [20, 40, 80]
    assert fit.p_reachable() < 0.2 and fit.p_reachable(5120) < 0.1  # was 0.42 and 0.12, forecasting a rise
    gain = fit.gain_next_doubling(80)
    lo, hi = np.quantile(gain, [0.1, 0.9])
    assert lo < 0 < hi and abs(gain.mean() - slope) < 0.02
    _, same = falling(base=RungScore(0, 30, 60))  # a base at the rungs' level: never rose at all
    assert same.reason == "not-improving"


def test_steadily_rising_curve_is_unaffected():
    reason, n = climb(lambda n: min(0.99, 0.1 * math.log2(n / 10)), target=0.85, max_examples=10**6)
    assert reason == "target-reached"
    rng = np.random.default_rng(2)
    pts = [(n, int(rng.binomial(400, min(0.99, 0.1 * math.log2(n / 10)))), 400) for n in (20, 40, 80, 160)
           for _ in range(2)]
    fit = fit_curve(pts, 0.85, seed=4)
    assert fit.trend.slope > 0.05 and fit.trend.share == 0  # no draw follows the trend: the forecast as before
    assert fit.p_reachable() > 0.5  # most draws reach it (some follow a power law whose asymptote is below)
    d = decide([RungScore(n, sum(k for m, k, _ in pts if m == n), 800) for n in (20, 40, 80, 160)],
               RungScore(0, 40, 800), fit, 0.85, 320, 10**6, math.inf)
    assert not d.stop and d.detail["slope_per_doubling"] > 0


def test_a_curve_that_rose_then_levelled_off_says_diminishing_returns():
    for seed in range(3):
        reason, n = climb(lambda n: 0.6 - 0.6 * (n / 20) ** -1.0, target=0.65, max_examples=10**6, seed=seed)
        assert reason == "diminishing-returns" and n <= 5120


def test_budget_exhausted():
    reason, n = climb(lambda n: min(0.99, 0.1 * math.log2(n / 10)), target=0.85, max_examples=400)
    assert reason in ("budget-exhausted", "unreachable-within-budget") and n <= 400


def test_reached_needs_confirmation():
    assert reached_at([RungScore(20, 50, 100), RungScore(40, 91, 100)], 0.9) is None  # once, interval wide
    assert reached_at([RungScore(20, 91, 100), RungScore(40, 92, 100)], 0.9) == 0  # confirmed by the next rung
    assert reached_at([RungScore(20, 990, 1000)], 0.9) == 0  # confirmed by its own interval


def test_schedule_is_geometric():
    assert sizes(20, 2, 700) == [20, 40, 80, 160, 320, 640]
    assert sizes(20, 1.5, 100) == [20, 30, 45, 68]  # 68·1.5 = 102 > 100
