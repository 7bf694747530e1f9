"""Benchmark: forecasting the data a target needs from small rungs, on learning curves nobody here made.

    .venv/bin/pip install -e '.[bench]'        # lcdb (68 MB): the Learning Curve Database
    .venv/bin/python bench/bench_forecast.py [--limit N] [--no-previous]   # the fixed-rung protocol (issue 25), ≈ 6 min
    .venv/bin/python bench/bench_forecast.py --no-previous --recentre 1   # beside it, the bands recentred (`recentred`)
    .venv/bin/python bench/bench_forecast.py --no-previous --candidate    # beside it, `CANDIDATE` (the trees, `forecast.trees`)

The fixed-rung protocol (the default; `fixed_case`): rungs are the doublings from a curve's first size up to its
source's LAST_RUNG (LCDB 256, Llama-2 256, RoBERTa 50, synthetic losses 12,800) whatever the target; scores at 4×,
16×, 32× and 64× past the last rung (where the curve has that size) against three baselines (last value, power law
with asymptote, logit / log-log line) and, on losses, a fourth: the rectified law of Lin et al. 2024 (the issue's
yardstick there); targets picked after the rungs, the size for each read from ours, from each baseline fitted to every
rung (where each first reaches it, `baseline_sizes`) and from the no-score row (the typical horizon); a calibration split and a check split (`lcdb_fixed_cases`, `finetune_fixed_cases`),
reported side by side, for the shipped forecaster and (unless --no-previous) the previous one beside it (the same
without the prior learned from real curves, `forecast.stack`: `PREVIOUS`),
with the ratios of the two. LCDB even ids, ../shared/curves/finetune_curves.csv and synthetic losses. `--curves FILE`
adds a file's curves as a split of their own, never calibrated on (`file_fixed_cases`; `--last-rung`), as a judge
would feed held-out curves:

    .venv/bin/python bench/bench_forecast.py --no-previous --curves losses.csv --direction lower --last-rung 102400

--horizon applies to the retired protocol only. Everything below is the retired quarter-of-the-truth protocol
(`--protocol quarter`), kept for its record; its rungs leak where the truth is:

    .venv/bin/python bench/bench_forecast.py --protocol quarter [--limit 0] [--boot 30] [--horizon 2|mixed]
    .venv/bin/python bench/bench_forecast.py --protocol quarter --curves losses.csv --direction lower --no-lcdb

Sources
- LCDB (`lcdb` package, database-accuracy.csv): test accuracy against training size, 20 learners ×
  ~246 OpenML datasets, sizes 16·√2^k, up to 25 seeds. **Even OpenML ids only**: the odd ids are
  held out for judging and are never read here (`--lcdb-ids odd` exists for the judge; it was never run
  in this project).
- The shipped model's dense sweeps from `bench/bench_climb.py` (bench/out/sweeps.json; run that
  first, or pass --sweeps), rungs 20·√2^k, 3 seeds.
- `--curves FILE` (repeatable): any curves in the format `dataladder fit` reads (CSV, JSONL, JSON or
  Parquet; columns `n`, `value`, optional `seed`, `eval_n`, `curve`), e.g. published fine-tuning loss
  curves with `--direction lower`. Bounds as in `fit`: [0, 1] for higher-is-better scores with `eval_n`,
  unbounded otherwise (`--bounds` overrides).
- `--synthetic-loss N`: N loss curves of the rectified law's shape that we made (see
  `synthetic_loss_rows`), to check the falling-score path; not a stand-in for the paper's curves.

Protocol, per curve (learner × dataset, skill, or the file's `curve`): curves that improve by ≥ 0.08
(accuracy points for bounded scores, a relative 8% otherwise) from the first size to the largest;
targets at 50% and 80% of that improvement; the truth is where the seed-mean curve first reaches the
target (log-interpolated); rungs at the first size, 2×, 4×, … up to a quarter of the truth, two seeds
each (the first two); at least --min-rungs rungs (3: a climb's first fit). On a file's grid (1-2-5,
half-decade, …) each next rung is the next size at least twice the last, and the score "8× past" is
read at a size within 25% of 8×. A file's curves that give no case are counted and said why. Each
forecaster sees only the rungs and the eval size behind each score.

The protocol itself says where the truth is: the rungs stop at a quarter of it, so it lies in [4, 8)
times the last rung, and the curve has reached the target by 8× the last rung. The "protocol only" row
reads no score: it forecasts √32 times the last rung with [4, 8) as its interval, and the target itself
as the score 8× past the last rung. `--horizon mixed` removes most of that: each case's rungs stop at
truth/2^h, h from 1 to 5 (a fixed pseudo-random draw per case), so the truth lies 2–64× past the last
rung, not always in one octave (a constant guess still does fairly well there: see bench/RESULTS.md).

Forecasters, side by side: ours (`dataladder.forecast.forecast`), a single power law
(acc = A − B·n^−β; loss = A + B·n^−β) and the rectified law of Lin et al. 2024 (err or loss =
E + B/(D_l + n^β)), both least squares with --boot bootstrap refits (seeds resampled within rungs)
for their intervals.

Reported per source and forecaster: share of predicted sizes within 2× of the truth, median
|log10(pred/true)| (a "never" counts as infinitely wrong), 80% interval coverage, share of
intervals finite and at most 10× wide, mean |error| of the score forecast 8× past the last rung
(where the curve has that size) with its 80% band's coverage, the 80% band's coverage 16× past the
last rung, and seconds per forecast.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import time
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from dataladder.core.errors import InputError
from dataladder.forecast.model import N_MAX, forecast

GRID = np.geomspace(1, N_MAX, 3000)


def crossing(sizes, values, target, sign: int = 1) -> float | None:
    """Where the curve first reaches the target (sign −1: falls to it), log-interpolated between sizes."""
    v = [sign * a for a in values]
    t = sign * target
    for i, a in enumerate(v):
        if a >= t:
            if i == 0:
                return float(sizes[0])
            a0 = v[i - 1]
            f = (t - a0) / (a - a0) if a > a0 else 1.0
            return float(math.exp(math.log(sizes[i - 1]) + f * (math.log(sizes[i]) - math.log(sizes[i - 1]))))
    return None


def horizon_of(name: str, frac: float, horizon: str) -> int:
    """The rungs stop at truth/2^h: h = 2 (the issue's protocol), or 1–5 drawn per case (`mixed`)."""
    return 1 + zlib.crc32(f"{name}|{frac}".encode()) % 5 if horizon == "mixed" else int(horizon)


def curve_cases(name, sizes, mean, seeds_at, eval_n_at, min_rungs, direction="higher", bounded=True,
                horizon="2", any_grid=False) -> list[dict]:
    """The protocol's cases of one curve (see the module docstring)."""
    sign = 1 if direction == "higher" else -1
    start, gain = mean[0], sign * (mean[-1] - mean[0])
    if gain < (0.08 if bounded else 0.08 * abs(start)):
        return []
    out = []
    for frac in (0.5, 0.8):
        target = start + sign * frac * gain
        truth = crossing(sizes, mean, target, sign)
        h = horizon_of(name, frac, horizon)
        rungs = [(n, seeds_at(n)[:2], eval_n_at(n)) for n in doublings(sizes, any_grid) if n <= truth / 2 ** h]
        if len(rungs) < min_rungs:
            continue
        last = rungs[-1][0]
        out.append({"name": name, "frac": frac, "target": target, "truth": truth, "rungs": rungs,
                    "direction": direction, "bounded": bounded, "horizon": h,
                    "future": at_size(sizes, mean, 8 * last, any_grid), "future16": at_size(sizes, mean, 16 * last, any_grid)})
    return out


def doublings(sizes, any_grid: bool = False) -> list:
    """The rungs a ladder doubling from the first size would have: the exact doublings present (LCDB's
    16·√2^k, the issue's protocol); with `any_grid` (a file's grid: doubling, 1-2-5, half-decade…), each
    next size at least twice the last one taken, which on a doubling grid are the same rungs."""
    if not any_grid:
        out, n = [], sizes[0]
        while n <= sizes[-1]:
            if n in sizes:
                out.append(n)
            n *= 2
        return out
    out = [sizes[0]]
    for n in sizes[1:]:
        if n >= 2 * out[-1] * (1 - 1e-9):
            out.append(n)
    return out


def at_size(sizes, mean, n, any_grid: bool = False) -> tuple | None:
    """(size, seed-mean) at n; with `any_grid`, at the size within 25% of n when n is not on the grid."""
    if n in sizes:
        return n, mean[sizes.index(n)]
    if not any_grid:
        return None
    near = min(sizes, key=lambda s: abs(math.log(s / n)))
    return (near, mean[sizes.index(near)]) if abs(math.log(near / n)) <= math.log(1.25) else None


def lcdb_cases(min_rungs: int, horizon: str = "2", ids: str = "even") -> list[dict]:
    import pandas as pd

    spec = importlib.util.find_spec("lcdb")
    if spec is None:
        raise SystemExit("bench_forecast: the lcdb package is missing: .venv/bin/pip install -e '.[bench]'")
    path = os.path.join(spec.submodule_search_locations[0], "database-accuracy.csv")
    df = pd.read_csv(path, usecols=["openmlid", "learner", "size_train", "size_test", "outer_seed", "inner_seed", "score_test"])
    df = df[df.openmlid % 2 == (0 if ids == "even" else 1)]  # the odd ids are held out for judging
    cases = []
    for (oid, learner), g in df.sort_values(["outer_seed", "inner_seed"]).groupby(["openmlid", "learner"]):
        m = g.groupby("size_train").score_test.mean()
        by = {int(s): gg for s, gg in g.groupby("size_train")}
        cases += curve_cases(f"{oid}/{learner}", [int(s) for s in m.index], [float(v) for v in m.values],
                             lambda n: [float(v) for v in by[n].score_test.values],
                             lambda n: int(by[n].size_test.values[0]), min_rungs, horizon=horizon)
    return cases


def sweep_cases(path: Path, min_rungs: int, horizon: str = "2") -> list[dict]:
    if not path.exists():
        return []
    cases = []
    for skill, s in json.loads(path.read_text()).items():
        sizes = s["sizes"]
        cases += curve_cases(f"tiny-arith/{skill}", sizes, s["accuracy"], lambda n: s["seed_accuracy"][sizes.index(n)],
                             lambda n: s["eval_n"][sizes.index(n)], min_rungs, horizon=horizon)
    return cases


def by_size(curve) -> tuple[list, dict, dict]:
    """A file's curve (`read_points`) by size: the sizes ascending, each size's values in file order (its seeds),
    and each size's eval_n (the first given)."""
    by: dict[float, list[float]] = {}
    ev: dict[float, int | None] = {}
    for n, v, e in zip(curve.n, curve.value, curve.eval_n):
        by.setdefault(n, []).append(float(v))
        ev.setdefault(n, e)
    return sorted(by), by, ev


def file_cases(path: str, direction: str, bounds: str | None, min_rungs: int, horizon: str = "2") -> list[dict]:
    """Cases from any curves file `dataladder fit` reads; seeds in file order, the truth from all of them."""
    from dataladder.forecast.points import read_points

    cases, curves, flat, short = [], 0, 0, 0
    for c in read_points(path).curves:
        curves += 1
        sizes, by, ev = by_size(c)
        has_eval = c.has_eval_n
        bounded = bounds != "none" and (bounds is not None or (direction == "higher" and has_eval))
        mean = [float(np.mean(by[n])) for n in sizes]
        got = curve_cases(f"{Path(path).name}/{c.name or 'curve'}", sizes, mean, lambda n: by[n],
                          lambda n: ev[n] if has_eval else None, min_rungs, direction, bounded, horizon, any_grid=True)
        gain = (mean[-1] - mean[0]) * (1 if direction == "higher" else -1)
        flat += gain < (0.08 if bounded else 0.08 * abs(mean[0]))
        short += not got and gain >= (0.08 if bounded else 0.08 * abs(mean[0]))
        cases += got
    if flat or short:
        print(f"{path}: {curves} curves; {flat} improve by less than 8% in --direction {direction} (no case), "
              f"{short} reach their targets before {min_rungs} doubling rungs fit below truth/2^h (no case)")
    return cases


LOSS_SIZES = [200 * 2 ** k for k in range(14)]  # 200 … 1.6M examples, the rectified-law paper's range


def synthetic_loss_rows(curves: int, seed: int = 7):
    """(curve, n, seed, loss) rows: loss = E + B/(D_l + n^β), the rectified law's shape (Lin et al. 2024), with
    β 0.2–0.9, D_l^(1/β) 10–3·10^4, E 0.3–2 and the loss at n = 200 0.5–3 above E; two seeds a size, 0.5%
    noise. Our own construction, not the paper's curves: it checks the falling-score path (`--direction
    lower`); it does not stand in for them."""
    rng = np.random.default_rng(seed)
    for i in range(curves):
        beta = rng.uniform(0.2, 0.9)
        dl = math.exp(rng.uniform(math.log(10), math.log(3e4))) ** beta
        e = rng.uniform(0.3, 2.0)
        b = rng.uniform(0.5, 3.0) * (dl + LOSS_SIZES[0] ** beta)
        for n in LOSS_SIZES:
            for s in range(2):
                yield f"c{i}", n, s, (b / (dl + n ** beta) + e) * (1 + rng.normal(0, 0.005))


def synthetic_loss_cases(curves: int, min_rungs: int, horizon: str = "2") -> list[dict]:
    by: dict[str, dict[int, list[float]]] = {}
    for name, n, _, v in synthetic_loss_rows(curves):
        by.setdefault(name, {}).setdefault(n, []).append(v)
    return [c for name, seeds in by.items()
            for c in curve_cases(f"synthetic/{name}", LOSS_SIZES, [float(np.mean(seeds[n])) for n in LOSS_SIZES],
                                 lambda n, s=seeds: s[n], lambda n: None, min_rungs, "lower", False, horizon)]


def xy(case):
    x = np.array([n for n, vs, _ in case["rungs"] for _ in vs], float)
    y = np.array([v for _, vs, _ in case["rungs"] for v in vs])
    e = None if any(m is None for _, _, m in case["rungs"]) else np.array([m for _, vs, m in case["rungs"] for _ in vs], float)
    return x, y, e


def ours(case, boot):
    x, y, e = xy(case)
    f = forecast(x, y, e, target=case["target"], direction=case["direction"],
                 bounds=(0.0, 1.0) if case["bounded"] else None)
    lo, med, hi = f.n_target_interval(0.8)
    out = {"pred": med, "lo": lo, "hi": hi}
    for key, fut in (("acc", case["future"]), ("v16", case["future16"])):
        if fut:
            a_lo, a_med, a_hi = f.band(fut[0])
            out.update({f"{key}_pred": a_med, f"{key}_lo": a_lo, f"{key}_hi": a_hi})
    return out


def protocol_only(case, boot):
    """Reads no score: the protocol stops the rungs at a quarter of the truth, so the truth lies in [4, 8) times
    the last rung, and the curve has reached the target 8× past it. A forecaster scores well here only if it
    beats this."""
    last = case["rungs"][-1][0]
    out = {"pred": last * math.sqrt(32), "lo": 4.0 * last, "hi": 8.0 * last}
    t, up = case["target"], case["direction"] == "higher"
    far = (1.0 if case["bounded"] else math.inf) if up else (-math.inf if not case["bounded"] else 0.0)
    band = (t, far) if up else (far, t)
    for key, fut in (("acc", case["future"]), ("v16", case["future16"])):
        if fut:
            out.update({f"{key}_pred": t, f"{key}_lo": band[0], f"{key}_hi": band[1]})
    return out


# the baselines, on the "higher" scale (a falling score is negated): power law and rectified law
def power(p, n):
    return p[0] - p[1] * np.power(n, -p[2])


def rectified(p, n):
    return p[4] - (p[0] + p[1] / (np.exp(p[3]) + np.power(n, p[2])))


def _ls(kind, x, y, top: float):
    """Least squares on scores y that rise toward at most `top` (1 for accuracies, ∞ for negated losses)."""
    span = float(np.ptp(y)) + abs(float(y.mean())) + 1e-9
    a_hi = top if math.isfinite(top) else float(y.max()) + 100 * span
    if kind == "power":
        lo, hi = ([0, 0, 0.01], [1, 100, 3]) if top == 1 else ([float(y.min()) - 100 * span, 0, 0.01], [a_hi, 1e7 * span, 3])
        r = least_squares(lambda p: power(p, x) - y, [min(a_hi, y.max() + 0.05 * (1 if top == 1 else span)), 0.5 if top == 1 else span, 0.5],
                          bounds=(lo, hi))
        return lambda n: power(r.x, n)
    ceil = top if math.isfinite(top) else 0.0  # loss = E + B/(D_l + n^β) ≥ 0, scored as −loss
    best = None
    for b0, dl in ((0.3, 0.0), (0.7, 3.0), (1.0, 6.0)):
        hi = [1, 1e4, 3, 20] if top == 1 else [max(ceil - float(y.min()), 0) + 100 * span, 1e10 * span, 3, 20]
        r = least_squares(lambda p: rectified([*p, ceil], x) - y,
                          [max(0.0, ceil - y.max() - 0.05 * (1 if top == 1 else span)), 1.0 if top == 1 else span, b0, dl],
                          bounds=([0, 0, 0.01, -5], hi))
        best = r if best is None or r.cost < best.cost else best
    return lambda n: rectified([*best.x, ceil], n)


def least_squares_forecaster(kind):
    def run(case, boot):
        x, y, _ = xy(case)
        sign = 1 if case["direction"] == "higher" else -1
        y = sign * y
        top = 1.0 if case["bounded"] and sign == 1 else (0.0 if sign == -1 and np.all(y < 0) else math.inf)
        rng = np.random.default_rng(0)
        rungs = np.unique(x)
        reps, futs = [], {"acc": [], "v16": []}
        for b in range(boot + 1):
            if b == 0:
                xb, yb = x, y
            else:
                idx = np.concatenate([rng.choice(np.flatnonzero(x == r), np.sum(x == r)) for r in rungs])
                xb, yb = x[idx], y[idx]
            with np.errstate(all="ignore"):
                f = _ls(kind, xb, yb, top)
                v = f(GRID)
            hit = np.flatnonzero(v >= sign * case["target"])
            reps.append(float(GRID[hit[0]]) if len(hit) else math.inf)
            for key, fut in (("acc", case["future"]), ("v16", case["future16"])):
                if fut:
                    val = sign * float(f(fut[0]))
                    futs[key].append(float(np.clip(val, 0, 1)) if case["bounded"] else val)
        t = np.array(reps[1:]) if boot else np.array(reps)
        lo, hi = np.quantile(t, [0.1, 0.9], method="inverted_cdf")
        out = {"pred": reps[0], "lo": float(lo), "hi": float(hi)}
        for key, fs in futs.items():
            if fs:
                fb = np.array(fs[1:] or fs)
                out.update({f"{key}_pred": fs[0], f"{key}_lo": float(np.quantile(fb, 0.1)), f"{key}_hi": float(np.quantile(fb, 0.9))})
        return out
    return run


def score(rows: list[dict]) -> dict:
    l2 = math.log10(2)
    err = np.array([abs(math.log10(r["pred"] / r["truth"])) if math.isfinite(r["pred"]) else math.inf for r in rows])
    fut = [r for r in rows if r.get("acc_pred") is not None]
    f16 = [r for r in rows if r.get("v16_pred") is not None]
    return {
        "cases": len(rows),
        "within_2x": float(np.mean(err <= l2)),
        "median_abs_log10": float(np.median(err)),
        "coverage80": float(np.mean([r["lo"] <= r["truth"] <= r["hi"] for r in rows])),
        "finite_within_10x": float(np.mean([math.isfinite(r["hi"]) and r["lo"] > 0 and r["hi"] / r["lo"] <= 10 for r in rows])),
        "never": float(np.mean([not math.isfinite(r["pred"]) for r in rows])),
        "acc8x_cases": len(fut),
        "acc8x_mae": float(np.mean([abs(r["acc_pred"] - r["acc_true"]) for r in fut])) if fut else None,
        "acc8x_coverage80": float(np.mean([r["acc_lo"] <= r["acc_true"] <= r["acc_hi"] for r in fut])) if fut else None,
        "at16x_cases": len(f16),
        "at16x_coverage80": float(np.mean([r["v16_lo"] <= r["v16_true"] <= r["v16_hi"] for r in f16])) if f16 else None,
        "seconds_per_forecast": float(np.mean([r["seconds"] for r in rows])),
    }


def evaluate(method, cases, boot) -> dict:
    rows = []
    for c in cases:
        t0 = time.perf_counter()
        r = method(c, boot)
        r["seconds"] = time.perf_counter() - t0
        r["truth"] = c["truth"]
        if c["future"]:
            r["acc_true"] = c["future"][1]
        if c["future16"]:
            r["v16_true"] = c["future16"][1]
        rows.append(r)
    return score(rows)


# ---- the fixed-rung protocol (issue 25): rungs fixed by the curve, targets chosen after --------------------

HORIZONS = (4, 16, 32, 64)  # scores read this many times past the last rung (64×: the issue judges losses there)
FINETUNE = "../shared/curves/finetune_curves.csv"
LAST_RUNG = {"lcdb": 256, "bertsch2024": 256, "lescao2021": 50, "synthetic": 12_800}


def fixed_case(name, source, split, sizes, mean, seeds_at, eval_n_at, direction="higher", bounded=True,
               any_grid=False, min_rungs=3, cap=None) -> dict | None:
    """One curve's case: rungs at the doubling sizes from the first one up to the source's last rung (set
    before any target is chosen), the seed-mean truth 4×, 16×, 32× and 64× past the last rung where the curve
    has that size, and targets picked after: the truth at 4× and 16× past, where it gains on the last rung
    (the size that reaches it is where the seed-mean first crosses it past the last rung)."""
    cap = LAST_RUNG[source] if cap is None else cap
    rungs = [n for n in doublings(sizes, any_grid) if n <= cap * (1 + 1e-9)]
    if len(rungs) < min_rungs:
        return None
    last = rungs[-1]
    sign = 1 if direction == "higher" else -1
    at = {h: at_size(sizes, mean, h * last, any_grid) for h in HORIZONS}
    lm = mean[sizes.index(last)]
    later = [(n, v) for n, v in zip(sizes, mean) if n > last]
    targets = []
    far = [(n, v) for n, v in later if 4 * last <= n <= 32 * last * 1.25]
    gain = sign * (far[-1][1] - lm) if far else 0.0
    for frac in (0.5, 0.8) if gain >= (0.02 if bounded else 0.02 * abs(lm)) else ():  # no gain past the last rung: none
        t = lm + sign * frac * gain
        truth = crossing([last] + [n for n, _ in later], [lm] + [v for _, v in later], t, sign)
        if truth is not None and truth > last and (not bounded or 0 < t < 1):
            targets.append({"target": t, "truth": truth, "frac": frac})
    return {"name": name, "source": source, "split": split, "direction": direction, "bounded": bounded,
            "rungs": [(n, seeds_at(n), eval_n_at(n)) for n in rungs], "last": last, "last_mean": lm,
            "at": {h: v for h, v in at.items() if v is not None}, "targets": targets,
            "rises": sign * (mean[-1] - mean[0]) > (0.02 if bounded else 0.02 * abs(mean[0]))}


def lcdb_fixed_cases() -> list[dict]:
    """LCDB even ids: ≡ 0 mod 4 calibrate, ≡ 2 mod 4 check (the odd ids are held out and never read)."""
    import pandas as pd

    spec = importlib.util.find_spec("lcdb")
    if spec is None:
        raise SystemExit("bench_forecast: the lcdb package is missing: .venv/bin/pip install -e '.[bench]'")
    cache = Path("bench/out/lcdb_even_curves.json")
    if cache.exists():
        curves = json.loads(cache.read_text())
    else:
        path = os.path.join(spec.submodule_search_locations[0], "database-accuracy.csv")
        df = pd.read_csv(path, usecols=["openmlid", "learner", "size_train", "size_test", "outer_seed",
                                        "inner_seed", "score_test"])
        df = df[df.openmlid % 2 == 0]
        curves = []
        for (oid, learner), g in df.sort_values(["outer_seed", "inner_seed"]).groupby(["openmlid", "learner"]):
            by = {int(s): gg for s, gg in g.groupby("size_train")}
            curves.append({"id": int(oid), "learner": learner, "sizes": sorted(by),
                           "seeds": [[float(v) for v in by[s].score_test.values] for s in sorted(by)],
                           "eval_n": [int(by[s].size_test.values[0]) for s in sorted(by)]})
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(curves))
    out = []
    for c in curves:
        sizes, seeds, ev = c["sizes"], c["seeds"], c["eval_n"]
        mean = [float(np.mean(s)) for s in seeds]
        k = fixed_case(f"{c['id']}/{c['learner']}", "lcdb", "cal" if c["id"] % 4 == 0 else "check", sizes, mean,
                       lambda n: seeds[sizes.index(n)][:2], lambda n: ev[sizes.index(n)])
        if k:
            out.append(k)
    return out


