"""The forecaster: a score against data size, and the size that reaches a target, with intervals.

Model. The score y is mapped to a link scale z on which learning curves are close to straight
lines in log n, and past the last rung z = a + b·(log n − log n_last), with a the last rung's
measured mean (redrawn with its noise) and slope b > 0 (more data does not hurt in expectation):
- bounded scores (accuracy, pass rate; `bounds` lo, hi): z = logit of the score's position in
  [lo, hi] (for `lower` scores, of its distance below hi): a sigmoid in log n that saturates at
  the bound;
- positive scores that fall (loss, perplexity): z = −log y, a power law y = B·n^−b;
- anything else: z = ±y, linear in log n.
Where the measured rungs already pass the target for good, the size that reaches it is read from
them (interpolated in log n between the rungs, their means redrawn with their noise), not from the
line.
The posterior over the slope b is computed on a grid (jointly with the line's level, on the last
WINDOW rungs): a Gaussian likelihood on the score's own scale
(the noise is the larger of the seeds' spread within a rung and the binomial noise of `eval_n`
items, or the residuals' when neither is known) times an empirical prior on the slope, learned
from the Learning Curve Database's even OpenML ids (odd ids are never looked at) for bounded
scores, and from published exponents for the power law. With one or two rungs the prior decides
and the interval is wide, as it should be.

Past the last rung, the slope may also be wrong in shape, not only in noise: each draw's slope
beyond n_last is multiplied by exp(ε), ε ~ N(μ, σ²) (model discrepancy, `DISCREPANCY`, calibrated
on the same even ids: on the logit scale curves tend to steepen past small rungs). σ grows with how
much the last two steps between rungs disagree on the slope (d = |s₂ − s₁|/(|s₁| + |s₂|) in [0, 1]):
a curve whose slope held steady is extrapolated with a narrow σ, one that just bent with a wide σ
(on those ids the realized discrepancy's spread is about 0.65 where the two steps agree and 1.2–1.3 where
they disagree most). Every forecast —
the size that reaches the target, the score at a size, the gain of the next doubling — comes from
the same posterior draws, so intervals carry both noise and
discrepancy. A draw that reaches the target only past N_MAX counts as never (∞): an honest ∞
rather than a fake bound.

Alternatives measured on the even ids and rejected (share of predicted sizes within 2× of the
truth): the previous ensemble of log-linear, power-law-with-asymptote and sigmoid families
weighted by forward validation 24%, a plain log-linear fit 26%, a power law on the error 24%,
the rectified law alone 14%, a free sigmoid with an empirical prior 11–29%, nearest-neighbour
curve analogues 13–23%; this model about 0.45 (see bench/RESULTS.md). Fitting the slope to the last
WINDOW rungs rather than all of them gained 2–3 points (curves bend, and the tail says where they go);
extrapolating from the last rung's measured mean rather than the fitted line, 4–5 more.

Known weakness: curves that level off below the bound (accuracy = A − B·n^−c with A < 1) are
forecast too early, by about 3× on such synthetic curves; the bound-free alternatives that would
catch them (a free ceiling, a power law to an asymptote) cost far more on real curves (above).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

N_MAX = 1e7  # the largest size a forecast names; past it the target counts as never reached
N_GRID = np.unique(np.round(np.logspace(0, 7, 1400)))  # where curves are tabulated (1 … 10^7)
# slope discrepancy past the last rung, per link: ε in b_out = b·exp(ε) is N(mean, (sd0 + sd1·d)²), d the
# disagreement of the last two steps' slopes (0.5 with fewer than three rungs). Calibrated on LCDB even ids
# (fitted on ids ≡ 0 mod 4, checked on ids ≡ 2 mod 4) under rungs that stop 2–64× short of the truth: logit on
# the accuracy curves, log on the same curves' error rates (1 − accuracy). No data behind identity: fixed.
DISCREPANCY = {"logit": (0.15, 0.15, 0.8), "log": (0.1, 0.3, 1.0), "identity": (0.0, 0.6, 0.0)}
# slope priors (lognormal: median, log-sd) per link
PRIOR = {"logit": (0.26, 0.8), "log": (0.2, 1.0), "identity": (None, 1.5)}
WINDOW = 3  # rungs the slope is fitted to: the last three (a curve bends; its tail says where it goes)
# past the last rung, per link (see `Forecast.z_at`): the median follows the line for a share 1 − MIX of its rise
# and a power law with an asymptote fitted to the rungs for MIX; the draws' slopes spread about their median by
# SPREAD at 4×, 16× and 32× past the last rung (interpolated in log n, held beyond); not applied where the rungs do
# not clearly rise (`trend.follow` decides there). Neutral by default (the forecast as before): CALIBRATED, learned
# on the calibration curves of bench/bench_forecast.py (the "cal" split) and checked on the others, is measured with
# `bench_forecast.py --calibrated` (bench/RESULTS.md) but its mix, not its spread, breaks six shipped guarantees on the
# model's own curve families: a logistic in log n forecast 2–15× late (the README example's interval [4,771, ∞] for a
# truth of 6,235), three rungs giving ∞, a steady rise's P(reachable) 0.76, a pure power-law loss +13.5% at 16×. The
# spread alone passes them but loses the gain. So it is not the default (bench/RESULTS.md, "Why `--calibrated` stays off").
MIX = {"logit": 0.0, "log": 0.0, "identity": 0.0}
SPREAD = {"logit": (1.0, 1.0, 1.0), "log": (1.0, 1.0, 1.0), "identity": (1.0, 1.0, 1.0)}
CALIBRATED = {"mix": {"logit": 0.75, "log": 1.0, "identity": 0.0},
              "spread": {"logit": (0.85, 1.2, 1.4), "log": (0.7, 0.85, 1.0), "identity": (1.0, 1.0, 1.0)}}
SPREAD_AT = np.log([4.0, 16.0, 32.0])
_EPS = 1e-4


@dataclass(frozen=True)
class Link:
    kind: str  # logit | log | identity
    direction: str  # higher | lower
    lo: float = 0.0
    hi: float = 1.0

    def z(self, y):
        y = np.asarray(y, dtype=float)
        if self.kind == "logit":
            u = (y - self.lo) / (self.hi - self.lo)
            u = np.clip(u if self.direction == "higher" else 1 - u, _EPS, 1 - _EPS)
            return np.log(u / (1 - u))
        if self.kind == "log":
            return -np.log(np.maximum(y, 1e-300))
        return y if self.direction == "higher" else -y

    def y(self, z):
        z = np.asarray(z, dtype=float)
        if self.kind == "logit":
            u = 1 / (1 + np.exp(-np.clip(z, -50, 50)))
            return self.lo + (self.hi - self.lo) * (u if self.direction == "higher" else 1 - u)
        if self.kind == "log":
            return np.exp(-np.clip(z, -700, 700))
        return z if self.direction == "higher" else -z

    def better(self, a, b):
        """a − b in the direction of improvement (positive: a is better)."""
        return (np.asarray(a) - np.asarray(b)) * (1 if self.direction == "higher" else -1)


def choose_link(values: np.ndarray, direction: str, bounds: tuple[float, float] | None) -> Link:
    if bounds is not None:
        return Link("logit", direction, float(bounds[0]), float(bounds[1]))
    if direction == "lower" and np.all(values > 0):
        return Link("log", direction)
    return Link("identity", direction)


def noise_variance(n: np.ndarray, y: np.ndarray, eval_n: np.ndarray | None, link: Link) -> tuple[float, str]:
    """Per-point noise variance on the score's scale, and where it came from."""
    rungs = np.unique(n)
    ss, df = 0.0, 0
    for r in rungs:
        v = y[n == r]
        if len(v) > 1:
            ss += float(((v - v.mean()) ** 2).sum())
            df += len(v) - 1
    seeds = ss / df if df else None
    binom = None
    if eval_n is not None and link.kind == "logit":
        w = link.hi - link.lo
        u = np.clip((y - link.lo) / w, 0.02, 0.98)
        binom = float(np.mean(u * (1 - u) / np.maximum(eval_n, 1))) * w * w
    scale = float(np.ptp(y)) if len(y) > 1 else 0.0
    floor = (1e-2 * ((link.hi - link.lo) if link.kind == "logit" else max(scale, abs(float(np.mean(y))), 1e-12))) ** 2
    if seeds is not None or binom is not None:
        var = max(seeds or 0.0, binom or 0.0)
        src = "seeds" if (seeds or 0.0) >= (binom or 0.0) else "binomial"
        return max(var, floor), src
    if len(rungs) >= 3:  # residuals of a straight line on the link scale
        lx, z = np.log(n), link.z(y)
        fit = np.polyval(np.polyfit(lx, z, 1), lx)
        var = float(((link.y(fit) - y) ** 2).sum()) / (len(y) - 2)
        return max(var, floor), "residuals"
    guess = 0.05 * ((link.hi - link.lo) if link.kind == "logit" else max(scale, abs(float(np.mean(y)))))
    return max(guess * guess, floor), "assumed (5% of the scale: too few points to measure it)"


