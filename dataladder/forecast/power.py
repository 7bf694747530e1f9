"""The second family of the forecast: a power law with an asymptote, y = A − B·n^−c, and its weight.

The forecaster's own family (`model.py`) is a straight line on the link scale (a sigmoid in log n for
accuracies, a pure power law for losses), extrapolated from the last rung. It never levels off below
the bound, so on curves that do (most real ones, by the learning-curve literature and by the bench)
it runs ahead of them. The power law with an asymptote does level off, but bends too early on curves
that are still in their sigmoid's rise. Neither is right everywhere, so the curve decides:

- `backtest_weight`: both families are fitted to every rung but the last and forecast the last; the
  power law's share of the draws is w = e_line / (e_line + e_power), with e each family's squared error
  plus the noise of the two rungs involved (so that where the error is below the noise, neither family
  is preferred: w → 1/2), shrunk toward 0 with few rungs. Fewer than four rungs: w = 0 (three points
  are not a backtest of a three-parameter law).
- `power_draws`: one power-law fit per posterior draw, to that draw's redrawn rung means (the rungs'
  noise, so the family's own uncertainty). Vectorised over the draws: c on a grid, A and B by weighted
  least squares, B ≥ 0 and the asymptote within the bounds.

Both are read by `model.forecast`; the draws' rise past the last rung is anchored at the last rung as
measured, like the line's.
"""

from __future__ import annotations

import math

import numpy as np

PRIOR = 0.5
C_GRID = np.geomspace(0.01, 3.0, 160)  # exponents tried


def _top(link, sign: float) -> float:
    """The bound the asymptote may not pass, on the signed scale (a falling score is fitted as −y)."""
    if link.kind == "logit":
        return link.hi if sign > 0 else -link.lo
    return 0.0 if link.kind == "log" else math.inf


def _fit(rungs: np.ndarray, y: np.ndarray, w: np.ndarray, top: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares of y = A − B·n^−c per row of y (draws × rungs), weights w per rung: (A, B, c) per row."""
    y = np.atleast_2d(y)
    best = np.full(len(y), np.inf)
    A_, B_, c_ = (np.zeros(len(y)) for _ in range(3))
    yb = y @ w
    for c in C_GRID:
        u = -np.power(rungs, -c)  # y = A + B·u, B ≥ 0
        ub = float(w @ u)
        var = float(w @ (u - ub) ** 2)
        B = np.maximum(((y - yb[:, None]) * (u - ub)) @ w / var, 0.0) if var > 0 else np.zeros(len(y))
        A = yb - B * ub
        over = A > top
        if over.any():  # the asymptote at the bound: refit B alone
            A = np.where(over, top, A)
            B = np.where(over, np.maximum(((y - top) * u) @ w / max(float(w @ (u * u)), 1e-300), 0.0), B)
        sse = ((A[:, None] + B[:, None] * u - y) ** 2) @ w
        better = sse < best
        best = np.where(better, sse, best)
        A_, B_, c_ = np.where(better, A, A_), np.where(better, B, B_), np.where(better, c, c_)
    return A_, B_, c_


def power_draws(rungs: np.ndarray, yd: np.ndarray, counts: np.ndarray, link) -> np.ndarray | None:
    """Draws × 3 (A, B, c) of the signed law s·y = A − B·n^−c (s = +1 rising, −1 falling), one fit per row of
    `yd` (each draw's rung means on the score's scale); None with fewer than three rungs."""
    if len(rungs) < 3:
        return None
    sign = 1.0 if link.direction == "higher" else -1.0
    A, B, c = _fit(np.asarray(rungs, float), sign * np.asarray(yd, float), counts / counts.sum(), _top(link, sign))
    return np.stack([A, B, c], axis=1)


def power_at(p: np.ndarray, n, sign: float) -> np.ndarray:
    """Rows of p (A, B, c) evaluated at sizes n: draws × len(n), on the score's scale."""
    n = np.atleast_1d(np.asarray(n, dtype=float))
    return sign * (p[:, :1] - p[:, 1:2] * np.power(n[None, :], -p[:, 2:3]))


def backtest_weight(rungs: np.ndarray, means: np.ndarray, counts: np.ndarray, link, noise: float,
                    window: int) -> float:
    """The power law's share of the draws (see the module docstring): 0 with fewer than four rungs."""
    R = len(rungs)
    if R < 4 or link.kind == "identity":
        return 0.0
    sign = 1.0 if link.direction == "higher" else -1.0
    head, y_last = rungs[:-1], float(means[-1])
    p = power_draws(head, means[None, :-1], counts[:-1], link)
    e_pow = (float(power_at(p, [rungs[-1]], sign)[0, 0]) - y_last) ** 2
    lx, z = np.log(head[-window:]), link.z(means[:-1][-window:])
    slope = max(float(np.polyfit(lx, z, 1)[0]), 0.0)  # the line's slope on the tail, as the forecaster's
    line = float(link.y(z[-1] + slope * (math.log(rungs[-1]) - lx[-1])))
    e_line = (line - y_last) ** 2
    floor = noise * (1 / counts[-1] + 1 / counts[-2])
    w = PRIOR * (e_line + floor) / (PRIOR * (e_line + floor) + (1 - PRIOR) * (e_pow + floor))
    return float(w * min(1.0, (R - 3) / 2))  # four rungs: half weight; five or more: full
