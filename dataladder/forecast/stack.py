"""A prior learned from real curves for the forecast's median past the last rung (bounded scores).

The forecaster's two families (`model.py`: a line on the logit scale; `power.py`: a power law with an
asymptote) each miss in their own way, and a backtest one doubling long often cannot tell which. So
the median's rise past the last rung, on the logit scale, is also read from a regression learned on
real curves (`bench/fit_forecast_prior.py`: a Huber fit on the calibration curves of
`bench/bench_forecast.py`, LCDB ids ≡ 0 mod 4 and every other fine-tuning task; the others check it),
at h = 4×, 16× and 32× past the last rung, of the truth's rise on six features of the rungs:

    the rise of a power law with an asymptote fitted to every rung, from the last rung to h×;
    the rise of a logit line fitted to every rung (its slope × log h);
    the last and the second-last step's slopes × log h;
    a constant; the last rung's logit / 10.

Between 4× and 32× the coefficients are interpolated in log h and held past 32×; below 4× they ramp
from 0 at the last rung. The rise is never negative and never falls with n.

How far the median moves to it is gated by the curve itself: g = e/(e + floor), with e the squared
error of the line's own backtest (fitted to the rungs before the last, forecasting the last) and the
floor the noise of the two rungs involved. A curve the line follows within its noise keeps its
forecast (g → 0); one that the line missed moves to the learned median (g → 1). With fewer than four
rungs there is no backtest worth the name and nothing moves. `model.Forecast.z_at` applies it: the
rising draws are recentred from their median m to m + g·(centre − m), keeping their spread; the
draws that follow a flat or falling trend (`trend.follow`) are only ever lowered toward it.

That regression is what ships (`model.CENTRE = "learned"`). A candidate measured beside it and not shipped,
`CENTRE = "mix"` (`bench/bench_forecast.py --candidate`): on the same curves (bounded, four rungs or more) the whole
band moves all the way (g = 1) to the mean, on the score's scale, of the two curves the bench's baselines fit to every
rung: the power law with an asymptote and the logit line (each rung weighted by its seeds). Its level at the last
rung is theirs, not the last rung's noisy seeds; the draws that follow a flat or falling trend move with the rest
(the fitted curves are flat or falling there too: the power law's B ≥ 0 finds no rise); the move ramps in from 0 at
the last rung to all of it one doubling past it (`RAMP`). On the bench's check curves it brings LCDB to the best
baseline's level at 4–32× with 80% bands that cover 0.78–0.85, but the sizes for targets do not follow (worse on
Llama-2's calibration curves, on LCDB level within sampling noise), and a clean logistic in log n
(configs/examples/points.csv, truth 6,235 for 0.9) is forecast 517,765 instead of 3,754: the power law is concave in
log n and a sigmoid below its midpoint is not. Gating the move by the line's backtest, or by the level, gives most
of the gain back (bench/RESULTS.md).

A second candidate, `CENTRE = "trees"` (`forecast.trees`): the shipped move, then the whole band toward a median
learned by gradient-boosted trees, behind a distance gate that closes on curves unlike their training curves. On the
check curves it lowers the error on LCDB and RoBERTa and widens nothing, but the sizes for targets get worse on LCDB
and RoBERTa (the trees' median rise is lower on the curves that go on to rise most), and the gate is closed on every
tiny-arith climb measured: not shipped (bench/RESULTS.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dataladder.forecast.power import power_at, power_draws
from dataladder.forecast.trees import centre as trees_centre
from dataladder.forecast.trees import shape

MIN_RUNGS = 4
AT = np.log([4.0, 16.0, 32.0])
RAMP = math.log(2.0)  # the mix's share of the way ramps from 0 at the last rung to 1 here: one doubling (log of it)
# rows: 4×, 16×, 32×; columns: the six features above (bench/fit_forecast_prior.py writes them)
COEF = np.array([
    [0.4444, 0.1623, 0.0328, 0.0077, 0.1533, -0.5624],
    [0.6371, 0.0653, 0.0825, -0.0023, 0.2422, -0.6445],
    [0.5448, 0.2053, -0.0415, -0.0187, 0.2647, -1.8979],
])


@dataclass(frozen=True)
class Learned:
    """What the learned median needs of a curve: its last rung, fitted families and step slopes."""

    x0: float  # log of the last rung's size
    z_last: float  # the last rung's measured mean, on the link scale
    power: np.ndarray  # (A, B, c) of the power law with an asymptote fitted to every rung's mean
    slope: float  # the logit line's slope fitted to every rung
    s1: float  # the second-last step's slope (link scale per unit of log n)
    s2: float  # the last step's slope
    gate: float  # how far the median moves to it (see the module docstring)
    # learned: the regression's rise from the last rung; mix: the two fitted curves' mean; trees: learned, then the
    # trees' move (`forecast.trees`)
    centre: str = "learned"
    # the logit line fitted to every rung, each weighted by its seeds as the bench's baseline fits every point: (slope,
    # intercept at the last rung); `slope` above is the regression's unweighted feature (the same with equal seeds)
    line: tuple[float, float] = (0.0, 0.0)
    shape: tuple = ()  # the trees' features that do not depend on the horizon (`forecast.trees.shape`)

    def features(self, link, d: np.ndarray) -> np.ndarray:
        """len(d) × 6: the features at d = log(n / n_last) ≥ 0."""
        sign = 1.0 if link.direction == "higher" else -1.0
        n = np.exp(self.x0 + d)
        zp = link.z(power_at(self.power[None, :], np.concatenate([[math.exp(self.x0)], n]), sign))[0]
        return np.stack([zp[1:] - zp[0], self.slope * d, self.s2 * d, self.s1 * d, np.ones_like(d),
                         np.full_like(d, self.z_last / 10)], axis=1)

    def mix(self, link, d: np.ndarray) -> np.ndarray:
        """The mean of the power law and the logit line, both fitted to every rung, at each d (link scale)."""
        sign = 1.0 if link.direction == "higher" else -1.0
        pw = power_at(self.power[None, :], np.exp(self.x0 + np.asarray(d, dtype=float)), sign)[0]
        return link.z((pw + link.y(self.line[1] + self.line[0] * np.asarray(d, dtype=float))) / 2)

    def target(self, link, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where the median moves at each d > 0 (link scale) and how far (the share of the way)."""
        if self.centre == "mix":
            return self.mix(link, d), np.minimum(np.asarray(d, dtype=float) / RAMP, 1.0)
        return self.z_last + self.rise(link, d), np.full(len(d), self.gate)

    def rise(self, link, d: np.ndarray) -> np.ndarray:
        """The learned rise of the median at each d ≥ 0 (link scale), in the order given."""
        d = np.maximum(np.asarray(d, dtype=float), 0.0)
        order = np.argsort(d)
        ds = d[order]
        c = np.stack([np.interp(ds, AT, COEF[:, j]) for j in range(COEF.shape[1])], axis=1)
        c *= np.minimum(ds / AT[0], 1.0)[:, None]  # ramp from 0 at the last rung to the 4× row
        r = np.maximum.accumulate(np.maximum((c * self.features(link, ds)).sum(1), 0.0))
        out = np.empty_like(r)
        out[order] = r
        return out