def finetune_fixed_cases(path: str = FINETUNE) -> list[dict]:
    """The shared fine-tuning curves, one case per run (one seed, as a user's curve), the truth the mean of the
    runs; tasks alternate between calibration and check (sorted within each source; a task's seed variants
    stay together), so no task is tuned and judged on."""
    import pandas as pd

    d = pd.read_csv(path)
    d["base"] = d.task.str.replace(r"_seed\d+$", "", regex=True)
    split = {}
    for src, g in d.groupby("source"):
        for i, t in enumerate(sorted(g.base.unique())):
            split[src, t] = "cal" if i % 2 == 0 else "check"
    out = []
    for (src, model, task, method), g in d.groupby(["source", "model", "task", "method"]):
        mean_by = g.groupby("n_train").value.mean()
        for seed, s in g.groupby("seed"):
            s = s.sort_values("n_train")
            sizes = [int(n) for n in s.n_train]
            own = dict(zip(sizes, s.value.astype(float)))
            mean = [float(mean_by[n]) for n in sizes]
            k = fixed_case(f"{src}/{task}/{method}/{seed}", src, split[src, g.base.iloc[0]], sizes, mean,
                           lambda n: [own[n]], lambda n: None, any_grid=True)
            if k:
                out.append(k)
    return out


def synthetic_fixed_cases(curves: int) -> list[dict]:
    by: dict[str, dict[int, list[float]]] = {}
    for name, n, _, v in synthetic_loss_rows(curves):
        by.setdefault(name, {}).setdefault(n, []).append(v)
    out = []
    for name, seeds in by.items():
        k = fixed_case(f"synthetic/{name}", "synthetic", "cal" if int(name[1:]) % 2 == 0 else "check", LOSS_SIZES,
                       [float(np.mean(seeds[n])) for n in LOSS_SIZES], lambda n, s=seeds: s[n], lambda n: None,
                       "lower", False)
        if k:
            out.append(k)
    return out


