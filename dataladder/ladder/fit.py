"""The ladders' curve fits: accuracy against data size, through the shared forecaster.

`fit_curve` turns a ladder's (n, correct, n_eval) points — one per (rung, seed) — into a
`dataladder.forecast.Forecast` of a bounded score (accuracy in [0, 1], binomial noise from the
eval size); `summarize_fit` is its JSON block in ladder.json, prefs.json and rl.json. The model
itself, its priors and calibration are documented in `dataladder/forecast/model.py`.
"""

from __future__ import annotations

import math

import numpy as np

from dataladder.forecast.model import DISCREPANCY, N_GRID, PRIOR, Forecast, forecast

CurveFit = Forecast  # the ladders' name for it
__all__ = ["N_GRID", "CurveFit", "fit_curve", "summarize_fit", "forecast_block", "forecast_text"]


def fit_curve(points: list[tuple[float, int, int]], target: float, n_boot: int = 200, seed: int = 0) -> Forecast:
    """Fit (n, correct, n_eval) points; `n_boot` posterior draws (at least 1,000 are taken)."""
    pts = [p for p in points if p[0] >= 1 and p[2] > 0]
    if not pts:
        raise ValueError("no curve can be fitted without a rung of at least one example")
    return forecast([p[0] for p in pts], [p[1] / p[2] for p in pts], [p[2] for p in pts], target=min(max(target, 1e-6), 1 - 1e-6),
                    direction="higher", bounds=(0.0, 1.0), draws=max(n_boot, 1000), seed=seed)


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
        "model": {"link": fit.link.kind, "slope_prior": PRIOR[fit.link.kind], "slope_discrepancy": DISCREPANCY[fit.link.kind],
                  "noise_sd": math.sqrt(fit.noise), "noise_from": fit.noise_from, "notes": fit.notes},
        "draws": fit.n_draws,
        "n_target": {"median": _fin(med), "lo80": _fin(lo), "hi80": _fin(hi)},
        "p_reachable": fit.p_reachable(), "p_reach_within_budget": fit.p_reachable(budget),
        "gain_next_doubling": {"mean": float(gain.mean()), "lo80": float(np.quantile(gain, 0.1)),
                               "hi80": float(np.quantile(gain, 0.9))},
        "curve": {"n": [float(N_GRID[i]) for i in keep], "median": [float(q[1][i]) for i in keep],
                  "lo80": [float(q[0][i]) for i in keep], "hi80": [float(q[2][i]) for i in keep]},
    }
