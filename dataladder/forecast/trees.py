"""Gradient-boosted trees learned from real curves, for the median past the last rung (bounded scores): a candidate.

`bench/fit_forecast_trees.py` fits scikit-learn's HistGradientBoostingRegressor (absolute error, depth 3, 200
rounds of 0.05) on the calibration curves of `bench/bench_forecast.py` (LCDB ids ≡ 0 mod 4, every other fine-tuning
task), of the truth's rise on the link scale from the last rung's mean, 4–64× past the last rung, on `FEATURES` of
the rungs. It exports the trees as arrays (`trees.npz`, read here with numpy alone: scikit-learn is not needed at
run time) with a gate: the curve's Mahalanobis distance d from the training curves' features (their mean and
inverse covariance), and the trees' weight w = clip(1 − (d/d90 − 1)/0.5, 0, 1), d90 the 90th percentile of the
training curves' own distances. Trees do not extrapolate: a curve unlike those they learned from keeps the
forecast it had (w → 0).

`stack.recentre` applies it where `model.CENTRE = "trees"`: after the shipped move, the whole band shifts by
w·r·(centre − median), r ramping from 0 at the last rung to 1 at 4×. The centre is the trees' rise read at 4×, 8×,
16×, 32× and 64×, made non-decreasing, and interpolated in log n from 0 at the last rung; past 64× it follows the
mean of the two fitted curves (`stack.Learned.mix`) from its 64× value; w is the gate's mean over those five
horizons. The size for a target is read from the moved draws (`Forecast.n_target`). Measured beside the shipped
forecaster by `bench/bench_forecast.py --candidate` (bench/RESULTS.md).
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np

from dataladder.forecast.power import power_at

PATH = Path(__file__).with_name("trees.npz")
H_MAX = math.log(64.0)  # the farthest horizon the trees learned; past it the fitted curves' shape continues them
H_MIN = math.log(4.0)  # the nearest; the move ramps in from the last rung to here
FILL = -9.0  # a feature a short curve lacks (an earlier step)
SCALE = 0.5  # the gate's width, in units of d90
FEATURES = ("dz-4", "dz-3", "dz-2", "dz-1", "s-4", "s-3", "s-2", "s-1", "rungs", "u_last", "z_last", "spread",
            "log eval_n", "log n_last", "log h", "power dz", "line dz", "power du", "line du")


def _sig(z):
    return 1 / (1 + np.exp(-np.clip(z, -50, 50)))


def shape(lx: np.ndarray, z: np.ndarray, spread: float, eval_n: float) -> tuple:
    """The features that do not depend on the horizon, from the rungs' log sizes and link-scale means, the seeds'
    spread over the last two rungs (score units; NaN with one seed) and the last rung's evaluation size."""
    def pad(a):
        a = np.asarray(a, dtype=float)[-4:]
        return np.concatenate([np.full(4 - len(a), np.nan), a])

    sl = np.diff(z) / np.diff(lx)
    return tuple(float(v) for v in np.concatenate([pad(z[:-1] - z[-1]), pad(sl), [len(z), _sig(z[-1]), z[-1], spread,
                                                                              math.log(max(eval_n, 1.0)), lx[-1]]]))


def features(lp, link, d: np.ndarray) -> np.ndarray:
    """len(d) × len(FEATURES) at d = log(n / n_last) (clipped to the trees' horizons), missing ones as FILL."""
    d = np.clip(np.asarray(d, dtype=float), H_MIN, H_MAX)
    sign = 1.0 if link.direction == "higher" else -1.0
    zp = link.z(power_at(lp.power[None, :], np.exp(lp.x0 + d), sign))[0] - lp.z_last
    zl = lp.line[1] + lp.line[0] * d - lp.z_last
    u0 = _sig(lp.z_last)
    per = np.stack([d, zp, zl, _sig(lp.z_last + zp) - u0, _sig(lp.z_last + zl) - u0], axis=1)
    x = np.concatenate([np.tile(np.asarray(lp.shape, dtype=float), (len(d), 1)), per], axis=1)
    return np.nan_to_num(x, nan=FILL)


@cache
def _model() -> dict:
    with np.load(PATH) as f:
        return {k: f[k] for k in f.files}


def predict(x: np.ndarray, m: dict | None = None) -> np.ndarray:
    """The trees' rise (link scale) for each row of x (the trees `m`, by default trees.npz's)."""
    m = _model() if m is None else m
    T, rows = m["feature"].shape[0], np.arange(len(x))[None, :]
    t = np.arange(T)[:, None]
    node = np.zeros((T, len(x)), dtype=int)
    for _ in range(int(m["depth"])):
        go = x[rows, m["feature"][t, node]] <= m["threshold"][t, node]
        nxt = np.where(go, m["left"][t, node], m["right"][t, node])
        node = np.where(m["leaf"][t, node], node, nxt)
    return float(m["base"]) + m["value"][t, node].sum(0)


def weight(x: np.ndarray) -> np.ndarray:
    """The gate: how far each row is trusted to the trees (1 among their training curves, 0 far from them)."""
    m = _model()
    dx = x - m["mu"][None, :]
    dist = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", dx, m["icov"], dx), 0.0))
    return np.clip(1 - (dist / float(m["d90"]) - 1) / SCALE, 0.0, 1.0)


KNOTS = np.log([4.0, 8.0, 16.0, 32.0, 64.0])  # where the trees are read; between them the centre is interpolated


def centre(lp, link, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the band's median moves at each d > 0 (link scale) and the share of the way: w·ramp. The trees are
    read at KNOTS, their rise made non-decreasing from knot to knot (a step of the trees is no forecast of a dip)
    and interpolated in log n between them, from 0 at the last rung."""
    d = np.asarray(d, dtype=float)
    x = features(lp, link, KNOTS)
    r = np.concatenate([[0.0], np.maximum.accumulate(predict(x))])
    c = lp.z_last + np.interp(d, np.concatenate([[0.0], KNOTS]), r)
    far = d > H_MAX
    if far.any():
        c = np.where(far, c + lp.mix(link, d) - lp.mix(link, np.full(len(d), H_MAX)), c)
    w = float(np.mean(weight(x)))
    return c, w * np.minimum(d / H_MIN, 1.0)
