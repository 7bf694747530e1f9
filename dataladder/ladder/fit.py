"""Learning-curve fits: accuracy against data size, from an ensemble of curve families.

Families (each fitted by variable projection: closed-form linear part on a grid of the
nonlinear parameters): log-linear, a power law with asymptote and offset (accuracy = A − B·(n + n0)^−β,
i.e. error = E + B·(n + n0)^−β), and a sigmoid in log n. Each family is weighted by how well it
predicts held-back rungs (fit on the first rungs, predict the next: forward validation), not
by its in-sample fit. Uncertainty comes from a bootstrap that resamples seeds within each rung
and rungs themselves, and redraws each accuracy from its binomial eval noise; each replicate
refits a family drawn by weight, so the spread covers both noise and the choice of family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.optimize import least_squares

PRIOR_FOLDS = 2  # pseudo-folds of equal family weights (see heldout_weights)
N_GRID = np.unique(np.round(np.logspace(0, 7, 1400)))  # where crossings are searched (1 … 10^7 examples)


@dataclass(frozen=True)
class Family:
    """accuracy = a + b·g(n; θ): linear in (a, b) given the nonlinear θ, which is searched on a grid."""

    name: str
    basis: Callable[[np.ndarray], np.ndarray]  # n (N,) → g for every grid θ (T, N)
    project: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    to_params: Callable[[float, float, int], list[float]]
    f: Callable[..., np.ndarray]
    bounds: tuple[list[float], list[float]] | None = None  # for the local polish; None: exact already


def _loglinear(n, a, b):
    return a + b * np.log(n)


def _power(n, A, B, beta, n0):
    return A - B * np.power(n + n0, -beta)


def _sigmoid(n, lo, hi, k, m):
    return lo + (hi - lo) / (1.0 + np.exp(-k * (np.log(n) - m)))


_BETA, _N0 = np.meshgrid(np.geomspace(0.05, 3.0, 96), np.array([0, 1, 3, 10, 20, 30, 60, 100, 300, 1000.0]), indexing="ij")
_BETA, _N0 = _BETA.ravel(), _N0.ravel()
_K, _M = np.meshgrid(np.geomspace(0.3, 12.0, 40), np.linspace(0.0, math.log(1e7), 128), indexing="ij")
_K, _M = _K.ravel(), _M.ravel()


def _refit_b(G, y, a):
    """Best b ≥ 0 for a fixed intercept a (per grid row)."""
    num = (G * (y[None, :] - a[:, None])).sum(1)
    return np.maximum(0.0, num / np.maximum((G * G).sum(1), 1e-12))


def _project_power(G, y, a, b):
    # accuracy = A − B·(n+n0)^−β with g = −(n+n0)^−β: need B ≥ 0 and 0 ≤ A ≤ 1
    a = np.clip(a, 0.0, 1.0)
    return a, _refit_b(G, y, a)


def _project_sigmoid(G, y, a, b):
    # accuracy = lo + d·s with lo ≥ 0, d ≥ 0, lo + d ≤ 1
    a = np.clip(a, 0.0, 1.0)
    b = np.minimum(_refit_b(G, y, a), 1.0 - a)
    return a, b


FAMILIES = [
    Family("log-linear", lambda n: np.log(n)[None, :], lambda G, y, a, b: (a, b),
           lambda a, b, i: [a, b], _loglinear),
    Family("power-law", lambda n: -np.power(n[None, :] + _N0[:, None], -_BETA[:, None]), _project_power,
           lambda a, b, i: [a, b, float(_BETA[i]), float(_N0[i])], _power,
           ([0.0, 0.0, 0.01, 0.0], [1.0, 1e6, 5.0, 1e4])),
    Family("sigmoid", lambda n: 1.0 / (1.0 + np.exp(-_K[:, None] * (np.log(n)[None, :] - _M[:, None]))),
           _project_sigmoid, lambda a, b, i: [a, a + b, float(_K[i]), float(_M[i])], _sigmoid,
           ([0.0, 0.0, 0.05, -5.0], [1.0, 1.0, 50.0, 25.0])),
]


def fit_family(fam: Family, x: np.ndarray, y: np.ndarray, polish: bool = False) -> np.ndarray | None:
    """Least-squares parameters of `fam` on (x, y): closed-form (a, b) for every grid θ, best kept;
    `polish` refines that optimum with a local bounded least-squares step."""
    if len(x) < 2 or len(np.unique(x)) < 2:
        return None
    G = fam.basis(np.asarray(x, dtype=float))
    gm, ym = G.mean(1), float(y.mean())
    Gc = G - gm[:, None]
    sgg = (Gc * Gc).sum(1)
    b = np.where(sgg > 1e-12, (Gc * (y - ym)[None, :]).sum(1) / np.maximum(sgg, 1e-12), 0.0)
    a = ym - b * gm
    a, b = fam.project(G, y, a, b)
    sse = ((a[:, None] + b[:, None] * G - y[None, :]) ** 2).sum(1)
    i = int(np.argmin(sse))
    p = np.array(fam.to_params(float(a[i]), float(b[i]), i))
    if polish and fam.bounds is not None:
        lo, hi = (np.array(v) for v in fam.bounds)
        p0 = np.clip(p, lo, hi)
        with np.errstate(all="ignore"):
            r = least_squares(lambda q: fam.f(x, *q) - y, p0, bounds=(lo, hi), max_nfev=200)
        if r.success and float((r.fun**2).sum()) <= float(sse[i]):
            p = r.x
    return p


def predict(fam: Family, p: np.ndarray, n) -> np.ndarray:
    return np.clip(fam.f(np.asarray(n, dtype=float), *p), 0.0, 1.0)


def heldout_weights(x: np.ndarray, y: np.ndarray, noise_var: float) -> dict[str, float]:
    """Family weights from forward validation: fit on rungs < k, predict rung k, for every k ≥ 4.

    A family's weight is exp(−½·Σ squared errors / noise variance), a Gaussian predictive
    likelihood, shrunk toward equal weights by PRIOR_FOLDS pseudo-folds. With fewer than four
    rungs there is nothing to hold back and weights are equal.
    """
    rungs = np.unique(x)
    if len(rungs) < 4:
        return {f.name: 1 / len(FAMILIES) for f in FAMILIES}
    loglik = {}
    for fam in FAMILIES:
        ll = 0.0
        for k in range(3, len(rungs)):
            train = x < rungs[k]
            test = x == rungs[k]
            p = fit_family(fam, x[train], y[train])
            if p is None:
                ll += -1e6
                continue
            err = predict(fam, p, x[test]) - y[test]
            ll += -0.5 * float(np.sum(err**2)) / noise_var
        loglik[fam.name] = ll
    m = max(loglik.values())
    w = {k: math.exp(v - m) for k, v in loglik.items()}
    s = sum(w.values())
    # Few held-out folds say little: shrink toward equal weights with a prior worth PRIOR_FOLDS folds.
    folds = len(rungs) - 3
    return {k: (folds * v / s + PRIOR_FOLDS / len(w)) / (folds + PRIOR_FOLDS) for k, v in w.items()}


@dataclass
class CurveFit:
    """What the ladder needs from a fit: predictions with bootstrap spread."""

    weights: dict[str, float]
    params: dict[str, list[float] | None]
    n_boot: int
    n_target: np.ndarray  # per replicate: smallest n reaching the target (inf if never on the grid)
    curves: np.ndarray  # replicates × len(N_GRID) predicted accuracy
    target: float
    failed: int = 0
    notes: list[str] = field(default_factory=list)

    def quantiles(self, q) -> np.ndarray:
        return np.quantile(self.curves, q, axis=0)

    def at(self, n: float) -> np.ndarray:
        """Each replicate's predicted accuracy at n (interpolated on the log grid)."""
        ln = np.log(N_GRID)
        return np.array([np.interp(math.log(n), ln, c) for c in self.curves])

    def median_curve(self) -> np.ndarray:
        return np.median(self.curves, axis=0)

    def n_target_interval(self, level: float = 0.8) -> tuple[float, float, float]:
        a = (1 - level) / 2
        q = np.quantile(self.n_target, [a, 0.5, 1 - a], method="inverted_cdf")  # inf-safe: no interpolation
        return float(q[0]), float(q[1]), float(q[2])

    def p_reachable(self, within: float = math.inf) -> float:
        """Share of replicates whose curve reaches the target within `within` examples (and at all:
        within the search grid's 10^7)."""
        return float(np.mean(np.isfinite(self.n_target) & (self.n_target <= within)))

    def gain_next_doubling(self, n_last: float) -> np.ndarray:
        return self.at(2 * n_last) - self.at(n_last)