@dataclass
class Forecast:
    """Posterior draws of a learning curve; every forecast is read from them."""

    link: Link
    target: float | None
    x0: float  # log of the last rung's size
    a: np.ndarray  # draws: link-scale value at the last rung
    b: np.ndarray  # draws: slope within the data
    b_out: np.ndarray  # draws: slope past the last rung (b·exp(ε))
    discrepancy: tuple[float, float]  # (mean, sd) of ε for this curve
    noise: float
    noise_from: str
    n_points: int
    n_rungs: int
    rung_lx: np.ndarray | None = None  # log sizes of the rungs, ascending
    rung_z: np.ndarray | None = None  # draws × rungs: each rung's mean redrawn with its noise, link scale
    notes: list[str] = field(default_factory=list)
    trend: object = None  # forecast.trend.Trend: the last rungs' measured slope, once `trend.follow` has looked
    power: tuple | None = None  # (A, B, c, sign): the power law with an asymptote fitted to the rungs (`fit_power`)
    mix: float = 0.0  # its share in the median's rise past the last rung (MIX)
    spread: tuple = (1.0, 1.0, 1.0)  # the draws' slope spread about their median at SPREAD_AT
    _curves: np.ndarray | None = None

    @property
    def n_draws(self) -> int:
        return len(self.a)

    def z_at(self, n) -> np.ndarray:
        """Draws × len(n) link-scale values: a + b·d within the rungs (d = log n − log n_last ≤ 0). Past the last
        rung, a + b_out·d as drawn, then calibrated: each slope's distance from the draws' median slope m scaled by
        the spread k at d (`spread`, interpolated in log n), and every draw moved by `mix`·(the power law's rise
        since the last rung − m·d), so the median rises as (1 − mix)·m·d + mix·(the power law's rise)."""
        n = np.atleast_1d(np.asarray(n, dtype=float))
        d = np.log(n)[None, :] - self.x0
        slope = np.where(d > 0, self.b_out[:, None], self.b[:, None])
        z = self.a[:, None] + slope * d
        w = self.mix if self.power is not None else 0.0
        if (not w and all(k == 1.0 for k in self.spread)) or (self.trend is not None and self.trend.share > 0):
            return z  # rungs that do not clearly rise: the measured trend decides (`trend.follow`), uncalibrated
        dp = np.maximum(d, 0.0)
        mb = float(np.median(self.b_out))
        k = np.interp(dp, SPREAD_AT, self.spread)
        k = np.where(dp < SPREAD_AT[0], 1.0 + (self.spread[0] - 1.0) * dp / SPREAD_AT[0], k)
        z = z + (k - 1.0) * (self.b_out[:, None] - mb) * dp
        if w:
            rise = self.link.z(power_y(self.power, n)) - self.link.z(power_y(self.power, math.exp(self.x0)))
            z = z + w * (np.where(dp[0] > 0, rise, 0.0)[None, :] - mb * dp)
        return z

    def at(self, n: float) -> np.ndarray:
        """Each draw's score at n."""
        return self.link.y(self.z_at([n])[:, 0])

    def band(self, n: float, level: float = 0.8) -> tuple[float, float, float]:
        q = (1 - level) / 2
        lo, med, hi = np.quantile(self.at(n), [q, 0.5, 1 - q])
        return float(lo), float(med), float(hi)

    @property
    def n_target(self) -> np.ndarray:
        """Per draw: the smallest size whose score reaches the target (∞ past N_MAX)."""
        if self.target is None:
            raise ValueError("this forecast has no target")
        zt = float(self.link.z(self.target))
        # past the measured rungs: the fitted line from the last rung on, with its discrepancy
        lx = self.x0 + np.maximum(zt - self.a, 0.0) / np.maximum(self.b_out, 1e-12)
        if ((self.mix and self.power is not None) or any(k != 1.0 for k in self.spread)) and \
                not (self.trend is not None and self.trend.share > 0):
            # a bent or rescaled extrapolation: the first size on a fine grid where the draw reaches the target
            xs = np.linspace(self.x0, math.log(N_MAX) + 0.01, 600)
            zz = self.z_at(np.exp(xs)) >= zt
            first = np.where(zz.any(1), zz.argmax(1), -1)
            lx = np.where(first >= 0, xs[np.maximum(first, 0)], 61.0)
        if self.rung_z is not None:
            # within them: where the (redrawn) rung means cross the target for good (every later rung
            # stays past it), interpolated in log n; at the first rung when it is passed from the start
            hit = self.rung_z >= zt
            R = hit.shape[1]
            miss = ~hit
            r = np.where(miss.any(1), R - miss[:, ::-1].argmax(1), 0)  # first rung after the last miss
            reached = r < R
            r = np.minimum(r, R - 1)
            rows = np.arange(len(r))
            z_hi, z_lo = self.rung_z[rows, r], self.rung_z[rows, np.maximum(r - 1, 0)]
            x_hi, x_lo = self.rung_lx[r], self.rung_lx[np.maximum(r - 1, 0)]
            frac = np.clip((zt - z_lo) / np.maximum(z_hi - z_lo, 1e-12), 0.0, 1.0)
            inside = np.where(r == 0, x_hi, x_lo + frac * (x_hi - x_lo))  # passed from the first rung: that rung
            lx = np.where(reached, inside, lx)
        n = np.exp(np.clip(lx, 0.0, 60.0))
        return np.where(n > N_MAX, np.inf, n)

    def n_target_interval(self, level: float = 0.8) -> tuple[float, float, float]:
        q = (1 - level) / 2
        v = np.quantile(self.n_target, [q, 0.5, 1 - q], method="inverted_cdf")  # inf-safe
        return float(v[0]), float(v[1]), float(v[2])

    def p_reachable(self, within: float = math.inf) -> float:
        """Share of draws that reach the target within `within` (and at all: by N_MAX)."""
        t = self.n_target
        return float(np.mean(np.isfinite(t) & (t <= within)))

    def gain_next_doubling(self, n_last: float) -> np.ndarray:
        """Per draw: improvement (in the score's better direction) from n_last to 2·n_last."""
        return self.link.better(self.at(2 * n_last), self.at(n_last))

    @property
    def curves(self) -> np.ndarray:
        """Draws × len(N_GRID) scores (tabulated once)."""
        if self._curves is None:
            self._curves = self.link.y(self.z_at(N_GRID))
        return self._curves

    def quantiles(self, q) -> np.ndarray:
        return np.quantile(self.curves, q, axis=0)