def file_fixed_cases(path: str, direction: str, bounds: str | None, last_rung: float | None = None,
                     min_rungs: int = 3) -> list[dict]:
    """A curves file (any format `dataladder fit` reads) in the fixed-rung protocol, as a judge feeds it held-out
    curves: every curve is a case of the split "file" (never calibrated on), its rungs the doublings on its own grid
    from its first size up to `last_rung` (default: the largest whose 16× the file still holds, within `at_size`'s
    25%), every seed the file gives a rung seen, the truth the seed mean; bounds as in `file_cases`."""
    from dataladder.forecast.points import read_points

    out, curves, short = [], 0, 0
    for c in read_points(path).curves:
        curves += 1
        sizes, by, ev = by_size(c)
        bounded = bounds != "none" and (bounds is not None or (direction == "higher" and c.has_eval_n))
        grid = doublings(sizes, any_grid=True)
        cap = last_rung or max([n for n in grid if 16 * n <= 1.25 * sizes[-1]], default=grid[0])
        k = fixed_case(f"{Path(path).name}/{c.name or 'curve'}", "file", "file", sizes, [float(np.mean(by[n])) for n in sizes],
                       lambda n: by[n], lambda n: ev[n] if c.has_eval_n else None, direction, bounded, any_grid=True,
                       min_rungs=min_rungs, cap=cap)
        if k:
            out.append({**k, "family": f"{Path(path).name} ({'accuracies' if bounded else 'unbounded'})"})
        else:
            short += 1
    if short:
        print(f"{path}: {curves} curves; {short} have fewer than {min_rungs} doubling rungs up to the last rung (no case)")
    return out