def fit_curve(points: list[tuple[float, int, int]], target: float, n_boot: int = 200, seed: int = 0) -> CurveFit:
    """Fit the ensemble to (n, correct, n_eval) points — one per (rung, seed) — and bootstrap it."""
    rng = np.random.default_rng(seed)
    x = np.array([p[0] for p in points], dtype=float)
    k = np.array([p[1] for p in points], dtype=float)
    m = np.array([p[2] for p in points], dtype=float)
    y = k / m
    pbar = float(np.clip(np.mean(y), 0.02, 0.98))
    noise_var = pbar * (1 - pbar) / float(np.mean(m)) + 1e-4  # binomial eval noise, floored
    weights = heldout_weights(x, y, noise_var)
    names = [f.name for f in FAMILIES]
    params = {f.name: (lambda p: None if p is None else [float(v) for v in p])(fit_family(f, x, y, polish=True))
              for f in FAMILIES}
    rungs = np.unique(x)
    by_rung = [np.flatnonzero(x == r) for r in rungs]
    curves, n_target, failed = [], [], 0
    probs = np.array([weights[nm] for nm in names])
    for _ in range(n_boot):
        # resample rungs (keeping at least three distinct ones) and seeds within each rung
        while True:
            pick = rng.integers(0, len(rungs), len(rungs))
            if len(rungs) < 3 or len(set(pick.tolist())) >= min(3, len(rungs)):
                break
        idx = np.concatenate([rng.choice(by_rung[r], len(by_rung[r])) for r in pick])
        yb = rng.binomial(m[idx].astype(int), np.clip(y[idx], 0, 1)) / m[idx]
        fam = FAMILIES[int(rng.choice(len(FAMILIES), p=probs))]
        p = fit_family(fam, x[idx], yb)
        if p is None:
            failed += 1
            continue
        c = predict(fam, p, N_GRID)
        curves.append(c)
        hit = np.flatnonzero(c >= target)
        n_target.append(float(N_GRID[hit[0]]) if len(hit) else math.inf)
    if not curves:
        raise ValueError("no curve family could be fitted to these points")
    return CurveFit(weights, params, n_boot, np.array(n_target), np.array(curves), target, failed)