def power_y(p: tuple, n) -> np.ndarray:
    """The power law with an asymptote, y = A − sign·B·n^−c, at n."""
    A, B, c, sign = p
    return A - sign * B * np.power(np.asarray(n, dtype=float), -c)


def fit_power(rungs: np.ndarray, means: np.ndarray, counts: np.ndarray, link: Link) -> tuple | None:
    """Least squares of y = A − B·n^−c (a rising score; a falling one: A + B·n^−c) on the rung means, weighted by
    their points: c on a grid, A and B linear, B ≥ 0 and A within the bounds. None with fewer than three rungs."""
    if len(rungs) < 3:
        return None
    sign = 1.0 if link.direction == "higher" else -1.0
    y, w = sign * means, counts / counts.sum()
    top = (link.hi if sign > 0 else -link.lo) if link.kind == "logit" else (0.0 if link.kind == "log" else math.inf)
    best = None
    for c in np.geomspace(0.02, 3.0, 60):
        u = -np.power(rungs, -c)  # y = A + B·u, B ≥ 0
        ub, yb = float(w @ u), float(w @ y)
        var = float(w @ (u - ub) ** 2)
        B = max(float(w @ ((u - ub) * (y - yb))) / var, 0.0) if var > 0 else 0.0
        A = yb - B * ub
        if A > top:  # the asymptote at the bound: refit B alone
            A = top
            B = max(float(w @ (u * (y - A))) / max(float(w @ (u * u)), 1e-300), 0.0)
        sse = float(w @ (A + B * u - y) ** 2)
        if best is None or sse < best[0]:
            best = (sse, A, B, c)
    _, A, B, c = best
    return (sign * A, B, float(c), sign)


