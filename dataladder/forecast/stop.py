"""The stop rule: when a climb has learned enough to stop, and why (every ladder kind's, and `dataladder fit`'s
verdict on a ladder document: `forecast/summary.py`).

After each rung, in this order:
1. `target-reached`: pooled accuracy (all seeds) ≥ target at a rung, confirmed by its Wilson
   lower bound ≥ target or by the next rung also ≥ target.
2. `not-improving`: the last three rungs are flat or falling: their measured slope (weighted
   least squares of accuracy against log2 n, each rung weighted by the noise of its mean: binomial,
   or the seeds' spread where larger; `dataladder/forecast/trend.py`) is ≤ 0 per doubling, and the
   ladder has nothing to show for its data: the last rung is not above the first by more than two
   standard errors, or it fell more than two below the best earlier rung (a curve that rose and
   then levelled off is left to rule 3). The detail gives the slope per doubling and its 80%
   interval (`slope_per_doubling`, `slope_lo80`, `slope_hi80`). The fit follows that slope rather
   than its prior's rise (same module), so the recorded forecast says so too: P(reachable) from the
   measured trend, the next doubling's gain centred on it. A curve stuck at the floor (a missing
   skill: 0.01, 0.02, 0.01 …) stops here too once the prior's data band allows, where it used to
   stop as `unreachable-within-budget` at the same rung.
3. `diminishing-returns`: the fitted next doubling gains less than max(the eval's standard
   error, δ) with probability ≥ 0.8 — once there were returns to diminish (accuracy rose by
   more than two standard errors over the base model).
4. `unreachable-within-budget`: the probability that the target is reached within the budget's
   data size falls below 0.1.
5. `budget-exhausted`: the next rung would exceed the example budget, or time ran out (a climb says
   `data-exhausted` when its training data, not the budget, ran out).
(Besides these, the engine stops a ladder as `unstable-training` when its rungs' runs diverged or collapsed:
two unsound rungs in a row, or one where the budget ends; unsound rungs never reach this rule. See
`ladder/engine.py` and `ladder/soundness.py`.)
Rules 2–4 need `min_rungs` rungs (and three for rule 2) and at least `min_examples` examples (the
prior from the probe's diagnosis: a missing skill is not judged on tens of examples). The detail
records the knobs it was decided with (`rule`), so `dataladder fit` on the ladder's document decides
the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dataladder.core.stats import wilson
from dataladder.forecast.model import Forecast

P_GAIN = 0.8  # diminishing returns: P(next doubling gains less than the threshold) at least this
P_REACH = 0.1  # unreachable within budget: P(target within the budget) below this
UNSTABLE = "unstable-training"  # the engine's stop when training, not the data, failed


@dataclass
class RungScore:
    n: int
    correct: int  # pooled over seeds
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def se(self) -> float:
        p = self.accuracy
        return math.sqrt(max(p * (1 - p), 1e-4) / max(1, self.total))


@dataclass
class Decision:
    stop: bool
    reason: str | None
    detail: dict


def reached_at(rungs: list[RungScore], target: float) -> int | None:
    """Index of the first rung at which the target is reached and confirmed, if any."""
    for i, r in enumerate(rungs):
        if r.accuracy < target:
            continue
        if wilson(r.correct, r.total)[0] >= target:
            return i
        if i + 1 < len(rungs) and rungs[i + 1].accuracy >= target:
            return i
    return None


def decide(rungs: list[RungScore], base: RungScore, fit: Forecast | None, target: float, next_n: int,
           max_examples: float, time_left: float, delta: float = 0.01, min_rungs: int = 4,
           min_examples: int = 0, p_gain: float = P_GAIN, p_reach: float = P_REACH) -> Decision:
    last = rungs[-1]
    detail: dict = {"n": last.n, "accuracy": last.accuracy,
                    "rule": {"target": target, "delta": delta, "min_rungs": min_rungs, "min_examples": min_examples,
                             "max_examples": max_examples, "next_n": next_n,
                             "time_left_s": time_left if math.isfinite(time_left) else None}}
    hit = reached_at(rungs, target)
    if hit is not None:
        return Decision(True, "target-reached", {**detail, "reached_at": rungs[hit].n})
    judged = fit is not None and len(rungs) >= min_rungs and last.n >= min_examples
    if judged:
        threshold = max(last.se, delta)
        gain = fit.gain_next_doubling(last.n)
        p_small = float((gain < threshold).mean())
        rose = last.accuracy - base.accuracy > 2 * max(last.se, base.se)
        p_budget = fit.p_reachable(max_examples)
        detail.update({"gain_next_doubling": float(gain.mean()), "gain_threshold": threshold,
                       "p_gain_below_threshold": p_small, "p_reach_within_budget": p_budget, "rose": rose})
        trend = getattr(fit, "trend", None)
        if trend is not None:
            lo, hi = trend.interval(0.8)
            detail.update({"slope_per_doubling": trend.slope, "slope_lo80": lo, "slope_hi80": hi,
                           "slope_rungs": list(trend.sizes)})
        if not_improving(trend, [r.accuracy for r in rungs], [r.se for r in rungs]):
            return Decision(True, "not-improving", detail)
        if rose and p_small >= p_gain:
            return Decision(True, "diminishing-returns", detail)
        if p_budget < p_reach:
            return Decision(True, "unreachable-within-budget", detail)
    if next_n > max_examples:
        return Decision(True, "budget-exhausted", {**detail, "why": f"next rung {next_n:,} > the budget of {max_examples:,.0f}"})
    if time_left <= 0:
        return Decision(True, "budget-exhausted", {**detail, "why": "time budget spent (stored run seconds)"})
    return Decision(False, None, detail)


def not_improving(trend, acc: list[float], se: list[float]) -> bool:
    """Rule 2 on rung scores `acc` (ascending n) with standard errors `se`: the measured `trend` of the last
    three rungs (`forecast.trend.Trend`) is ≤ 0 per doubling, and the rungs have nothing to show for their
    data: the last is not above the first by more than two standard errors, or it fell more than two below
    the best earlier one. (A curve that rose and then levelled off is left to diminishing-returns.)"""
    if trend is None or len(acc) < 3:
        return False
    best = max(range(len(acc) - 1), key=lambda i: acc[i])
    no_rise = acc[-1] - acc[0] <= 2 * max(se[-1], se[0])
    fell = acc[best] - acc[-1] > 2 * max(se[-1], se[best])
    return trend.slope <= 0 and (no_rise or fell)
