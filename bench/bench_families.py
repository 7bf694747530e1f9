"""Benchmark: the learning-curve literature's four-parameter families against the simple baselines (issue 25).

    .venv/bin/pip install -e '.[bench]'                  # lcdb: the Learning Curve Database
    .venv/bin/python bench/bench_families.py [--jobs 2] [--limit N]   # ≈ 19 min on one core for every case

The issue names MMF4, WBL4 and POW4 (Viering & Loog's and LCDB's papers often report the four-parameter
families best) and mixtures weighted by a backtest inside the curve as candidates for the point forecast. This
measures them on `bench_forecast.py`'s fixed-rung cases (the same rungs, seeds, horizons and splits) with four
rungs or more: LCDB accuracies (rungs 16…256, two seeds) and Llama-2 fine-tuning (32…256, one run). RoBERTa's
curves have three rungs, too few for a four-parameter law, and losses are the rectified law's family already.

Each family is fitted by least squares to every point (all rungs, all seeds the forecaster sees), from three
starts, the lowest cost kept, its value clipped to [0, 1]:

- POW3  y = a − b·n^−c                          (the bench's "power law" baseline)
- MMF4  y = c − (c − a) / (1 + (n/k)^d)          (Morgan-Mercer-Flodin: a floor, a ceiling, a sigmoid in log n)
- WBL4  y = c − b·exp(−a·n^d)                    (Weibull)
- POW4  y = a − b·(n + d)^−c

beside the logit line and the last value (as the bench's baselines), and combinations: the mean of POW3 and the
line, the median of the four laws, the median and the mean of all five, and two backtest mixtures (each
family also fitted to every rung but the last and scored on the last rung's mean: weights 1/(error² + 10⁻⁴),
or the family that backtests best alone). Printed per source, split and horizon (4×, 16×, 32× past the last
rung): each one's mean |error| over the best of the three simple baselines (last value, POW3, logit line).
"""

from __future__ import annotations

import argparse
import math
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_forecast as bf  # noqa: E402

LAWS = ("pow3", "mmf4", "wbl4", "pow4")
SINGLE = (*LAWS, "line", "last")


def _law(kind):
    """(f(p, n), starts(x, y), lower bounds, upper bounds) of a family on accuracies."""
    if kind == "mmf4":
        def f(p, n):
            return p[1] - (p[1] - p[0]) / (1 + np.exp(p[2] * (np.log(n) - p[3])))

        def starts(x, y):
            lx = np.log(x)
            return [[max(y.min() - 0.05, 0), min(y.max() + 0.05, 1), 1.0, lx.mean()],
                    [max(y.min() - 0.2, 0), min(y.max() + 0.02, 1), 0.5, lx.max()], [0.0, 1.0, 0.5, lx.mean()]]
        return f, starts, [0, 0, 0.01, -10], [1, 1, 10, 30]
    if kind == "wbl4":
        def f(p, n):
            return p[0] - p[1] * np.exp(-np.exp(p[2]) * np.power(n, p[3]))

        def starts(x, y):
            return [[min(y.max() + 0.05, 1), 0.5, math.log(1 / x.max()), 1.0],
                    [min(y.max() + 0.02, 1), 0.3, math.log(1 / x.mean()), 0.5],
                    [1.0, 0.5, math.log(1 / x.mean()) - 1, 0.3]]
        return f, starts, [0, 0, -40, 0.01], [1, 1.5, 10, 3]
    if kind == "pow4":
        def f(p, n):
            return p[0] - p[1] * np.power(n + np.exp(p[3]), -p[2])

        def starts(x, y):
            return [[min(y.max() + 0.05, 1), 1.0, 0.5, 0.0], [min(y.max() + 0.02, 1), 5.0, 1.0, math.log(x.mean())],
                    [1.0, 1, 0.3, 1.0]]
        return f, starts, [0, 0, 0.01, -5], [1, 1e4, 5, math.log(1e6)]
    if kind == "pow3":
        def f(p, n):
            return p[0] - p[1] * np.power(n, -p[2])

        def starts(x, y):
            return [[min(y.max() + 0.05, 1), 0.5, 0.5]]
        return f, starts, [0, 0, 0.01], [1, 100, 3]
    raise ValueError(kind)


