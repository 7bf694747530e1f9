"""Benchmark: forecasting the data a target needs from small rungs, on learning curves nobody here made.

    .venv/bin/pip install -e '.[bench]'        # lcdb (68 MB): the Learning Curve Database
    .venv/bin/python bench/bench_forecast.py [--limit 0] [--boot 30]

Sources
- LCDB (`lcdb` package, database-accuracy.csv): test accuracy against training size, 20 learners ×
  ~246 OpenML datasets, sizes 16·√2^k, up to 25 seeds. **Even OpenML ids only**: the odd ids are
  held out for judging and are never read here.
- The shipped model's dense sweeps from `bench/bench_climb.py` (bench/out/sweeps.json; run that
  first, or pass --sweeps), rungs 20·√2^k, 3 seeds.

Protocol, per curve (learner × dataset, or skill): curves rising ≥ 0.08 from the first size to the
largest; targets at 50% and 80% of that rise; the truth is where the seed-mean curve first crosses
the target (log-interpolated); rungs at the first size, 2×, 4×, … up to a quarter of the truth,
two seeds each (the first two); at least --min-rungs rungs (3: a climb's first fit). Each
forecaster sees only the rungs and the eval size behind each score. The protocol itself says where the
truth is: the rungs stop at a quarter of it, so it lies in [4, 8) times the last rung. The "protocol
only" row forecasts √32 times the last rung with [4, 8) as its interval, reading no score: a sanity
baseline that shows what "within 2×" and "finite, ≤ 10× wide" measure here.

Forecasters, side by side: ours (`dataladder.forecast.forecast`), a single power law
(acc = A − B·n^−β) and the rectified law of Lin et al. 2024 (err = E + B/(D_l + n^β)), both least
squares with --boot bootstrap refits (seeds resampled within rungs) for their intervals.

Reported per source and forecaster: share of predicted sizes within 2× of the truth, median
|log10(pred/true)| (a "never" counts as infinitely wrong), 80% interval coverage, share of
intervals finite and at most 10× wide, mean |error| of the accuracy forecast 8× past the last
rung (where the curve has that size) with its 80% band's coverage, and seconds per forecast.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import time
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from dataladder.forecast.model import N_MAX, forecast

GRID = np.geomspace(1, N_MAX, 3000)


def crossing(sizes, acc, target) -> float | None:
    for i, a in enumerate(acc):
        if a >= target:
            if i == 0:
                return float(sizes[0])
            a0 = acc[i - 1]
            t = (target - a0) / (a - a0) if a > a0 else 1.0
            return float(math.exp(math.log(sizes[i - 1]) + t * (math.log(sizes[i]) - math.log(sizes[i - 1]))))
    return None


def curve_cases(name, sizes, mean, seeds_at, eval_n_at, min_rungs) -> list[dict]:
    """The protocol's cases of one curve (see the module docstring)."""
    start, rise = mean[0], mean[-1] - mean[0]
    if rise < 0.08:
        return []
    out = []
    for frac in (0.5, 0.8):
        target = start + frac * rise
        truth = crossing(sizes, mean, target)
        rungs, n = [], sizes[0]
        while n <= truth / 4:
            if n in sizes:
                rungs.append((n, seeds_at(n)[:2], eval_n_at(n)))
            n *= 2
        if len(rungs) < min_rungs:
            continue
        n8 = rungs[-1][0] * 8
        out.append({"name": name, "frac": frac, "target": target, "truth": truth, "rungs": rungs,
                    "future": (n8, mean[sizes.index(n8)]) if n8 in sizes else None})
    return out


def lcdb_cases(min_rungs: int) -> list[dict]:
    import pandas as pd

    spec = importlib.util.find_spec("lcdb")
    if spec is None:
        raise SystemExit("bench_forecast: the lcdb package is missing: .venv/bin/pip install -e '.[bench]'")
    path = os.path.join(spec.submodule_search_locations[0], "database-accuracy.csv")
    df = pd.read_csv(path, usecols=["openmlid", "learner", "size_train", "size_test", "outer_seed", "inner_seed", "score_test"])
    df = df[df.openmlid % 2 == 0]  # the odd ids are held out: never read
    cases = []
    for (oid, learner), g in df.sort_values(["outer_seed", "inner_seed"]).groupby(["openmlid", "learner"]):
        m = g.groupby("size_train").score_test.mean()
        by = {int(s): gg for s, gg in g.groupby("size_train")}
        cases += curve_cases(f"{oid}/{learner}", [int(s) for s in m.index], [float(v) for v in m.values],
                             lambda n: [float(v) for v in by[n].score_test.values],
                             lambda n: int(by[n].size_test.values[0]), min_rungs)
    return cases


def sweep_cases(path: Path, min_rungs: int) -> list[dict]:
    if not path.exists():
        return []
    cases = []
    for skill, s in json.loads(path.read_text()).items():
        sizes = s["sizes"]
        cases += curve_cases(f"tiny-arith/{skill}", sizes, s["accuracy"], lambda n: s["seed_accuracy"][sizes.index(n)],
                             lambda n: s["eval_n"][sizes.index(n)], min_rungs)
    return cases


def xy(case):
    x = np.array([n for n, vs, _ in case["rungs"] for _ in vs], float)
    y = np.array([v for _, vs, _ in case["rungs"] for v in vs])
    e = np.array([m for _, vs, m in case["rungs"] for _ in vs], float)
    return x, y, e


