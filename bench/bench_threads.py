"""Benchmark: the quick demo on a quiet machine and under a fixed background load, side by side.

    .venv/bin/python bench/bench_threads.py                 # default settings, quiet vs loaded
    .venv/bin/python bench/bench_threads.py --threads 2     # also the old default (torch's: a thread per core)

Each arm runs `dataladder demo --quick` from scratch into its own temporary directory (nothing reused) in a
fresh process. "loaded" starts `--busy` background processes (`python3 -c "while True: pass"`, two by
default, as the issue measured) before the demo and stops them after. Prints wall seconds per arm and the
loaded/quiet ratio per thread setting; writes bench/out/threads.json. The demo's numbers are compared
across arms too: a thread count changes float summation order, so equal numbers are not guaranteed, but
the table says whether they matched.
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


def run_demo(threads: int | None, busy: int) -> dict:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        time.sleep(2 if busy else 0)  # let the load average see them
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [str(ROOT / ".venv/bin/dataladder")] + (["--threads", str(threads)] if threads else []) + \
                ["demo", "--quick", "--output-dir", tmp]
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
    got["prefs"] = [r["accuracy"] for r in json.loads((out / "prefs" / "prefs.json").read_text())["ladder"]]
    got["rl"] = [r["accuracy"] for r in json.loads((out / "rl" / "rl.json").read_text())["ladder"]]
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--busy", type=int, default=2, help="background busy processes in the loaded arms")
    ap.add_argument("--threads", type=int, default=None, help="also run both arms with this --threads (e.g. 2)")
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores; quick demo, quiet and with {args.busy} busy background processes")
    settings = [None] + ([args.threads] if args.threads else [])
    rows = []
    for th in settings:
        label = "default" if th is None else f"--threads {th}"
        quiet = run_demo(th, 0)
        print(f"  {label:12} quiet  {quiet['seconds']:7.1f} s", flush=True)
        loaded = run_demo(th, args.busy)
        print(f"  {label:12} loaded {loaded['seconds']:7.1f} s  ({loaded['seconds'] / quiet['seconds']:.2f}× quiet; "
              f"warning printed: {loaded['warned']})", flush=True)
        rows.append({"threads": label, "quiet_s": quiet["seconds"], "loaded_s": loaded["seconds"],
                     "ratio": loaded["seconds"] / quiet["seconds"], "same_numbers": quiet["numbers"] == loaded["numbers"],
                     "numbers": quiet["numbers"]})
    print(f"\n| threads | quiet (s) | loaded, {args.busy} busy (s) | loaded / quiet | same numbers |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['threads']} | {r['quiet_s']:.1f} | {r['loaded_s']:.1f} | {r['ratio']:.2f}× | {r['same_numbers']} |")
    if len(rows) == 2:
        print(f"\ndefault vs {rows[1]['threads']}: quiet {rows[1]['quiet_s'] / rows[0]['quiet_s']:.2f}×, "
              f"loaded {rows[1]['loaded_s'] / rows[0]['loaded_s']:.2f}× the default's time; "
              f"same numbers: {rows[0]['numbers'] == rows[1]['numbers']}")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "threads.json").write_text(json.dumps({"busy": args.busy, "cores": os.cpu_count(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
