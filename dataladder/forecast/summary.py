"""What `dataladder fit` answers about each curve of a POINTS file, as the `fit.json` document.

    from dataladder.forecast import read_points, summarize
    doc = summarize(read_points("curve.csv"), target=0.9, budget=2000)

fit.json (every interval is the 80% one of the forecaster's posterior draws; ∞ is written as null):
- `version` 1; `points_file`; `kind` (table | ladder | prefs | rl: what the file was); `x_name`, `y_name`
  (the size's and the score's names); `direction` (higher | lower: which way is better); `bounds`
  ([lo, hi] for a bounded score, null when unbounded); `target` (null: none); `budget` (largest size
  worth paying for, null: none); `delta` (smallest gain per doubling worth paying for); `at` (the
  sizes asked for with --at; null: 2×, 4× and 16× each curve's last rung); `notes` (about the file).
- `curves[]`, one per curve:
  - `name` (null for a file with one unnamed curve); `link` (logit | log | identity: the scale on
    which the curve is straight in log n, see `dataladder/forecast/model.py`);
  - `rungs[]`: `n`, `mean`, `min`, `max`, `points` (the values at that size: seeds), `eval_n` (items
    behind the rung, summed over its points; null when unknown);
  - `n_target`: `median`, `lo80`, `hi80` — the size at which the score reaches the target (null
    without a target); `p_reachable` (that it is reached by 10^7 at all); `p_within_budget`;
  - `at[]`: `n`, `median`, `lo80`, `hi80` — the score forecast at that size;
  - `gain_next_doubling`: `from_n`, `to_n`, `mean`, `lo80`, `hi80` — the improvement (positive is
    better, in either direction) from the last rung to twice its size;
  - `verdict`: `rule` (target-reached | not-improving | diminishing-returns | unreachable-within-budget |
    continue; on a ladder's document also budget-exhausted | data-exhausted), `reason` (one sentence), and
    the numbers the rules used: `last_mean`, `se_last`, `gain_threshold`, `p_gain_below_threshold`, `rose`,
    `p_within_budget`, `slope_per_doubling`, `slope_lo80`, `slope_hi80` (the last three rungs' measured
    trend, `forecast/trend.py`; null with fewer rungs); `decided_as` "ladder" on a ladder's document;
  - `noise`: `sd` (per point, on the score's scale) and `from` (seeds | binomial | residuals | assumed…);
  - `notes` (the forecaster's); `curve`: `n`, `median`, `lo80`, `hi80` on a coarse log grid from
    half the first rung to the largest of the --at sizes, 16× the last rung and the median n_target.

The forecast follows the last three rungs' measured trend where they do not rise (`forecast/trend.py`),
as a ladder's fit does. The verdict mirrors `dataladder/forecast/stop.py` on general scores: target-reached
when the last rung's mean is at or past the target; not-improving when the last three rungs' measured
slope is ≤ 0 and the curve has nothing to show (no rise of two standard errors since its first rung, or a
fall of two below its best); diminishing-returns when P(gain of the next doubling < max(standard error of
the last rung's mean, δ)) ≥ 0.8, once the curve rose by more than two standard errors since its first
rung; unreachable-within-budget when P(target reached within --budget) < 0.1. A ladder's document (its
target, δ and budget unchanged, or changed with --target, --delta, --budget) is decided by the ladder's
own rule instead, with the knobs it recorded, on the very posterior it drew: the same verdict and size
as the ladder (`ladder_verdict`).
"""

from __future__ import annotations

import math

import numpy as np

from dataladder.core.errors import InputError
from dataladder.forecast.model import N_MAX, Forecast, forecast
from dataladder.forecast.points import Curve, Points
from dataladder.forecast.trend import follow, measured_trend
from dataladder.forecast.stop import P_GAIN, P_REACH, not_improving  # the climb's stop rule, on general scores



