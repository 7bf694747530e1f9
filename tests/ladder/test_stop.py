import math

import numpy as np

from dataladder.ladder.fit import fit_curve
from dataladder.ladder.schedule import sizes
from dataladder.ladder.stop import RungScore, decide, reached_at

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
    reason, n = climb(lambda n: 0.02, target=0.9, min_examples=1000)
    assert reason == "unreachable-within-budget" and n >= 1000


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