def family(case) -> str:
    if "family" in case:
        return case["family"]
    if not case["bounded"]:
        return "losses (synthetic)"
    return {"lcdb": "LCDB accuracies", "lescao2021": "RoBERTa fine-tuning", "bertsch2024": "Llama-2 fine-tuning"}[case["source"]]


def _fixed_xy(case):
    x = np.array([n for n, vs, _ in case["rungs"] for _ in vs], float)
    y = np.array([v for _, vs, _ in case["rungs"] for v in vs])
    e = None if any(m is None for _, _, m in case["rungs"]) else \
        np.array([m for _, vs, m in case["rungs"] for _ in vs], float)
    return x, y, e


def shipped(case, target=None):
    """dataladder's forecast as `fit` and the ladders make it: the forecaster, following the measured trend."""
    from dataladder.forecast.trend import follow, measured_trend

    x, y, e = _fixed_xy(case)
    f = forecast(x, y, e, target=target, direction=case["direction"], bounds=(0.0, 1.0) if case["bounded"] else None)
    return follow(f, measured_trend(f, x, y, e))


def run_ours(case) -> dict:
    t0 = time.perf_counter()
    out = {"at": {}, "targets": []}
    f = shipped(case)
    for h, (n, _) in case["at"].items():
        out["at"][h] = f.band(n)
    for t in case["targets"]:  # the same draws, read for each target
        out["targets"].append(replace(f, target=t["target"]).n_target_interval(0.8))
    out["seconds"] = time.perf_counter() - t0
    return out


