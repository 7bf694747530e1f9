"""Benchmark: does the adaptive climb predict the data a dense sweep says is needed, cheaply?

    .venv/bin/python bench/bench_climb.py [--cases add:0.9,add:0.7,mul:0.4] [--seeds 3] [--max-n 1280]

1. Ground truth. For each skill, a dense sweep on the shipped model: rungs 20·√2^k up to
   --max-n, --seeds seeds each, the same training and eval settings as `climb`. The true data
   size for a target is where the seed-mean accuracy first crosses it (log-interpolated).
2. The adaptive climb with default settings for each (skill, target): its fitted n with 80%
   interval. Reported: |log10(predicted/true)|, whether the interval covers the truth, and
   the climb's training compute as a fraction of the dense sweep's.
3. The same rungs as one case's climb, run the way people script it by hand today: one
   `trl sft` process per rung (same data and hyperparameters), each followed by one eval
   process. Reported: that wall time over the climb's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from dataladder.cli.main import _quiet  # noqa: E402

_quiet()

from dataladder.ladder.climb import ClimbConfig, climb, execute, prepare, rung_config  # noqa: E402
from dataladder.core.store import RunStore  # noqa: E402
from dataladder.models.hub import resolve_model  # noqa: E402


def dense_sizes(max_n: int) -> list[int]:
    out, k = [], 0
    while round(20 * math.sqrt(2) ** k) <= max_n:
        out.append(int(round(20 * math.sqrt(2) ** k)))
        k += 1
    return out


def crossing(sizes: list[int], acc: list[float], target: float) -> float | None:
    for i, a in enumerate(acc):
        if a >= target:
            if i == 0:
                return float(sizes[0])
            a0, a1 = acc[i - 1], a
            t = (target - a0) / (a1 - a0) if a1 > a0 else 1.0
            return float(math.exp(math.log(sizes[i - 1]) + t * (math.log(sizes[i]) - math.log(sizes[i - 1]))))
    return None


def sweep(skill: str, seeds: int, max_n: int, out: Path) -> dict:
    cfg = ClimbConfig(skills=[skill])
    ctx = prepare("tiny-arith", cfg)
    store = RunStore(out)
    sizes = dense_sizes(max_n)
    acc, seed_acc, eval_n, flops, t0 = [], [], [], 0.0, time.perf_counter()
    for n in sizes:
        per_seed = []
        for s in range(seeds):
            rc = rung_config(ctx.fingerprint, cfg, skill, None, n, s)
            r = store.get(rc) or store.put(rc, execute(ctx, cfg, rc))
            per_seed.append(r["eval"][skill][cfg.format_for(skill)]["accuracy"])
            flops += r["train"]["flops"]
        acc.append(sum(per_seed) / len(per_seed))
        seed_acc.append(per_seed)
        eval_n.append(r["eval"][skill][cfg.format_for(skill)]["n"])
        print(f"  sweep {skill} n={n}: mean accuracy {acc[-1]:.3f} over {seeds} seeds", flush=True)
    return {"sizes": sizes, "accuracy": acc, "seed_accuracy": seed_acc, "eval_n": eval_n, "flops": flops,
            "seconds": time.perf_counter() - t0}


def hand_scripted(doc: dict, skill: str, workdir: Path) -> float:
    """Wall time of one `trl sft` process plus one eval process per rung and seed of the climb."""
    from dataladder.ladder.climb_pool import one_skill

    cfg = ClimbConfig(**doc["config"])
    hp = cfg.hp
    model_path = resolve_model("tiny-arith")
    arm = next(a for a in doc["arms"] if a["skill"] == skill)
    t0 = time.perf_counter()
    for rung in arm["rungs"]:
        for s in range(cfg.seeds):
            d = workdir / f"n{rung['n']}-s{s}"
            (d / "data").mkdir(parents=True)
            recs = list(one_skill(skill).records("train", rung["n"], seed=1000 + s, fmt=cfg.format_for(skill)))
            (d / "data" / "train.jsonl").write_text("".join(json.dumps({"prompt": r["prompt"], "completion": r["completion"]}) + "\n" for r in recs))
            steps = hp.steps_for(rung["n"])
            subprocess.run([
                shutil.which("trl") or str(Path(sys.executable).parent / "trl"), "sft",
                "--model_name_or_path", model_path, "--dataset_name", str(d / "data"), "--output_dir", str(d / "out"),
                "--max_steps", str(steps), "--per_device_train_batch_size", str(hp.batch_size),
                "--learning_rate", str(hp.learning_rate_full), "--lr_scheduler_type", "cosine",
                "--warmup_steps", str(int(hp.warmup_ratio * steps)), "--seed", str(s), "--bf16", "False",
                "--gradient_checkpointing", "False", "--use_cpu", "True", "--completion_only_loss", "True",
                "--report_to", "none", "--save_strategy", "no", "--max_length", str(hp.max_length),
            ], check=True, capture_output=True)
            subprocess.run([str(Path(sys.executable).parent / "dataladder"), "probe", "--model", str(d / "out"),
                            "--n", str(cfg.eval_n), "--output-dir", str(d / "probe")] +
                           sum((["--skill", k] for k in cfg.evaluated()), []), check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="add:0.9,add:0.7,mul:0.4")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--max-n", type=int, default=1280)
    ap.add_argument("--out", default="bench/out/climb")
    ap.add_argument("--skip-hand", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    cases = [(c.split(":")[0], float(c.split(":")[1])) for c in args.cases.split(",")]

    truths = {}
    for skill in dict.fromkeys(s for s, _ in cases):
        truths[skill] = sweep(skill, args.seeds, args.max_n, out / f"sweep-{skill}")

    rows, climb_docs = [], {}
    for skill, target in cases:
        t0 = time.perf_counter()
        doc = climb(ClimbConfig(skills=[skill], target=target), out / f"climb-{skill}-{target}")
        wall = time.perf_counter() - t0
        climb_docs[(skill, target)] = (doc, wall)
        arm = doc["arms"][0]
        fit = arm["fit"] or {}
        nt = fit.get("n_target") or {}
        truth = crossing(truths[skill]["sizes"], truths[skill]["accuracy"], target)
        pred = nt.get("median") or arm["reached_at"]
        lo, hi = nt.get("lo80") or 0, nt.get("hi80") or math.inf
        climb_flops = sum(r["flops"] for r in arm["rungs"])
        rows.append({
            "skill": skill, "target": target, "true_n": truth, "predicted_n": pred, "lo80": lo, "hi80": hi,
            "abs_log10_ratio": abs(math.log10(pred / truth)) if truth and pred else None,
            "covered": (lo <= truth <= hi) if truth else None, "stop": arm["stop"]["reason"],
            "reached_at": arm["reached_at"], "climb_flops": climb_flops,
            "compute_fraction": climb_flops / truths[skill]["flops"], "climb_seconds": wall,
        })

    print(f"\ndense sweep: rungs 20·√2^k ≤ {args.max_n}, {args.seeds} seeds; climb: default settings (2 seeds, growth 2)")
    print(f"{'case':12}{'true n':>9}{'predicted':>11}{'80% interval':>22}{'|log10 ratio|':>15}{'covered':>9}"
          f"{'compute':>9}  stop")
    for r in rows:
        tn = f"{r['true_n']:.0f}" if r["true_n"] else f">{args.max_n}"
        iv = f"[{r['lo80']:.0f}, {r['hi80']:.0f}]" if math.isfinite(r["hi80"]) else f"[{r['lo80']:.0f}, ∞]"
        lr = f"{r['abs_log10_ratio']:.2f}" if r["abs_log10_ratio"] is not None else "—"
        print(f"{r['skill'] + '@' + str(r['target']):12}{tn:>9}{(r['predicted_n'] or 0):>11.0f}{iv:>22}{lr:>15}"
              f"{str(r['covered']):>9}{r['compute_fraction']:>9.2f}  {r['stop']}")
    scored = [r for r in rows if r["abs_log10_ratio"] is not None]
    if scored:
        print(f"within 2x: {sum(r['abs_log10_ratio'] <= math.log10(2) for r in scored)}/{len(scored)}; "
              f"covered: {sum(bool(r['covered']) for r in scored)}/{len(scored)}; "
              f"mean compute fraction: {sum(r['compute_fraction'] for r in rows) / len(rows):.2f}")
    if not args.skip_hand:
        skill, target = cases[0]
        doc, wall = climb_docs[(skill, target)]
        fresh = out / "climb-timing"
        shutil.rmtree(fresh, ignore_errors=True)
        t0 = time.perf_counter()
        climb(ClimbConfig(skills=[skill], target=target), fresh)  # timed from scratch, same rungs
        climb_wall = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as d:
            hand = hand_scripted(doc, skill, Path(d))
        print(f"\nhand-scripted (one `trl sft` + one eval process per rung × seed) {hand:.1f} s vs climb {climb_wall:.1f} s "
              f"in one process: {hand / climb_wall:.2f}x")
    (out / "summary.json").write_text(json.dumps({"cases": rows, "truths": truths}, indent=2))


if __name__ == "__main__":
    main()
