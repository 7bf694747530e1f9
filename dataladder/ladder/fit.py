"""The ladders' curve fits: accuracy against data size, through the shared forecaster.

`fit_curve` turns a ladder's (n, correct, n_eval) points — one per (rung, seed) — into a
`dataladder.forecast.Forecast` of a bounded score (accuracy in [0, 1], binomial noise from the
eval size) that follows the last rungs' measured trend where they do not rise (`forecast/trend.py`);
`summarize_fit` is its JSON block in ladder.json, prefs.json and rl.json. The model itself, its
priors and calibration are documented in `dataladder/forecast/model.py`.
"""

from __future__ import annotations

import math

import numpy as np

from dataladder.forecast.model import N_GRID, PRIOR, Forecast, forecast
from dataladder.forecast.trend import follow, measured_trend

CurveFit = Forecast  # the ladders' name for it
__all__ = ["N_GRID", "CurveFit", "fit_curve", "summarize_fit", "forecast_block", "forecast_text", "saturation"]


def fit_curve(points: list[tuple[float, int, int]], target: float, n_boot: int = 200, seed: int = 0) -> Forecast:
    """Fit (n, correct, n_eval) points; `n_boot` posterior draws (at least 1,000 are taken). Where the last
    rungs do not rise, the draws follow their measured trend (`dataladder/forecast/trend.py`): `fit.trend`."""
    pts = [p for p in points if p[0] >= 1 and p[2] > 0]
    if not pts:
        raise ValueError("no curve can be fitted without a rung of at least one example")
    n, value, items = [p[0] for p in pts], [p[1] / p[2] for p in pts], [p[2] for p in pts]
    fc = forecast(n, value, items, target=min(max(target, 1e-6), 1 - 1e-6), direction="higher", bounds=(0.0, 1.0),
                  draws=max(n_boot, 1000), seed=seed)
    return follow(fc, measured_trend(fc, n, value, items))


def _fin(v: float) -> float | None:
    return None if not math.isfinite(v) else float(v)


def forecast_block(fit: Forecast | None, n_last: int) -> dict | None:
    """What a ladder records after each rung from the third: the size that reaches the target
    (median and 80% interval; None for never) and the chance it is reachable at all."""
    if fit is None:
        return None
    lo, med, hi = fit.n_target_interval(0.8)
    return {"after_n": n_last, "n_target": {"median": _fin(med), "lo80": _fin(lo), "hi80": _fin(hi)},
            "p_reachable": fit.p_reachable()}


def forecast_text(block: dict | None, target: float) -> str:
    """' · forecast n for ≥ 0.9: 310 (80%: 120–900)', or '' before the third rung."""
    if not block:
        return ""
    nt = block["n_target"]
    show = lambda v: "∞" if v is None else f"{v:,.0f}"  # noqa: E731
    return f" · forecast n for ≥ {target:g}: {show(nt['median'])} (80%: {show(nt['lo80'])}–{show(nt['hi80'])})"


def summarize_fit(fit: Forecast | None, n_last: int, budget: int) -> dict | None:
    """The JSON summary of a ladder's fit: the model, the size that reaches the target (80%
    interval), reachability overall and within `budget`, the gain of the next doubling after
    `n_last`, and the fitted curve's median and 80% band on every 20th grid point."""
    if fit is None:
        return None
    lo, med, hi = fit.n_target_interval(0.8)
    gain = fit.gain_next_doubling(n_last)
    q = fit.quantiles([0.1, 0.5, 0.9])
    keep = range(0, len(N_GRID), 20)
    return {
        "model": {"link": fit.link.kind, "slope_prior": PRIOR[fit.link.kind], "slope_discrepancy": list(fit.discrepancy),
                  "noise_sd": math.sqrt(fit.noise), "noise_from": fit.noise_from, "notes": fit.notes,
                  "power_share": float(len(fit.power_rows)) / fit.n_draws, "spread": list(fit.spread) if fit.spreads else None,
                  "prior_share": fit.learned.gate if fit.learned is not None else 0.0},
        "draws": fit.n_draws,
        "n_target": {"median": _fin(med), "lo80": _fin(lo), "hi80": _fin(hi)},
        "p_reachable": fit.p_reachable(), "p_reach_within_budget": fit.p_reachable(budget),
        "gain_next_doubling": {"mean": float(gain.mean()), "lo80": float(np.quantile(gain, 0.1)),
                               "hi80": float(np.quantile(gain, 0.9))},
        "curve": {"n": [float(N_GRID[i]) for i in keep], "median": [float(q[1][i]) for i in keep],
                  "lo80": [float(q[0][i]) for i in keep], "hi80": [float(q[2][i]) for i in keep]},
    }


def saturation(fit, delta: float, n_min: float, n_max_measured: float) -> dict:
    """The count past which 10× more pairs gains less than `delta`, per posterior draw of the curve.

    For each drawn curve, n_sat is the smallest grid n ≥ n_min such that the gain from m to
    10m stays below δ for every m ≥ n (before a sigmoid's rise the gain is small too, so the last
    n with a gain ≥ δ decides); ∞ when the curve still gains δ per decade at 10^6.
    """
    ln = np.log(N_GRID)
    use = (N_GRID >= n_min) & (N_GRID <= 1e6)
    grid = N_GRID[use]
    sats, gains_here = [], []
    for c in fit.curves:
        gain = np.interp(np.log(grid * 10), ln, c) - np.interp(np.log(grid), ln, c)
        big = np.flatnonzero(gain >= delta)
        if len(big) == 0:
            sats.append(float(grid[0]))
        elif big[-1] + 1 < len(grid):
            sats.append(float(grid[big[-1] + 1]))
        else:
            sats.append(math.inf)
        gains_here.append(float(np.interp(math.log(10 * n_max_measured), ln, c) - np.interp(math.log(n_max_measured), ln, c)))
    s = np.array(sats)
    q = np.quantile(s, [0.1, 0.5, 0.9], method="inverted_cdf")
    fin = lambda v: None if not math.isfinite(v) else float(v)  # noqa: E731
    g = np.array(gains_here)
    return {"delta": delta, "median": fin(q[1]), "lo80": fin(q[0]), "hi80": fin(q[2]),
            "p_saturated": float(np.mean(np.isfinite(s))),
            "p_saturated_by_largest_rung": float(np.mean(s <= n_max_measured)),
            "gain_10x_at_largest_rung": {"n": n_max_measured, "mean": float(g.mean()),
                                         "lo80": float(np.quantile(g, 0.1)), "hi80": float(np.quantile(g, 0.9))}}