def baseline_points(case) -> dict:
    """The simple baselines' point forecasts at the case's horizons: the last rung's mean (of the seeds the
    forecasters see: `last_mean` is every seed's, the truth's own estimate at that size), a power law with an
    asymptote fitted to all points, a straight line in logit (loss: log) against log n fitted to all points."""
    fits = baseline_fits(case)
    return {h: {b: float(f(n)) for b, f in fits.items()} for h, (n, _) in case["at"].items()}


def logit_line(x, y):
    """A straight line in logit(y) against log n, fitted to every point (y clipped to [0.001, 0.999]): n ↦ y."""
    u = np.clip(y, 1e-3, 1 - 1e-3)
    c = np.polyfit(np.log(x), np.log(u / (1 - u)), 1)
    return lambda n: 1 / (1 + np.exp(-np.polyval(c, np.log(n))))


def baseline_fits(case) -> dict:
    """The baselines as curves of n, fitted to every rung (the scores' own direction and bounds); on losses the
    rectified law too. Fitted once per case (kept in the case as `_fits`: its points and sizes read the same fits)."""
    if "_fits" in case:
        return case["_fits"]
    x, y, _ = _fixed_xy(case)
    last = float(np.mean(y[x == x.max()]))  # the last rung as the forecaster sees it (its seeds here, not all)
    sign = 1 if case["direction"] == "higher" else -1
    top = 1.0 if case["bounded"] and sign == 1 else 0.0
    with np.errstate(all="ignore"):
        pw = _ls("power", x, sign * y, top)
    if case["bounded"]:
        line = logit_line(x, y)
    else:
        c = np.polyfit(np.log(x), np.log(y), 1)
        line = lambda n: np.exp(np.polyval(c, np.log(n)))  # noqa: E731
    fits = {"last value": lambda n: np.full(np.shape(n), last) if np.ndim(n) else last,
            "power law": (lambda n: np.clip(sign * pw(n), 0, 1)) if case["bounded"] else (lambda n: sign * pw(n)),
            "logit line" if case["bounded"] else "log-log line": line}
    if not case["bounded"] and sign == -1 and np.all(y > 0):  # losses: the issue's yardstick, Lin et al.'s law
        with np.errstate(all="ignore"):
            rect = _ls("rectified", x, -y, 0.0)
        fits["rectified law"] = lambda n: -rect(n)
    case["_fits"] = fits
    return fits