def _fin(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def resolve_bounds(points: Points, direction: str, bounds) -> tuple[tuple[float, float] | None, str]:
    """`bounds` "auto": [0, 1] for higher-is-better scores with eval_n on every point, else unbounded."""
    if bounds != "auto":
        return (None if bounds is None else (float(bounds[0]), float(bounds[1]))), "option"
    if direction == "higher" and all(c.has_eval_n for c in points.curves):
        return (0.0, 1.0), "default"
    return None, "default"


def check_values(points: Points, bounds: tuple[float, float] | None, source: str) -> None:
    """Every value within the bounds, or an InputError naming the point's line."""
    if bounds is None:
        return
    lo, hi = bounds
    for c in points.curves:
        for v, where in zip(c.value, c.where):
            if not lo <= v <= hi:
                why = " (the default for higher-is-better scores with eval_n)" if source == "default" else ""
                raise InputError(f"field 'value': {v:g} lies outside the bounds {lo:g},{hi:g}{why}; pass --bounds "
                                 "lo,hi to match the score's range, or --bounds none", where)


def rungs(c: Curve) -> list[dict]:
    out = []
    for n in sorted(set(c.n)):
        idx = [i for i, x in enumerate(c.n) if x == n]
        vals = [c.value[i] for i in idx]
        ens = [c.eval_n[i] for i in idx]
        out.append({"n": n, "mean": float(np.mean(vals)), "min": min(vals), "max": max(vals), "points": vals,
                    "eval_n": sum(ens) if all(e is not None for e in ens) else None})
    return out


def _text(rule: str, v: dict, next_n: float, budget: float | None = None) -> str:
    """The verdict's sentence from its numbers."""
    if rule == "target-reached":
        at = v.get("reached_at")
        return (f"the target was reached at {at:,.0f} and confirmed" if at is not None else
                f"the last rung's mean {v['last_mean']:.4g} is at or past the target")
    if rule == "not-improving":
        return (f"the last rungs are flat or falling: {v['slope_per_doubling']:+.3g} per doubling (80%: "
                f"{v['slope_lo80']:+.3g} to {v['slope_hi80']:+.3g})")
    if rule == "diminishing-returns":
        return (f"the next doubling gains less than {v['gain_threshold']:.3g} with probability "
                f"{v['p_gain_below_threshold']:.2f} (≥ {P_GAIN})")
    if rule == "unreachable-within-budget":
        within = f" {budget:,.0f}" if budget is not None else ""
        return f"P(target within the budget{within}) is {v['p_within_budget']:.2f} (< {P_REACH})"
    if rule in ("budget-exhausted", "data-exhausted"):
        return v.get("why") or f"the next rung {next_n:,.0f} lies past the budget"
    return v.get("why") or (f"the next doubling likely gains ≥ {v['gain_threshold']:.3g} (P(less) "
                            f"{v['p_gain_below_threshold']:.2f} < {P_GAIN}); measure {next_n:,.0f}")


def _trend_numbers(fc: Forecast) -> dict:
    if fc.trend is None:
        return {"slope_per_doubling": None, "slope_lo80": None, "slope_hi80": None}
    lo, hi = fc.trend.interval(0.8)
    return {"slope_per_doubling": fc.trend.slope, "slope_lo80": lo, "slope_hi80": hi}


def verdict(fc: Forecast, rs: list[dict], target: float | None, budget: float | None, delta: float) -> dict:
    """The stop rule a climb would apply now, on general scores (see the module docstring)."""
    last, first = rs[-1], rs[0]
    better = fc.link.better
    ses = [math.sqrt(fc.noise / len(r["points"])) for r in rs]
    se_last, se_first = ses[-1], ses[0]
    threshold = max(se_last, delta)
    gain = fc.gain_next_doubling(last["n"])
    p_small = float(np.mean(gain < threshold))
    rose = len(rs) > 1 and float(better(last["mean"], first["mean"])) > 2 * max(se_last, se_first)
    p_budget = fc.p_reachable(budget) if budget is not None and target is not None else None
    detail = {"last_mean": last["mean"], "se_last": se_last, "gain_threshold": threshold,
              "p_gain_below_threshold": p_small, "rose": bool(rose), "p_within_budget": p_budget, **_trend_numbers(fc)}
    if target is not None and float(better(last["mean"], target)) >= 0:
        rule = "target-reached"
    elif not_improving(fc.trend, [float(better(r["mean"], 0.0)) for r in rs], ses):
        rule = "not-improving"
    elif rose and p_small >= P_GAIN:
        rule = "diminishing-returns"
    elif p_budget is not None and p_budget < P_REACH:
        rule = "unreachable-within-budget"
    else:
        rule = "continue"
        if len(rs) == 1:
            detail["why"] = f"one rung: returns cannot be judged yet; measure {2 * last['n']:,.0f}"
        elif not rose:
            detail["why"] = (f"no rise of more than two standard errors ({2 * max(se_last, se_first):.3g}) since the "
                             f"first rung yet; measure {2 * last['n']:,.0f}")
    return {"rule": rule, "reason": _text(rule, detail, 2 * last["n"], budget), **detail}


def ladder_verdict(fc: Forecast, lad: dict, target: float, budget: float, delta: float, own: bool) -> dict:
    """The verdict of a ladder document's curve: the ladder's own stop rule (`forecast.stop.decide`) with the knobs
    it decided with (`points.ladder_rule`), on its pooled rungs and base, so an unchanged document gets the
    ladder's own answer. `own`: target, δ and budget are the ladder's; then a stop the document records but this
    cannot recompute (the data pool, or a kind's own twist on the rule) is kept, and a difference noted."""
    from dataladder.forecast.stop import RungScore, decide

    scores = [RungScore(n, c, t) for n, c, t in lad["rungs"]]
    base = RungScore(0, *lad["base"])
    last, spend = scores[-1], min(budget, lad["max_examples"]) if own else budget
    time_left = math.inf if lad["time_left_s"] is None else lad["time_left_s"]
    d = decide(scores, base, fc if len(scores) >= 3 else None, target, lad["next_n"], spend, time_left, delta,
               lad["min_rungs"], lad["min_examples"])
    rule = d.reason or "continue"
    if rule == "budget-exhausted" and lad["next_n"] > spend and spend < lad["budget"]:
        rule = "data-exhausted"  # as the engine says it: the data ran out before the budget
    threshold = max(last.se, delta)
    gain = fc.gain_next_doubling(last.n)
    detail = {"last_mean": last.accuracy, "se_last": last.se, "gain_threshold": threshold,
              "p_gain_below_threshold": float(np.mean(gain < threshold)),
              "rose": bool(last.accuracy - base.accuracy > 2 * max(last.se, base.se)),
              "p_within_budget": fc.p_reachable(spend), **_trend_numbers(fc),
              **{k: d.detail[k] for k in ("reached_at", "why") if k in d.detail}}
    if rule == "continue" and not (len(scores) >= lad["min_rungs"] and last.n >= lad["min_examples"]):
        detail["why"] = (f"the fit may stop this ladder from {lad['min_rungs']} rungs and n ≥ "
                         f"{lad['min_examples']:,} on; measure {lad['next_n']:,}")
    text = _text(rule, detail, lad["next_n"], spend)
    if own and lad["reason"] and lad["reason"] != rule:
        note = f"the stop rule applied now to these rungs says {rule}"
        rule, detail["why"] = lad["reason"], lad.get("why")
        text = _text(rule, detail, lad["next_n"], spend) + f" (as the ladder decided; {note})"
    return {"rule": rule, "reason": text, "decided_as": "ladder", **detail}


def _band(fc: Forecast, ns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ys = fc.link.y(fc.z_at(np.asarray(ns, dtype=float)))
    lo, med, hi = np.quantile(ys, [0.1, 0.5, 0.9], axis=0)
    return lo, med, hi


def summarize_curve(c: Curve, target: float | None = None, direction: str = "higher",
                    bounds: tuple[float, float] | None = None, at=None, budget: float | None = None,
                    delta: float = 0.0, draws: int = 2000, seed: int = 0) -> dict:
    """One curve's block of fit.json (see the module docstring)."""
    en = c.eval_n if c.has_eval_n else None
    lad = c.ladder if c.ladder and bounds == (0.0, 1.0) and direction == "higher" and target is not None else None
    if lad:  # redraw the very posterior the ladder drew (ladder/fit.py `fit_curve`, seeded by the engine)
        draws, seed = lad["draws"], lad["seed"]
    try:
        fc = forecast(c.n, c.value, en, target=target, direction=direction, bounds=bounds, draws=draws, seed=seed)
    except ValueError as e:
        raise InputError(f"{e}" + (f" (curve {c.name!r})" if c.name else "")) from None
    fc = follow(fc, measured_trend(fc, c.n, c.value, en))
    rs = rungs(c)
    n_first, n_last = rs[0]["n"], rs[-1]["n"]
    out: dict = {"name": c.name, "link": fc.link.kind, "rungs": rs}
    if target is not None:
        lo, med, hi = fc.n_target_interval(0.8)
        out["n_target"] = {"median": _fin(med), "lo80": _fin(lo), "hi80": _fin(hi)}
        out["p_reachable"] = fc.p_reachable()
        out["p_within_budget"] = fc.p_reachable(budget) if budget is not None else None
    else:
        out["n_target"], out["p_reachable"], out["p_within_budget"] = None, None, None
    sizes = list(at) if at else [2 * n_last, 4 * n_last, 16 * n_last]
    blo, bmed, bhi = _band(fc, sizes)
    out["at"] = [{"n": float(n), "median": float(m), "lo80": float(lo), "hi80": float(hi)}
                 for n, lo, m, hi in zip(sizes, blo, bmed, bhi)]
    g = fc.gain_next_doubling(n_last)
    out["gain_next_doubling"] = {"from_n": n_last, "to_n": 2 * n_last, "mean": float(g.mean()),
                                 "lo80": float(np.quantile(g, 0.1)), "hi80": float(np.quantile(g, 0.9))}
    if lad:
        own = lad["target"] is not None and abs(target - min(max(lad["target"], 1e-6), 1 - 1e-6)) < 1e-12 \
            and delta == lad["delta"] and budget in (None, lad["budget"])
        rule_target = lad["target"] if own else target  # the ladder judges its unclipped target (1.0 stays 1.0)
        out["verdict"] = ladder_verdict(fc, lad, rule_target, lad["budget"] if budget is None else budget, delta, own)
    else:
        out["verdict"] = verdict(fc, rs, target, budget, delta)
    out["noise"] = {"sd": math.sqrt(fc.noise), "from": fc.noise_from}
    out["notes"] = list(fc.notes)
    worse = float(fc.link.better(rs[-1]["mean"], rs[0]["mean"]))
    if len(rs) > 1 and worse < -2 * math.sqrt(fc.noise):  # the data move against the stated direction
        other = "lower" if direction == "higher" else "higher"
        out["notes"].append(f"the score gets worse from the first rung to the last ({rs[0]['mean']:.4g} → "
                            f"{rs[-1]['mean']:.4g}) for --direction {direction}; did you mean --direction {other}?")
    med_t = (out["n_target"] or {}).get("median")
    top = min(max([16 * n_last, *sizes, med_t or 0]), N_MAX)
    grid = np.geomspace(n_first / 2, top, 48)
    glo, gmed, ghi = _band(fc, grid)
    out["curve"] = {"n": [float(x) for x in grid], "median": gmed.tolist(), "lo80": glo.tolist(), "hi80": ghi.tolist()}
    return out


def summarize(points: Points, target: float | None = None, direction: str | None = None, bounds="auto", at=None,
              budget: float | None = None, delta: float | None = None, draws: int = 2000, seed: int = 0) -> dict:
    """The fit.json document for every curve in `points`. Unset target, direction and δ fall back to a result
    document's own (a ladder.json's config); `bounds` "auto" picks [0, 1] for higher-is-better scores with eval_n."""
    d = points.defaults
    direction = direction or d.get("direction") or "higher"
    if direction not in ("higher", "lower"):
        raise InputError(f"direction {direction!r}: expected higher or lower")
    bnds, source = resolve_bounds(points, direction, bounds)
    notes = []
    if target is None and d.get("target") is not None:
        target = float(d["target"])
        if bnds is not None:  # a ladder's target may be the bound itself (1.0); the forecaster needs it inside
            target = min(max(target, bnds[0] + 1e-6), bnds[1] - 1e-6)
        notes.append(f"target {target:g} from the document's config")
    if delta is None:
        delta = float(d.get("delta", 0.0))
    if budget is None and d.get("budget") is not None:
        budget = float(d["budget"])
        notes.append(f"budget {budget:,.0f} from the document's config")
    check_values(points, bnds, source)
    if bnds is None and direction == "higher" and all(0 <= v <= 1 for c in points.curves for v in c.value):
        notes.append("values lie in [0, 1] but are treated as unbounded; pass --bounds 0,1 for a score that "
                     "saturates at 1")
    curves = [summarize_curve(c, target, direction, bnds, at, budget, delta, draws, seed) for c in points.curves]
    return {"version": 1, "points_file": points.path, "kind": points.kind, "x_name": points.x_name,
            "y_name": points.y_name, "direction": direction, "bounds": list(bnds) if bnds else None,
            "target": target, "budget": budget, "delta": delta, "at": list(at) if at else None, "notes": notes,
            "curves": curves}