def learned(link, rungs: np.ndarray, means: np.ndarray, counts: np.ndarray, noise: float,
            centre: str = "learned", spread: float = math.nan, eval_n: float = 1.0) -> Learned | None:
    """The prior for a curve's rung means (None where it does not apply: see the module docstring); `centre`
    learned (the regression, its gate from the line's backtest), mix (the fitted curves' mean, all the way) or trees
    (learned, then `forecast.trees`, which also reads the seeds' `spread` and the last rung's `eval_n`)."""
    R = len(rungs)
    if link.kind != "logit" or R < 3:
        return None
    lx, z = np.log(rungs), link.z(means)
    s1, s2 = (z[-2] - z[-3]) / (lx[-2] - lx[-3]), (z[-1] - z[-2]) / (lx[-1] - lx[-2])
    gate = 0.0
    if R >= MIN_RUNGS:
        head = min(3, R - 1)  # the line's backtest: the forecaster's line on the rungs before the last
        sl = max(float(np.polyfit(lx[-1 - head:-1], z[-1 - head:-1], 1)[0]), 0.0)
        line = float(link.y(z[-2] + sl * (lx[-1] - lx[-2])))
        e = (line - float(means[-1])) ** 2
        floor = noise * (1 / counts[-1] + 1 / counts[-2])
        gate = 1.0 if centre == "mix" else e / (e + floor)
    line = np.polyfit(lx - lx[-1], z, 1, w=np.sqrt(counts))  # every rung, weighted by its seeds
    return Learned(float(lx[-1]), float(z[-1]), power_draws(rungs, means[None, :], counts, link)[0],
                   float(np.polyfit(lx, z, 1)[0]), float(s1), float(s2), float(gate), centre,
                   (float(line[0]), float(line[1])), shape(lx, z, spread, eval_n) if centre == "trees" else ())


def recentre(fc, z: np.ndarray, d: np.ndarray) -> np.ndarray:
    """`z` (draws × len(d), link scale) with its median past the last rung moved toward the learned one."""
    lp = fc.learned
    past = d > 0
    if lp is None or not past.any():
        return z
    if lp.centre == "trees":  # the shipped move, then the whole band toward the trees' centre by their gate
        z = _moved(fc, lp, z, d, past)
        c, g = trees_centre(lp, fc.link, d[past])
        z = z.copy()
        z[:, past] += (g * (c - np.median(z[:, past], axis=0)))[None, :]
        return z
    return _moved(fc, lp, z, d, past)


def _moved(fc, lp, z: np.ndarray, d: np.ndarray, past: np.ndarray) -> np.ndarray:
    if lp.gate <= 0:
        return z
    centre, g = lp.target(fc.link, d[past])
    z = z.copy()
    if lp.centre == "mix":  # the whole band: the fitted curves say where a flat or falling tail goes, too
        z[:, past] += (g * (centre - np.median(z[:, past], axis=0)))[None, :]
        return z
    m = int(round(fc.trend.share * fc.n_draws)) if fc.trend is not None else 0
    if m < len(z):  # the rising draws: their median moves toward the centre by the gate
        zr = z[m:][:, past]
        z[m:, past] = zr + (g * (centre - np.median(zr, axis=0)))[None, :]
    if m:  # the draws that follow a flat or falling trend: only ever lowered
        zt = z[:m][:, past]
        z[:m, past] = zt + (g * np.minimum(centre - np.median(zt, axis=0), 0.0))[None, :]
    return z