SIZE_GRID = 2.0 ** np.linspace(0, 20, 801)  # multiples of the last rung a baseline's size for a target is read on


def baseline_sizes(case) -> dict:
    """Each baseline's size for each of the case's targets: where its curve, fitted to every rung, first reaches
    the target past the last rung (∞ where it never does by 2^20 × the last rung; the last value never moves)."""
    sign = 1 if case["direction"] == "higher" else -1
    grid = case["last"] * SIZE_GRID
    out = {}
    for b, f in baseline_fits(case).items():
        if b == "last value":
            continue
        with np.errstate(all="ignore"):
            v = sign * np.asarray(f(grid), float)
        sizes = []
        for t in case["targets"]:
            hit = np.flatnonzero(v >= sign * t["target"])
            sizes.append(float(grid[hit[0]]) if hit.size else math.inf)
        out[b] = sizes
    return out


def err(case, pred: float, true: float) -> float:
    """Absolute error for accuracies; |ln(pred/true)| for losses."""
    if case["bounded"]:
        return abs(pred - true)
    return abs(math.log(max(pred, 1e-12) / true))


BOOT = 2000  # bootstrap resamples of a family's cases for the interval on its error ratio


def ratio_interval(cases, h, agg, level: float = 0.9) -> list[float]:
    """A bootstrap interval (cases resampled with replacement, a fixed seed) on our error over the best baseline's
    at horizon h: how far the ratio could move with another draw of curves like these."""
    base = list(cases[0]["_base"][h])
    e = np.array([[err(c, c["_ours"]["at"][h][1], c["at"][h][1])] + [err(c, c["_base"][h][b], c["at"][h][1])
                                                                   for b in base] for c in cases])
    idx = np.random.default_rng(0).integers(0, len(cases), (BOOT, len(cases)))
    s = e[idx].mean(1) if agg is np.mean else np.median(e[idx], axis=1)
    ratio = s[:, 0] / np.maximum(s[:, 1:].min(1), 1e-300)
    q = (1 - level) / 2
    return [float(x) for x in np.quantile(ratio, [q, 1 - q])]


def fixed_report(cases, typical_ratio: float | None = None) -> dict:
    """Per family and horizon: our error, each baseline's, their ratio, our 80% band's coverage; the size for a
    target within 2× (ours, and the no-score row: the typical horizon, `typical_ratio` × the last rung) and its
    interval's coverage. Accuracies: mean |error|; losses: median |ln error|."""
    rows = {}
    for c in cases:
        c["_ours"] = c.get("_ours") or run_ours(c)
        c["_base"] = c.get("_base") or baseline_points(c)
        c["_bsize"] = c.get("_bsize") or baseline_sizes(c)
    for fam in sorted({family(c) for c in cases}):
        fc = [c for c in cases if family(c) == fam]
        agg = np.mean if fc[0]["bounded"] else np.median
        rep = {"curves": len(fc)}
        for h in HORIZONS:
            hc = [c for c in fc if h in c["at"]]
            if not hc:
                continue
            e_ours = [err(c, c["_ours"]["at"][h][1], c["at"][h][1]) for c in hc]
            cov = [c["_ours"]["at"][h][0] <= c["at"][h][1] <= c["_ours"]["at"][h][2] for c in hc]
            wid = [c["_ours"]["at"][h][2] - c["_ours"]["at"][h][0] for c in hc]
            r = {"cases": len(hc), "error": float(agg(e_ours)), "coverage80": float(np.mean(cov)),
                 "band_width": float(np.median(wid))}
            if fc[0]["bounded"]:
                fl = [k for k, c in zip(cov, hc) if c["at"][h][1] <= c["last_mean"] + 0.01]
                r["coverage80_not_rising"] = float(np.mean(fl)) if fl else None
                r["not_rising_cases"] = len(fl)
            for b in hc[0]["_base"][h]:
                eb = float(agg([err(c, c["_base"][h][b], c["at"][h][1]) for c in hc]))
                r[f"error {b}"] = eb
                r[f"ratio {b}"] = r["error"] / eb if eb else math.inf
            r["ratio best"] = max(r[k] for k in r if k.startswith("ratio "))
            r["ratio best 90%"] = ratio_interval(hc, h, agg)
            rep[h] = r
        tg = [(c, t, p) for c in fc for t, p in zip(c["targets"], c["_ours"]["targets"])]
        if tg:
            w = [math.isfinite(p[1]) and abs(math.log(p[1] / t["truth"])) <= math.log(2) for c, t, p in tg]
            cv = [p[0] <= t["truth"] <= p[2] for c, t, p in tg]
            rep["size"] = {"cases": len(tg), "within_2x": float(np.mean(w)), "coverage80": float(np.mean(cv)),
                           "median_ratio_truth_last": float(np.median([t["truth"] / c["last"] for c, t, _ in tg]))}
            if typical_ratio:
                rep["size"]["no_score_within_2x"] = float(np.mean(
                    [abs(math.log(typical_ratio * c["last"] / t["truth"])) <= math.log(2) for c, t, _ in tg]))
            sizes = [(c, t, i) for c in fc for i, t in enumerate(c["targets"])]
            for b in fc[0]["_bsize"]:  # the baselines' own sizes for the same targets, beside ours
                rep["size"][f"{b}_within_2x"] = float(np.mean(
                    [abs(math.log(c["_bsize"][b][i] / t["truth"])) <= math.log(2) for c, t, i in sizes]))
        rep["seconds_per_forecast"] = float(np.mean([c["_ours"]["seconds"] for c in fc]))
        rows[fam] = rep
    return rows