def discrepancy(link: Link, rungs: np.ndarray, means: np.ndarray) -> tuple[float, float]:
    """(mean, sd) of the slope's log-discrepancy past the last rung (see DISCREPANCY)."""
    mu, sd0, sd1 = DISCREPANCY[link.kind]
    d = 0.5
    if len(rungs) >= 3:
        z, x = link.z(means[-3:]), np.log(rungs[-3:])
        s1, s2 = (z[1] - z[0]) / (x[1] - x[0]), (z[2] - z[1]) / (x[2] - x[1])
        d = float(abs(s2 - s1) / max(abs(s1) + abs(s2), 1e-12))
    return mu, sd0 + sd1 * d


def forecast(n, value, eval_n=None, target: float | None = None, direction: str = "higher",
             bounds: tuple[float, float] | None = (0.0, 1.0), draws: int = 2000, seed: int = 0) -> Forecast:
    """Fit the curve to points (size n, score value[, eval_n items behind it]); one point per run.

    Several points at one size are seeds. Needs at least one point with n ≥ 1.
    """
    n = np.asarray(n, dtype=float)
    y = np.asarray(value, dtype=float)
    en = None if eval_n is None else np.asarray(eval_n, dtype=float)
    if len(n) == 0 or len(n) != len(y) or (en is not None and len(en) != len(n)):
        raise ValueError("need one value per size, and at least one point")
    if np.any(n < 1) or not np.all(np.isfinite(n)) or not np.all(np.isfinite(y)):
        raise ValueError("sizes must be ≥ 1 and every value finite")
    if direction not in ("higher", "lower"):
        raise ValueError("direction must be higher or lower")
    link = choose_link(y, direction, bounds)
    if bounds is not None and (np.any(y < link.lo) or np.any(y > link.hi)):
        raise ValueError(f"values must lie within the bounds [{link.lo:g}, {link.hi:g}]")
    if target is not None and link.kind == "logit" and not link.lo < target < link.hi:
        raise ValueError(f"the target must lie strictly within the bounds ({link.lo:g}, {link.hi:g})")
    if target is not None and link.kind == "log" and target <= 0:
        raise ValueError(f"--target {target}: a falling positive score (a loss) needs a positive target")
    s2, src = noise_variance(n, y, en, link)
    lx = np.log(n)
    x0 = float(lx.max())
    z = link.z(y)
    rungs = np.unique(n)
    zlast = float(np.mean(z[n == rungs[-1]]))
    span = max(float(np.ptp(z)), 1.0 if link.kind != "identity" else 0.0, math.sqrt(s2) * 4, 1e-9)
    med, sd = PRIOR[link.kind]
    if med is None:  # identity link: the slope's natural unit is the data's own spread per log-size
        med = max(float(np.ptp(y)), math.sqrt(s2)) / max(float(np.ptp(lx)), math.log(2))
    B = np.geomspace(med * math.exp(-5 * sd), med * math.exp(5 * sd), 151)
    A = np.linspace(zlast - 3 * span, zlast + 3 * span, 241)
    AA, BB = (g.ravel() for g in np.meshgrid(A, B, indexing="ij"))
    # per rung: k points with mean ȳ contribute k·(pred − ȳ)² (the within-rung spread is a constant)
    near = rungs[-WINDOW:]  # the tail decides where the curve goes next (see WINDOW)
    k = np.array([np.sum(n == r) for r in near], dtype=float)
    ybar = np.array([y[n == r].mean() for r in near])
    pred = link.y(AA[:, None] + BB[:, None] * (np.log(near)[None, :] - x0))
    with np.errstate(over="ignore"):  # a steep power-law line far off the data: likelihood 0, as it should be
        loglik = np.nan_to_num(-(k[None, :] * (pred - ybar[None, :]) ** 2).sum(1) / (2 * s2), nan=-np.inf)
    logprior = -((np.log(BB) - math.log(med)) ** 2) / (2 * sd * sd)
    lp = loglik + logprior
    w = np.exp(lp - lp.max())
    w /= w.sum()
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(w), size=draws, p=w)
    db = math.log(B[1] / B[0])
    # extrapolate from the last rung as measured (its mean redrawn with its noise), not from the line:
    # a bent curve's line misses its own last rung
    k_last = float(np.sum(n == rungs[-1]))
    y_last = float(y[n == rungs[-1]].mean()) + rng.normal(0.0, math.sqrt(s2 / k_last), draws)
    a = link.z(np.clip(y_last, link.lo, link.hi) if link.kind == "logit" else y_last)
    b = BB[idx] * np.exp(rng.uniform(-db / 2, db / 2, draws))
    mu_d, sd_d = discrepancy(link, rungs, np.array([y[n == r].mean() for r in rungs]))
    b_out = b * np.exp(rng.normal(mu_d, sd_d, draws))
    notes = []
    if len(rungs) < 3:
        notes.append(f"{len(rungs)} rung{'s' if len(rungs) > 1 else ''}: the slope comes mostly from the prior")
    if not src.startswith(("seeds", "binomial", "residuals")):
        notes.append(f"noise {src}")
    kr = np.array([np.sum(n == r) for r in rungs], dtype=float)
    yr = np.array([y[n == r].mean() for r in rungs])
    yd = yr[None, :] + rng.normal(0.0, 1.0, (draws, len(rungs))) * np.sqrt(s2 / kr)[None, :]
    if link.kind == "logit":
        yd = np.clip(yd, link.lo, link.hi)
    elif link.kind == "log":
        yd = np.maximum(yd, 1e-300)
    power = fit_power(rungs, yr, kr, link) if MIX[link.kind] else None
    return Forecast(link, target, x0, a, b, b_out, (mu_d, sd_d), s2, src, len(n), len(rungs), np.log(rungs), link.z(yd),
                    notes, power=power, mix=MIX[link.kind] if power is not None else 0.0, spread=tuple(SPREAD[link.kind]))