def ours(case, boot):
    x, y, e = xy(case)
    f = forecast(x, y, e, target=case["target"])
    lo, med, hi = f.n_target_interval(0.8)
    out = {"pred": med, "lo": lo, "hi": hi}
    if case["future"]:
        a_lo, a_med, a_hi = f.band(case["future"][0])
        out.update(acc_pred=a_med, acc_lo=a_lo, acc_hi=a_hi)
    return out


def protocol_only(case, boot):
    """Reads no score: the protocol stops the rungs at a quarter of the truth, so the truth lies in [4, 8) times
    the last rung. A forecaster scores well on "within 2×" here only if it beats this."""
    last = case["rungs"][-1][0]
    return {"pred": last * math.sqrt(32), "lo": 4.0 * last, "hi": 8.0 * last}


def power(p, n):
    return p[0] - p[1] * np.power(n, -p[2])


def rectified(p, n):
    return 1 - (p[0] + p[1] / (np.exp(p[3]) + np.power(n, p[2])))


def _ls(kind, x, y):
    if kind == "power":
        r = least_squares(lambda p: power(p, x) - y, [min(1.0, y.max() + 0.05), 0.5, 0.5],
                          bounds=([0, 0, 0.01], [1, 100, 3]))
        return lambda n: power(r.x, n)
    best = None
    for b0, dl in ((0.3, 0.0), (0.7, 3.0), (1.0, 6.0)):
        r = least_squares(lambda p: rectified(p, x) - y, [max(0.0, 1 - y.max() - 0.05), 1.0, b0, dl],
                          bounds=([0, 0, 0.01, -5], [1, 1e4, 3, 20]))
        best = r if best is None or r.cost < best.cost else best
    return lambda n: rectified(best.x, n)


def least_squares_forecaster(kind):
    def run(case, boot):
        x, y, _ = xy(case)
        rng = np.random.default_rng(0)
        rungs = np.unique(x)
        reps, futs = [], []
        for b in range(boot + 1):
            if b == 0:
                xb, yb = x, y
            else:
                idx = np.concatenate([rng.choice(np.flatnonzero(x == r), np.sum(x == r)) for r in rungs])
                xb, yb = x[idx], y[idx]
            with np.errstate(all="ignore"):
                f = _ls(kind, xb, yb)
                v = f(GRID)
            hit = np.flatnonzero(v >= case["target"])
            reps.append(float(GRID[hit[0]]) if len(hit) else math.inf)
            if case["future"]:
                futs.append(float(np.clip(f(case["future"][0]), 0, 1)))
        t = np.array(reps[1:]) if boot else np.array(reps)
        lo, hi = np.quantile(t, [0.1, 0.9], method="inverted_cdf")
        out = {"pred": reps[0], "lo": float(lo), "hi": float(hi)}
        if case["future"]:
            fb = np.array(futs[1:] or futs)
            out.update(acc_pred=futs[0], acc_lo=float(np.quantile(fb, 0.1)), acc_hi=float(np.quantile(fb, 0.9)))
        return out
    return run


def score(rows: list[dict]) -> dict:
    l2 = math.log10(2)
    err = np.array([abs(math.log10(r["pred"] / r["truth"])) if math.isfinite(r["pred"]) else math.inf for r in rows])
    fut = [r for r in rows if r.get("acc_pred") is not None]
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
        rows.append(r)
    return score(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="a random subset of this many LCDB cases (0: all)")
    ap.add_argument("--boot", type=int, default=30, help="bootstrap refits for the least-squares baselines' intervals")
    ap.add_argument("--min-rungs", type=int, default=3)
    ap.add_argument("--sweeps", default="bench/out/sweeps.json")
    ap.add_argument("--out", default="bench/out/forecast.json")
    args = ap.parse_args()
    sources = {"LCDB even ids": lcdb_cases(args.min_rungs),
               "tiny-arith dense sweeps": sweep_cases(Path(args.sweeps), 2)}
    if args.limit and len(sources["LCDB even ids"]) > args.limit:
        rng = np.random.default_rng(0)
        c = sources["LCDB even ids"]
        sources["LCDB even ids"] = [c[i] for i in sorted(rng.choice(len(c), args.limit, replace=False))]
    methods = {"dataladder": ours, "power law": least_squares_forecaster("power"),
               "rectified law": least_squares_forecaster("rectified"), "protocol only": protocol_only}
    result = {}
    for src, cases in sources.items():
        print(f"\n{src}: {len(cases)} cases")
        if not cases:
            continue
        result[src] = {m: evaluate(f, cases, args.boot) for m, f in methods.items()}
        cols = ["within_2x", "median_abs_log10", "coverage80", "finite_within_10x", "never", "acc8x_mae",
                "acc8x_coverage80", "seconds_per_forecast"]
        print(f"{'':15}" + "".join(f"{c:>20}" for c in cols))
        for m, r in result[src].items():
            print(f"{m:15}" + "".join(f"{'—' if r[c] is None else format(r[c], '.3f'):>20}" for c in cols))
        ours_r = result[src]["dataladder"]
        for m in ("power law", "rectified law", "protocol only"):
            r = result[src][m]
            ratio = ours_r["within_2x"] / r["within_2x"] if r["within_2x"] else math.inf
            print(f"within 2×: dataladder / {m} = {ratio:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