def print_fixed(title: str, rep: dict) -> None:
    w = max([22, *map(len, rep)])
    print(f"\n{title}")
    print(f"{'family':{w}} {'h':>3} {'cases':>5} {'error':>7} {'/last':>6} {'/power':>6} {'/line':>6} {'/rect':>6} "
          f"{'/best':>6} {'/best 90%':>11} {'cov80':>6} {'cov80 flat':>10} {'width':>6}")
    for fam, rep_f in rep.items():
        for h in HORIZONS:
            r = rep_f.get(h)
            if not r:
                continue
            line = next(k for k in r if k.startswith("ratio ") and "line" in k)
            fl = r.get("coverage80_not_rising")
            rect = r.get("ratio rectified law")
            print(f"{fam:{w}} {h:>3} {r['cases']:>5} {r['error']:7.4f} {r['ratio last value']:6.2f} "
                  f"{r['ratio power law']:6.2f} {r[line]:6.2f} {'—' if rect is None else format(rect, '.2f'):>6} "
                  f"{r['ratio best']:6.2f} "
                  f"{'{:.2f}–{:.2f}'.format(*r['ratio best 90%']):>11} {r['coverage80']:6.2f} "
                  f"{'—' if fl is None else format(fl, '.2f'):>10} {r['band_width']:6.3f}")
        s = rep_f.get("size")
        if s:
            print(f"{fam:{w}} size for a target: {s['cases']} cases, within 2× {s['within_2x']:.2f} (no-score row "
                  f"{s.get('no_score_within_2x', float('nan')):.2f}; "
                  + ", ".join(f"{k[:-10]} {v:.2f}" for k, v in s.items() if k.endswith("_within_2x") and k[:2] in ("po", "lo", "re"))
                  + f"), 80% interval covers {s['coverage80']:.2f}, "
                  f"truth a median {s['median_ratio_truth_last']:.1f}× past the last rung")


PREVIOUS = {"STACK": False}  # the forecaster before the learned prior (`forecast.stack`, bench/fit_forecast_prior.py)
# a candidate measured beside the shipped forecaster, not shipped: after the shipped move, the band moved toward the
# gradient-boosted trees' median, behind their distance gate (`forecast.trees`; bench/RESULTS.md says why not). The
# earlier candidate, the mean of the power law and the logit line fitted to every rung, is {"CENTRE": "mix"}.
CANDIDATE = {"CENTRE": "trees"}


def with_forecaster(settings: dict, cases: list[dict]) -> list[dict]:
    """Copies of `cases` forecast with `dataladder.forecast.model` patched by `settings` (then restored)."""
    from dataladder.forecast import model

    saved = {k: getattr(model, k) for k in settings}
    try:
        for k, v in settings.items():
            setattr(model, k, v)
        out = [{k: v for k, v in c.items() if k != "_ours"} for c in cases]
        for c in out:
            c["_ours"] = run_ours(c)
        return out
    finally:
        for k, v in saved.items():
            setattr(model, k, v)


def recentred(cases: list[dict], share: float) -> list[dict]:
    """Copies of `cases` (already forecast) whose band at each horizon moves by `share` of the way from our median to
    the mean of two baselines fitted to every rung (the power law and the logit line), keeping its width; targets'
    sizes stay ours. A candidate measured beside the shipped forecaster (`--recentre`), not what it does."""
    out = []
    for c in cases:
        at = {}
        for h, (lo, med, hi) in c["_ours"]["at"].items():
            b = c["_base"][h]
            mix = (b["power law"] + b[next(k for k in b if "line" in k)]) / 2
            m = float(np.clip(med + share * (mix - med), 0, 1)) if c["bounded"] else med + share * (mix - med)
            at[h] = (lo + m - med, m, hi + m - med)
        out.append({**c, "_ours": {**c["_ours"], "at": at}})
    return out


def print_versus(title: str, before: dict, after: dict, what: str = "previous → shipped") -> None:
    """The previous forecaster against the shipped one, per family and horizon: /best, cov80, size within 2×."""
    print(f"\n{title}: {what}")
    print(f"{'family':22} {'h':>3} {'/best':>13} {'cov80':>13} {'error after/before':>19}")
    for fam, a in after.items():
        b = before[fam]
        for h in HORIZONS:
            if h in a:
                print(f"{fam:22} {h:>3} {b[h]['ratio best']:5.2f} → {a[h]['ratio best']:5.2f} "
                      f"{b[h]['coverage80']:5.2f} → {a[h]['coverage80']:5.2f} {a[h]['error'] / b[h]['error']:19.2f}")
        if "size" in a:
            print(f"{fam:22} size within 2× {b['size']['within_2x']:.2f} → {a['size']['within_2x']:.2f}, interval "
                  f"covers {b['size']['coverage80']:.2f} → {a['size']['coverage80']:.2f} (no-score row "
                  f"{a['size'].get('no_score_within_2x', float('nan')):.2f})")