def fit_law(kind, x, y):
    """The family fitted to (x, y) by least squares from each start, the lowest cost kept: n ↦ value in [0, 1]."""
    f, starts, lo, hi = _law(kind)
    best = None
    for p0 in starts(x, y):
        p0 = np.clip(p0, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
        with np.errstate(all="ignore"):
            r = least_squares(lambda p: f(p, x) - y, p0, bounds=(lo, hi))
        if best is None or r.cost < best.cost:
            best = r
    return lambda n, p=best.x: np.clip(f(p, n), 0, 1)


def case_row(c) -> dict:
    """One case: each family's and baseline's value at the horizons, and each family's backtest error."""
    x, y, _ = bf._fixed_xy(c)
    base = bf.baseline_fits(c)
    fits = {k: fit_law(k, x, y) for k in LAWS}
    fits["line"], fits["last"] = bf.logit_line(x, y), base["last value"]
    head = x < x.max()
    y_last = float(y[~head].mean())
    bt = {k: abs(float(fit_law(k, x[head], y[head])(x.max())) - y_last) for k in LAWS}
    bt["line"] = abs(float(bf.logit_line(x[head], y[head])(x.max())) - y_last)
    return {"source": c["source"], "split": c["split"], "backtest": bt,
            "at": {h: {"truth": truth, **{k: float(f(n)) for k, f in fits.items()}} for h, (n, truth) in c["at"].items()}}


def combinations(a: dict, bt: dict) -> dict:
    """Every single forecast at one horizon and the combinations of them (see the module docstring)."""
    out = {k: a[k] for k in SINGLE}
    five = (*LAWS, "line")
    out["mean(pow3, line)"] = (a["pow3"] + a["line"]) / 2
    out["median of 4 laws"] = float(np.median([a[k] for k in LAWS]))
    out["median of 5"] = float(np.median([a[k] for k in five]))
    out["mean of 5"] = float(np.mean([a[k] for k in five]))
    e = np.array([bt[k] for k in five]) ** 2 + 1e-4
    out["backtest-weighted"] = float(sum(w * a[k] for w, k in zip(1 / e / (1 / e).sum(), five)))
    out["backtest-best"] = a[five[int(np.argmin(e))]]
    return out


def report(rows: list[dict]) -> dict:
    """Per source, split and horizon: each forecast's mean |error| over the best simple baseline's."""
    out = {}
    for src in sorted({r["source"] for r in rows}):
        for split in ("cal", "check"):
            for h in bf.HORIZONS:
                hs = [r for r in rows if r["source"] == src and r["split"] == split and h in r["at"]]
                if not hs:
                    continue
                err: dict[str, list[float]] = {}
                for r in hs:
                    a = r["at"][h]
                    for k, v in combinations(a, r["backtest"]).items():
                        err.setdefault(k, []).append(abs(v - a["truth"]))
                best = min(float(np.mean(err[k])) for k in ("pow3", "line", "last"))
                out[src, split, h] = {"cases": len(hs), **{k: float(np.mean(v)) / best for k, v in err.items()}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1, help="processes fitting the cases")
    ap.add_argument("--limit", type=int, default=0, help="a random subset of this many cases per source and split")
    ap.add_argument("--finetune", default=bf.FINETUNE)
    args = ap.parse_args()
    cases = [c for c in bf.lcdb_fixed_cases() + bf.finetune_fixed_cases(args.finetune) if len(c["rungs"]) >= 4]
    if args.limit:
        rng, keep = np.random.default_rng(0), []
        for key in sorted({(c["source"], c["split"]) for c in cases}):
            grp = [c for c in cases if (c["source"], c["split"]) == key]
            keep += [grp[i] for i in sorted(rng.choice(len(grp), min(args.limit, len(grp)), replace=False))]
        cases = keep
    if args.jobs > 1:
        with Pool(args.jobs) as pool:
            rows = pool.map(case_row, cases, chunksize=16)
    else:
        rows = [case_row(c) for c in cases]
    rep = report(rows)
    names = list(next(iter(rep.values())))[1:]
    print(f"{'source':12} {'split':5} {'h':>3} {'cases':>5} " + " ".join(f"{k:>{max(6, len(k))}}" for k in names))
    for (src, split, h), r in rep.items():
        print(f"{src:12} {split:5} {h:>3} {r['cases']:>5} " + " ".join(f"{r[k]:>{max(6, len(k))}.2f}" for k in names))


if __name__ == "__main__":
    main()
