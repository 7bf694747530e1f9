"""The measured trend of a curve's last rungs, and a forecast that follows it where the rungs do not rise.

The forecaster's slope prior is positive (more data does not hurt in expectation, `model.py`), so on
rungs that are flat or falling it still draws a rising curve: a LoRA climb whose rungs fell 0.533 →
0.500 → 0.500 → 0.433 (two seeds × 30 items) was forecast to reach 0.9 with P(reachable) 0.75, its
band rising below every measured point. Here the data decide instead:

- `measured_trend`: the weighted least-squares slope of the score against log2 n over the last
  `WINDOW` rungs (the gain per doubling, in the score's better direction) with its standard error;
  each rung is weighted by the noise of its mean: the binomial noise of its items pooled over its
  seeds, or the seeds' spread where that is larger (the forecaster's noise where there is no eval_n).
- `follow`: a share 1 − slope/se of the draws, clipped to [0, 1], takes its slope from that trend
  instead of the prior: all of them when the measured slope is ≤ 0, none once it is one standard
  error above 0, so the forecast is continuous in the data and a clearly rising curve is untouched.
  Those draws gain per doubling the normal quantiles of N(slope, se²), set on the link scale at the
  last rung, without the discrepancy term (calibrated on rising curves). P(reachable), the gain of
  the next doubling and the band then say what the rungs say: flat or falling, with the chance of a
  rise that the trend's own interval leaves.

    fc = follow(fc, measured_trend(fc, n, value, eval_n))   # what `ladder.fit.fit_curve` and `fit` do
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np

from dataladder.forecast.model import WINDOW, Forecast


@dataclass(frozen=True)
class Trend:
    """The last rungs' measured gain per doubling of n (better direction), its standard error, where."""

    slope: float
    se: float
    sizes: tuple[float, ...]  # the rungs it was measured on
    level: float  # the last rung's mean score

    def interval(self, level: float = 0.8) -> tuple[float, float]:
        z = NormalDist().inv_cdf(0.5 + level / 2)
        return self.slope - z * self.se, self.slope + z * self.se

    @property
    def share(self) -> float:
        """Share of the forecast's draws that follow this trend rather than the prior's rise."""
        if self.se <= 0:
            return 1.0 if self.slope <= 0 else 0.0
        return min(1.0, max(0.0, 1.0 - self.slope / self.se))

    def block(self) -> dict:
        lo, hi = self.interval(0.8)
        return {"per_doubling": self.slope, "se": self.se, "lo80": lo, "hi80": hi, "rungs": list(self.sizes),
                "share_followed": self.share}


def measured_trend(fc: Forecast, n, value, eval_n=None) -> Trend | None:
    """The trend of the last WINDOW rungs of the points `fc` was fitted to (None with fewer rungs)."""
    n, y = np.asarray(n, dtype=float), np.asarray(value, dtype=float)
    en = None if eval_n is None else np.asarray(eval_n, dtype=float)
    rungs = np.unique(n)
    if len(rungs) < WINDOW:
        return None
    link, near = fc.link, rungs[-WINDOW:]
    means, var = [], []
    for r in near:
        at = n == r
        k, m = int(at.sum()), float(y[at].mean())
        v = fc.noise / k  # per point: the larger of the seeds' spread and the mean binomial noise
        if en is not None and link.kind == "logit":
            w = link.hi - link.lo
            u = (m - link.lo) / w
            binom = w * w * max(u * (1 - u), 1e-4) / float(en[at].sum())  # this rung's own, pooled over seeds
            v = max(binom, v) if fc.noise_from == "seeds" else binom
        means.append(m)
        var.append(v)
    x = np.log2(near)
    g = np.asarray(link.better(np.array(means), 0.0), dtype=float)
    wt = 1 / np.maximum(np.array(var), 1e-300)
    xb = float((wt * x).sum() / wt.sum())
    sxx = float((wt * (x - xb) ** 2).sum())
    slope = float((wt * (x - xb) * g).sum() / sxx)
    return Trend(slope, math.sqrt(1 / sxx), tuple(float(r) for r in near), means[-1])


def _dy_dz(fc: Forecast, y: float) -> float:
    """|dy/dz| of the link at score y: how much score one unit of the link scale is worth there."""
    link = fc.link
    if link.kind == "logit":
        w = link.hi - link.lo
        u = min(max((y - link.lo) / w, 0.02), 0.98)
        return w * u * (1 - u)
    if link.kind == "log":
        return max(abs(y), 1e-300)
    return 1.0


def follow(fc: Forecast, trend: Trend | None) -> Forecast:
    """`fc` with a `trend.share` of its draws following the measured trend (see the module docstring)."""
    if trend is None:
        return fc
    m = int(round(trend.share * fc.n_draws))
    if m == 0:
        return replace(fc, trend=trend)
    nd = NormalDist()
    gains = trend.slope + trend.se * np.array([nd.inv_cdf((j + 0.5) / m) for j in range(m)])
    bz = gains / (math.log(2) * _dy_dz(fc, trend.level))  # per unit of log n on the link scale
    b, b_out = fc.b.copy(), fc.b_out.copy()
    b[:m], b_out[:m] = bz, bz  # the draws are exchangeable: any m of them will do
    lo, hi = trend.interval(0.8)
    note = (f"the last {len(trend.sizes)} rungs gain {trend.slope:+.3g} per doubling (80%: {lo:+.3g} to {hi:+.3g}): "
            f"{trend.share:.0%} of the draws follow that trend rather than the prior's rise")
    return replace(fc, b=b, b_out=b_out, trend=trend, notes=[*fc.notes, note], _curves=None)
