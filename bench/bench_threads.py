"""Benchmark: the quick demo on a quiet machine and under a fixed background load, side by side.

    .venv/bin/python bench/bench_threads.py                     # default settings against one step at a time
    .venv/bin/python bench/bench_threads.py --arm default --arm threads=2,parallel=1   # any settings

Each arm runs the quick demo's plan (`dataladder run configs/demo-quick.yaml`, what `demo --quick` runs) from
scratch into its own temporary directory (nothing reused) in a fresh process, with the arm's settings:
`default` (none), `parallel=N` (plan steps at once; 1 = one after another, the default before steps ran side
by side), `threads=N` (`--threads N`), or both joined by a comma. "loaded" starts `--busy` background
processes (`python3 -c "while True: pass"`, two by default, as the issue measured) before the demo and stops
them after. Prints wall seconds per arm, the loaded/quiet ratio, and each arm's times against the first
arm's; writes bench/out/threads.json. The demo's numbers are compared across arms too: a thread count
changes float summation order, so equal numbers are not guaranteed, but the table says whether they matched.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_demo(threads: int | None, busy: int, parallel: int | None = None) -> dict:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        time.sleep(2 if busy else 0)  # let the load average see them
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [str(ROOT / ".venv/bin/dataladder")] + (["--threads", str(threads)] if threads else []) + \
                ["run", str(ROOT / "configs/demo-quick.yaml"), f"output_dir={tmp}"] + \
                ([f"parallel={parallel}"] if parallel else [])
            t0 = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            seconds = time.perf_counter() - t0
            if r.returncode != 0:
                raise SystemExit(f"demo failed ({' '.join(cmd)}):\n{r.stderr[-2000:]}")
            return {"seconds": seconds, "numbers": numbers(Path(tmp)), "warned": "machine is busy" in r.stderr}
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def numbers(out: Path) -> dict:
    """The demo's measured accuracies, to compare arms: probe cells, ladder rungs, noise, prefs, rl."""
    got = {}
    probe = json.loads((out / "probe" / "probe.json").read_text())
    got["probe"] = {s: {f: v["accuracy"] for f, v in r["formats"].items()} for s, r in probe["skills"].items()}
    for lad in sorted((out / "climbs").glob("*/ladder.json")):
        doc = json.loads(lad.read_text())
        got[lad.parent.name] = [[r["n"], r["accuracy"]] for a in doc["arms"] for r in a["rungs"]]
    noise = json.loads((out / "noise" / "summary.json").read_text())
    got["noise"] = [noise["curated"], noise["noisy"]]
    for doc in ("prefs/prefs.json", "rl/rl.json", "dpo/dpo.json", "rm-policy/rm-policy.json"):
        if (out / doc).exists():
            got[doc] = [[r["n"], r["accuracy"]] for r in json.loads((out / doc).read_text())["rungs"]]
    return got


def parse_arm(text: str) -> dict:
    if text == "default":
        return {}
    arm = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key not in ("threads", "parallel") or not value.isdigit():
            raise SystemExit(f"--arm {text!r}: expected default, threads=N, parallel=N or both (threads=2,parallel=1)")
        arm[key] = int(value)
    return arm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--busy", type=int, default=2, help="background busy processes in the loaded arms")
    ap.add_argument("--arm", action="append", help="settings to run quiet and loaded (repeat): default, parallel=1, "
                                                   "threads=2, threads=2,parallel=1; default: default and parallel=1")
    args = ap.parse_args()
    arms = args.arm or ["default", "parallel=1"]
    print(f"{os.cpu_count()} cores; quick demo, quiet and with {args.busy} busy background processes")
    rows = []
    for label in arms:
        arm = parse_arm(label)
        quiet = run_demo(arm.get("threads"), 0, arm.get("parallel"))
        print(f"  {label:20} quiet  {quiet['seconds']:7.1f} s", flush=True)
        loaded = run_demo(arm.get("threads"), args.busy, arm.get("parallel"))
        print(f"  {label:20} loaded {loaded['seconds']:7.1f} s  ({loaded['seconds'] / quiet['seconds']:.2f}× quiet; "
              f"warning printed: {loaded['warned']})", flush=True)
        rows.append({"arm": label, "quiet_s": quiet["seconds"], "loaded_s": loaded["seconds"],
                     "ratio": loaded["seconds"] / quiet["seconds"], "same_numbers": quiet["numbers"] == loaded["numbers"],
                     "numbers": quiet["numbers"]})
    first = rows[0]
    print(f"\n| settings | quiet (s) | loaded, {args.busy} busy (s) | loaded / quiet | quiet, × {first['arm']} "
          f"| loaded, × {first['arm']} | same numbers quiet and loaded | same numbers as {first['arm']} |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        print(f"| {r['arm']} | {r['quiet_s']:.1f} | {r['loaded_s']:.1f} | {r['ratio']:.2f}× | "
              f"{r['quiet_s'] / first['quiet_s']:.2f}× | {r['loaded_s'] / first['loaded_s']:.2f}× | {r['same_numbers']} | "
              f"{r['numbers'] == first['numbers']} |")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "threads.json").write_text(json.dumps({"busy": args.busy, "cores": os.cpu_count(), "rows": rows}, indent=2))

if __name__ == "__main__":
    main()
