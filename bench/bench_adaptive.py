"""Adaptive rungs against growing ones, on real fine-tuning curves: the data each spends to reach its answer.

    .venv/bin/python bench/bench_adaptive.py                 # ../shared/curves/finetune_curves.csv, about 2 min

Each curve of `finetune_curves.csv` (a source, model, task and method; the mean over its seeds) is the truth: the
accuracy at any size is read off it, linearly in log n between its sizes. A ladder climbs it through the real
engine (`climb_ladders`, with this module as its kind), twice: `rungs: grow` (×2 from the curve's first size ≥ 16)
and `rungs: adaptive` (from the third rung, where the forecast's median reaches the target, at most 4× the last
rung). Every run scores 200 eval items drawn binomially from the truth, seeded by (curve, n, seed), so both
schedules see the same noise at the same size. Target: 80% of the way from the curve at its first size to its
best; budget: its largest size; 2 seeds a rung; the stop rule's defaults. Reported side by side: the examples
trained (the sum of rung sizes × seeds, which is what fine-tuning compute scales with), the rungs, how often both
schedules give the same answer (both reach the target, with reached-at sizes within 2× of each other, or both
stop without it for the same reason), and reached-at against the size where the truth first crosses the target.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dataladder.core.store import RunStore  # noqa: E402
from dataladder.forecast.stop import RungScore  # noqa: E402
from dataladder.ladder.engine import Job, Ladder, Rule, climb_ladders  # noqa: E402

EVAL_N, SEEDS = 200, 2
CURVES: dict[str, list[tuple[float, float]]] = {}


def truth(name: str, n: float) -> float:
    pts = CURVES[name]
    if n <= pts[0][0]:
        return pts[0][1]
    for (a, ya), (b, yb) in zip(pts, pts[1:]):
        if n <= b:
            w = (math.log(n) - math.log(a)) / (math.log(b) - math.log(a))
            return ya + w * (yb - ya)
    return pts[-1][1]


def prepare(spec: str, cfg: dict) -> dict:  # the kind's worker side: this module
    return cfg


def run(ctx: dict, job: Job) -> dict:
    rc = job.rc
    rng = random.Random(f"{rc['curve']}|{rc['n']}|{rc['seed']}")
    p = min(1.0, max(0.0, truth(rc["curve"], rc["n"])))
    return {"correct": sum(rng.random() < p for _ in range(EVAL_N)), "total": EVAL_N, "seconds": 0.0}


class CurveLadder(Ladder):
    kind, unit = __name__, "examples"

    def configs(self, n: int) -> list[dict]:
        return [{"kind": "curve", "curve": self.cfg["curve"], "n": n, "seed": s} for s in range(SEEDS)]

    def score(self, rc: dict, result: dict) -> tuple[int, int]:
        return result["correct"], result["total"]


def load(path: Path) -> None:
    by: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    with open(path) as f:
        for r in csv.DictReader(f):
            by[f"{r['source']}/{r['model']}/{r['task']}/{r['method']}"][int(r["n_train"])].append(float(r["value"]))
    for name, sizes in by.items():
        pts = sorted((n, statistics.mean(v)) for n, v in sizes.items())
        if len(pts) >= 5:
            CURVES[name] = pts


def climb(name: str, adaptive: bool, store: Path):
    from dataladder.executors.local import LocalExecutor

    pts = CURVES[name]
    start = next((n for n, _ in pts if n >= 16), pts[0][0])
    first, best = truth(name, start), max(y for n, y in pts if n >= start)
    target = first + 0.8 * (best - first)
    crossing = next((n for n, y in pts if n >= start and y >= target), None)
    rule = Rule(target=target, start=start, growth=2.0, budget=pts[-1][0], adaptive=adaptive, n_boot=200)
    lad = CurveLadder(name, "truth", {"curve": name}, rule, RungScore(0, round(first * EVAL_N), EVAL_N))
    done, = climb_ladders([lad], RunStore(store), LocalExecutor())
    doc = done.document()
    return {"examples": sum(r["n"] * SEEDS for r in doc["rungs"]), "rungs": len(doc["rungs"]),
            "reached_at": doc["reached_at"], "reason": doc["stop"]["reason"], "crossing": crossing}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--curves", default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "curves" /
                                            "finetune_curves.csv"))
    ap.add_argument("--out", default="/tmp/bench_adaptive")
    ap.add_argument("--limit", type=int, default=0, help="first N curves only (0: all)")
    a = ap.parse_args()
    load(Path(a.curves))
    names = sorted(CURVES)[: a.limit or None]
    t0, rows = time.perf_counter(), []
    for i, name in enumerate(names):
        g = climb(name, False, Path(a.out) / f"{i}-grow")
        d = climb(name, True, Path(a.out) / f"{i}-adaptive")
        rows.append((name, g, d))
    same = lambda g, d: (g["reached_at"] and d["reached_at"] and 0.5 <= d["reached_at"] / g["reached_at"] <= 2) or \
        (not g["reached_at"] and not d["reached_at"] and g["reason"] == d["reason"])  # noqa: E731
    ratio = [d["examples"] / g["examples"] for _, g, d in rows]
    print(f"{len(rows)} real fine-tuning curves ({a.curves}), {time.perf_counter() - t0:.0f} s\n")
    print("| schedule | examples trained (sum) | rungs (mean) | reached the target | reached at / truth (median) |")
    print("|---|---:|---:|---:|---:|")
    for label, k in (("grow ×2", 1), ("adaptive", 2)):
        got = [r[k] for r in rows]
        within = [x["reached_at"] / x["crossing"] for x in got if x["reached_at"] and x["crossing"]]
        print(f"| {label} | {sum(x['examples'] for x in got):,} | {statistics.mean(x['rungs'] for x in got):.2f} | "
              f"{sum(bool(x['reached_at']) for x in got) / len(got):.2f} | "
              f"{statistics.median(within) if within else float('nan'):.2f} |")
    print(f"\nadaptive / grow, examples per curve: median {statistics.median(ratio):.2f}, "
          f"mean {statistics.mean(ratio):.2f}, range {min(ratio):.2f}–{max(ratio):.2f}; the same answer in "
          f"{sum(bool(same(g, d)) for _, g, d in rows)}/{len(rows)} curves")
    by_source = defaultdict(list)
    for (name, g, d), r in zip(rows, ratio):
        by_source[name.split("/")[0]].append((r, bool(same(g, d))))
    for src, v in sorted(by_source.items()):
        print(f"  {src}: {len(v)} curves, examples ratio median {statistics.median(x for x, _ in v):.2f}, "
              f"same answer {sum(s for _, s in v)}/{len(v)}")


if __name__ == "__main__":
    main()
