"""Ray against local: the same LoRA climb (2 seeds × 3 ranks per rung) from scratch with each executor.

    .venv/bin/python bench/bench_ray.py                 # add, ranks 1,4,16, 2 seeds, up to 160 examples,
                                                        # add and mul evaluated in both formats at every rung
    .venv/bin/python bench/bench_ray.py --budget 320

`local` runs the six runs of a rung one after another in this process with torch's default threads;
`ray` runs them at once on six long-lived workers of a local Ray cluster, one thread each
(`--cpus-per-run` 2/6 on 2 cores). Prints the wall times, their ratio and whether the rungs agree;
writes bench/out/ray/summary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataladder.executors.local import LocalExecutor  # noqa: E402
from dataladder.executors.ray import RayExecutor  # noqa: E402
from dataladder.ladder.climb import ClimbConfig, climb  # noqa: E402
from dataladder.core.logs import quiet  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skill", default="add")
    ap.add_argument("--target", type=float, default=0.9)
    ap.add_argument("--budget", type=int, default=160)
    ap.add_argument("--out", type=Path, default=Path("bench/out/ray"))
    a = ap.parse_args()
    quiet()
    cfg = ClimbConfig(skills=[a.skill], target=a.target, method="lora", lora_ranks=[1, 4, 16], seeds=2,
                      max_examples=a.budget, eval_skills=[a.skill, "mul"])
    cores = os.cpu_count() or 1
    runs_per_rung = cfg.seeds * len(cfg.lora_ranks)
    shutil.rmtree(a.out, ignore_errors=True)
    timings, docs = {}, {}
    for name in ("local", "ray"):
        t0 = time.perf_counter()
        if name == "local":
            ex = LocalExecutor()
        else:
            ex = RayExecutor(cpus_per_run=cores / runs_per_rung, threads_per_run=1, workers=runs_per_rung)
        docs[name] = climb(cfg, a.out / name, ex,
                           on_rung=lambda line, n=name: print(f"  {n}: {line}", flush=True))
        timings[name] = time.perf_counter() - t0  # includes Ray's start and the workers' imports
        if name == "ray":
            concurrent = ex.max_concurrent
            ex.shutdown()
    acc = {k: [[r["accuracy"] for r in arm["rungs"]] for arm in d["arms"]] for k, d in docs.items()}
    diff = max(abs(x - y) for la, ra in zip(acc["local"], acc["ray"]) for x, y in zip(la, ra))
    runs = sum(len(arm["rungs"]) * cfg.seeds for arm in docs["local"]["arms"])
    summary = {"cores": cores, "runs": runs, "runs_per_rung": runs_per_rung, "local_seconds": timings["local"],
               "ray_seconds": timings["ray"], "speedup": timings["local"] / timings["ray"],
               "ray_max_concurrent_runs": concurrent, "same_rungs": [len(x) for x in acc["local"]] == [len(x) for x in acc["ray"]],
               "max_accuracy_difference": diff, "accuracy": acc}
    (a.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{runs} runs ({runs_per_rung} per rung) on {cores} cores")
    print(f"{'executor':<10}{'wall s':>10}")
    print(f"{'local':<10}{timings['local']:>10.1f}")
    print(f"{'ray':<10}{timings['ray']:>10.1f}   ({concurrent} runs at once, 1 thread each)")
    print(f"local / ray = {summary['speedup']:.2f}×; largest rung accuracy difference {diff:.3f}")


if __name__ == "__main__":
    main()