def fixed_main(args) -> None:
    cases = []
    if not args.no_lcdb:
        cases += lcdb_fixed_cases()
    if Path(args.finetune).exists():
        cases += finetune_fixed_cases(args.finetune)
    if args.synthetic_loss:
        cases += synthetic_fixed_cases(args.synthetic_loss)
    for path in args.curves:  # held-out curves as a judge feeds them: their own split, never calibrated on
        try:
            cases += file_fixed_cases(path, args.direction, args.bounds, args.last_rung, args.min_rungs)
        except InputError as e:
            print(f"bench_forecast: {e}", file=sys.stderr)
            raise SystemExit(2) from None
    if args.limit:
        rng = np.random.default_rng(0)
        keep = []
        for key in sorted({(family(c), c["split"]) for c in cases}):
            grp = [c for c in cases if (family(c), c["split"]) == key]
            keep += [grp[i] for i in sorted(rng.choice(len(grp), min(args.limit, len(grp)), replace=False))]
        cases = keep
    result = {"protocol": "fixed", "last_rung": LAST_RUNG, "horizons": HORIZONS}
    cal = [c for c in cases if c["split"] == "cal"]
    # the no-score row's typical horizon comes from the calibration curves only
    ratios = [t["truth"] / c["last"] for c in cal for t in c["targets"]]
    typical = float(np.median(ratios)) if ratios else None
    result["typical_ratio"] = typical
    previous = None if args.no_previous else with_forecaster(PREVIOUS, cases)
    candidate = with_forecaster(CANDIDATE, cases) if args.candidate else None
    for split in ("cal", "check", "file"):
        if not any(c["split"] == split for c in cases):
            continue
        rep = fixed_report([c for c in cases if c["split"] == split], typical)
        name = {"cal": "calibration", "check": "check", "file": "--curves"}[split]
        print_fixed(f"{name} curves (typical horizon " + (f"{typical:.1f}× from the calibration curves)" if typical
                                                          else "unknown: no calibration curves)"), rep)
        result[split] = {fam: {str(k): v for k, v in r.items()} for fam, r in rep.items()}
        if previous is not None:
            before = fixed_report([c for c in previous if c["split"] == split], typical)
            print_versus(f"{name} curves", before, rep)
            result[f"{split}_previous"] = {fam: {str(k): v for k, v in r.items()} for fam, r in before.items()}
        if candidate is not None:
            moved = fixed_report([c for c in candidate if c["split"] == split], typical)
            print_versus(f"{name} curves", rep, moved, f"shipped → the candidate {CANDIDATE}")
            result[f"{split}_candidate"] = {fam: {str(k): v for k, v in r.items()} for fam, r in moved.items()}
        if args.recentre is not None:
            moved = fixed_report(recentred([c for c in cases if c["split"] == split], args.recentre), typical)
            print_versus(f"{name} curves", rep, moved, f"shipped → its band recentred {args.recentre:g} of the way "
                         "to the mean of the power law and the logit line")
            result[f"{split}_recentred"] = {fam: {str(k): v for k, v in r.items()} for fam, r in moved.items()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(_finite(result), indent=2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="a random subset of this many cases per source (0: all)")
    ap.add_argument("--boot", type=int, default=30, help="bootstrap refits for the least-squares baselines' intervals")
    ap.add_argument("--min-rungs", type=int, default=3)
    ap.add_argument("--horizon", default="2", choices=["1", "2", "3", "4", "5", "mixed"],
                    help="rungs stop at truth/2^h (2: the issue's protocol; mixed: h = 1–5 per case)")
    ap.add_argument("--sweeps", default="bench/out/sweeps.json")
    ap.add_argument("--curves", action="append", default=[], help="a curves file as `dataladder fit` reads it (repeatable)")
    ap.add_argument("--direction", default="higher", choices=["higher", "lower"], help="for --curves files")
    ap.add_argument("--bounds", default=None, choices=["0,1", "none"], help="for --curves files (default: as `fit`)")
    ap.add_argument("--last-rung", type=float, default=None,
                    help="fixed protocol, --curves files: the last rung (default: the largest whose 16× the file holds)")
    ap.add_argument("--no-lcdb", action="store_true", help="skip LCDB and the shipped model's sweeps (e.g. to run --curves files alone)")
    ap.add_argument("--synthetic-loss", type=int, default=0, metavar="N",
                    help="add N synthetic loss curves of the rectified law's shape (falling scores; our own construction)")
    ap.add_argument("--lcdb-ids", default="even", choices=["even", "odd"],
                    help="odd: the held-out ids, for judging only (never run in this project)")
    ap.add_argument("--protocol", default="fixed", choices=["fixed", "quarter"],
                    help="fixed: rungs fixed by the curve, scores 4/16/32/64× past the last rung (issue 25); quarter: "
                         "the retired protocol whose rungs stop at a quarter of the truth (it leaks where the truth is)")
    ap.add_argument("--no-previous", action="store_true",
                    help="fixed protocol: skip the previous forecaster (PREVIOUS: without the learned prior) beside the shipped one")
    ap.add_argument("--finetune", default=FINETUNE, help="the shared fine-tuning curves (fixed protocol)")
    ap.add_argument("--recentre", type=float, default=None, metavar="SHARE",
                    help="fixed protocol: also report our bands moved SHARE of the way to the mean of the power law "
                         "and the logit line fitted to every rung (a candidate, beside the shipped forecaster)")
    ap.add_argument("--candidate", action="store_true",
                    help="fixed protocol: also run the forecaster patched by CANDIDATE (a candidate, beside the shipped one)")
    ap.add_argument("--out", default="bench/out/forecast.json")
    args = ap.parse_args()
    if args.protocol == "fixed":
        if args.synthetic_loss == 0:
            args.synthetic_loss = 100
        return fixed_main(args)
    sources = {} if args.no_lcdb else {f"LCDB {args.lcdb_ids} ids": lcdb_cases(args.min_rungs, args.horizon, args.lcdb_ids)}
    if not args.no_lcdb:
        sources["tiny-arith dense sweeps"] = sweep_cases(Path(args.sweeps), 2, args.horizon)
    if args.synthetic_loss:
        sources[f"synthetic rectified-law losses ({args.synthetic_loss} curves)"] = synthetic_loss_cases(
            args.synthetic_loss, args.min_rungs, args.horizon)
    for path in args.curves:
        try:
            sources[path] = file_cases(path, args.direction, args.bounds, args.min_rungs, args.horizon)
        except InputError as e:
            print(f"bench_forecast: {e}", file=sys.stderr)
            raise SystemExit(2) from None
    for name, c in sources.items():
        if args.limit and len(c) > args.limit:
            rng = np.random.default_rng(0)
            sources[name] = [c[i] for i in sorted(rng.choice(len(c), args.limit, replace=False))]
    methods = {"dataladder": ours, "power law": least_squares_forecaster("power"),
               "rectified law": least_squares_forecaster("rectified"), "protocol only": protocol_only}
    result = {"horizon": args.horizon}
    for src, cases in sources.items():
        print(f"\n{src}: {len(cases)} cases (rungs stop at truth/2^h, h = {args.horizon})")
        if not cases:
            continue
        result[src] = {m: evaluate(f, cases, args.boot) for m, f in methods.items()}
        cols = ["within_2x", "median_abs_log10", "coverage80", "finite_within_10x", "never", "acc8x_mae",
                "acc8x_coverage80", "at16x_coverage80", "seconds_per_forecast"]
        print(f"{'':15}" + "".join(f" {c:>19}" for c in cols))
        for m, r in result[src].items():
            print(f"{m:15}" + "".join(f" {'—' if r[c] is None else format(r[c], '.3f'):>19}" for c in cols))
        ours_r = result[src]["dataladder"]
        for m in ("power law", "rectified law", "protocol only"):
            r = result[src][m]
            ratio = ours_r["within_2x"] / r["within_2x"] if r["within_2x"] else math.inf
            print(f"within 2×: dataladder / {m} = {ratio:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(_finite(result), indent=2))  # strict JSON: ∞ as the string "inf"


def _finite(x):
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


if __name__ == "__main__":
    main()
