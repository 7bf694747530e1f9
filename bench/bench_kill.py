"""SIGKILL a study at random points, rerun it, and compare with an uninterrupted run: documents, runs, orphans,
leftovers in /tmp and /dev/shm (issue 27's judgement).

    .venv/bin/python bench/bench_kill.py /tmp/kill-audit [seed]     # about 4 min on 2 cores

A small study (probe, two climbs, dpo, icl, compare; three steps at once) runs once uninterrupted, then in a
second directory it is killed three times (SIGKILL to the study's process only: its step processes must die
with it) at random moments within the uninterrupted run's time, and run again to the end. Prints the orphan
processes after each kill, the documents that differ (timings left out), the finished runs of both, and what is
new in /tmp and /dev/shm. Figures: bench/RESULTS.md.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

EXE = str(Path(sys.executable).parent / "dataladder")
PLAN = """model: tiny-arith
probe: {skills: [add, mul], n: 40}
climbs:
  - {name: add-full, skills: [add], eval_n: 40, seeds: 2, max_examples: 80}
  - {name: mul-lora, skills: [mul], method: lora, lora_ranks: [4], eval_n: 40, seeds: 1, max_examples: 80}
dpo: {skill: add, start: 8, max_pairs: 32, seeds: 1, eval_n: 40, hp: {min_steps: 4, max_steps: 8, batch_size: 4}}
icl: {skill: add, eval_n: 40, seeds: 1, max_shots: 4}
compare: {climb: add-full}
parallel: 3
"""
root = Path(sys.argv[1]); root.mkdir(parents=True, exist_ok=True)
(root / "plan.yaml").write_text(PLAN)
def listing(d):
    try:
        return {p.name for p in Path(d).iterdir()}
    except OSError:
        return set()
def procs():
    out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout
    return {l.split()[0]: l for l in out.splitlines()[1:] if "dataladder" in l or "multiprocessing" in l}
tmp0, shm0, ps0 = listing("/tmp"), listing("/dev/shm"), procs()
env = dict(os.environ, DATALADDER_THREADS="1")
def run(out, kill_after=None):
    p = subprocess.Popen([EXE, "run", str(root / "plan.yaml"), f"output_dir={out}"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    if kill_after is None:
        return p.wait()
    time.sleep(kill_after)
    if p.poll() is None:
        os.kill(p.pid, signal.SIGKILL)  # the study's parent only: its steps must die with it
    p.wait()
    return None
t0 = time.time(); assert run(root / "ref") == 0; ref_s = time.time() - t0
print(f"uninterrupted: {ref_s:.0f} s")
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
kills = sorted(rng.uniform(3, ref_s * 0.9) for _ in range(3))
for k in kills:
    run(root / "killed", kill_after=k)
    time.sleep(2)
    orphans = {pid: l for pid, l in procs().items() if pid not in ps0}
    print(f"killed at {k:.0f} s: {len(orphans)} orphan processes", list(orphans.values())[:3])
assert run(root / "killed") == 0
TIME = ("seconds", "peak_memory", "built", "per_second")
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if not any(t in k for t in TIME)}
    return [strip(v) for v in x] if isinstance(x, list) else x
same = diff = 0
for p in sorted((root / "ref").rglob("*.json")):
    if "/runs/" in str(p):
        continue
    q = root / "killed" / p.relative_to(root / "ref")
    a = json.loads(json.dumps(strip(json.loads(p.read_text()))).replace(str(root / "ref"), "OUT"))
    b = json.loads(json.dumps(strip(json.loads(q.read_text()))).replace(str(root / "killed"), "OUT")) if q.exists() else None
    if a == b: same += 1
    else: diff += 1; print("differs", p.relative_to(root / "ref"))
runs = lambda d: sorted(str(x.parent.relative_to(d)) for x in d.rglob("runs/*/done"))
print(f"documents identical {same}, differ {diff}; runs ref {len(runs(root / 'ref'))} killed {len(runs(root / 'killed'))}, "
      f"same set {runs(root / 'ref') == runs(root / 'killed')}")
time.sleep(2)
print("new in /tmp:", sorted(listing("/tmp") - tmp0)[:10], " new in /dev/shm:", sorted(listing("/dev/shm") - shm0)[:10])
print("orphans now:", [l for pid, l in procs().items() if pid not in ps0][:5])