def summarize_fit(fit: CurveFit | None, n_last: int, budget: int) -> dict | None:
    """The JSON summary of a ladder's fit: family weights, the size that reaches the target (80%
    interval), reachability overall and within `budget`, the gain of the next doubling after
    `n_last`, and the fitted curve's median and 80% band on every 20th grid point."""
    if fit is None:
        return None
    lo, med, hi = fit.n_target_interval(0.8)
    gain = fit.gain_next_doubling(n_last)
    q = fit.quantiles([0.1, 0.5, 0.9])
    keep = range(0, len(N_GRID), 20)
    fin = lambda v: None if not math.isfinite(v) else v  # noqa: E731
    return {
        "weights": fit.weights, "params": fit.params, "bootstrap": fit.n_boot, "failed_fits": fit.failed,
        "n_target": {"median": fin(med), "lo80": fin(lo), "hi80": fin(hi)},
        "p_reachable": fit.p_reachable(), "p_reach_within_budget": fit.p_reachable(budget),
        "gain_next_doubling": {"mean": float(gain.mean()), "lo80": float(np.quantile(gain, 0.1)),
                               "hi80": float(np.quantile(gain, 0.9))},
        "curve": {"n": [float(N_GRID[i]) for i in keep], "median": [float(q[1][i]) for i in keep],
                  "lo80": [float(q[0][i]) for i in keep], "hi80": [float(q[2][i]) for i in keep]},
    }
