"""Benchmark: benign programs with tests through the code sandbox, pooled versus serial.

    .venv/bin/python bench/bench_sandbox.py [--n 400] [--workers 0]

Each program is a small MBPP-style function (one of eight kinds, its constants varied so no
two are alike) with three assert tests; every one must pass. The pool (`--workers`, default
the CPU count) and one worker (serial) verify the same programs; both rates and their ratio
are printed, with the sandbox mode (which protections were on) and the load average, and
written to bench/out/sandbox.json. On a shared machine the rate understates the sandbox; the CPU
time per program (this process plus every sandbox process, from getrusage) does not, and
2 cores / that time is the rate two idle cores could sustain.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

from dataladder.verify.sandbox import Limits, Sandbox, sandbox_capabilities

# (program, tests) for a variant k; m = k + 2
KINDS = [
    lambda k, m: ("def f(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a + %d\n" % k,
                  [f"assert f(10) == {55 + k}", f"assert f(1) == {1 + k}", f"assert f(0) == {k}"]),
    lambda k, m: (f"def f(s):\n    return s[::-1] + '{k}'\n",
                  [f"assert f('abc') == 'cba{k}'", f"assert f('') == '{k}'", f"assert f('x') == 'x{k}'"]),
    lambda k, m: (f"def f(n):\n    # variant {k}\n    if n < 2:\n        return False\n"
                  "    return all(n % d for d in range(2, int(n ** 0.5) + 1))\n",
                  ["assert f(97)", "assert not f(91)", "assert f(2)"]),
    lambda k, m: (f"def f(xs):\n    return sorted(xs, key=lambda x: (x % {m}, x))\n",
                  ["assert f([]) == []", f"assert f([{m}, 1]) == [{m}, 1]", f"assert f([{k}]) == [{k}]"]),
    lambda k, m: (f"import math\ndef f(a, b):\n    return math.gcd(a, b) * {m}\n",
                  [f"assert f(12, 18) == {6 * m}", f"assert f(7, 5) == {m}", f"assert f(0, 4) == {4 * m}"]),
    lambda k, m: ("def f(words):\n    counts = {}\n    for w in words:\n        counts[w] = counts.get(w, 0) + 1\n"
                  f"    return max(counts, key=counts.get) if counts else '{k}'\n",
                  ["assert f(['a', 'b', 'a']) == 'a'", f"assert f([]) == '{k}'", "assert f(['z']) == 'z'"]),
    lambda k, m: (f"def f(n):\n    return sum(i * i for i in range(n + 1)) + {k}\n",
                  [f"assert f(3) == {14 + k}", f"assert f(0) == {k}", f"assert f(10) == {385 + k}"]),
    lambda k, m: (f"import re\ndef f(s):\n    return re.findall(r'\\d+', s) + ['{k}']\n",
                  [f"assert f('a1b22') == ['1', '22', '{k}']", f"assert f('') == ['{k}']", f"assert f('7') == ['7', '{k}']"]),
]


def programs(n: int) -> list[tuple[str, list[str]]]:
    return [KINDS[i % len(KINDS)](i // len(KINDS), i // len(KINDS) + 2) for i in range(n)]


def rate(jobs, workers: int) -> dict:
    box = Sandbox(Limits(), workers=workers)
    cpu0 = _cpu()
    start = time.perf_counter()
    results = box.run_many(jobs)
    seconds = time.perf_counter() - start
    cpu_ms = 1000 * (_cpu() - cpu0) / len(jobs)
    box.close()
    failed = [(i, r.reason, r.detail) for i, r in enumerate(results) if not r.ok]
    return {"workers": workers, "programs": len(jobs), "passed": len(jobs) - len(failed), "seconds": round(seconds, 3),
            "programs_per_second": round(len(jobs) / seconds, 1),
            "cpu_ms_per_program": round(cpu_ms, 2),  # this process and every sandbox process it started
            "program_cpu_ms": round(1000 * sum(r.cpu_seconds or 0 for r in results) / len(jobs), 2),
            "capacity_per_second_2_cores": round(2000 / cpu_ms, 1),
            "failures": failed[:5]}


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400, help="benign programs per measurement")
    ap.add_argument("--workers", type=int, default=0, help="pool size (0: the CPU count)")
    ap.add_argument("--out", default="bench/out/sandbox.json")
    args = ap.parse_args()
    caps = sandbox_capabilities()
    jobs = programs(args.n)
    workers = args.workers or os.cpu_count() or 1
    rate(jobs[:8], workers)  # warm the page cache and the interpreter's start-up files
    pooled = rate(jobs, workers)
    serial = rate(jobs, 1)
    ratio = pooled["programs_per_second"] / serial["programs_per_second"]
    print(f"sandbox mode {caps['mode']}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'':>8} {'workers':>8} {'programs':>9} {'passed':>7} {'seconds':>8} {'programs/s':>11} "
          f"{'CPU ms/prog':>12} {'of which program':>17} {'2-core capacity/s':>18}")
    for name, r in (("pool", pooled), ("serial", serial)):
        print(f"{name:>8} {r['workers']:>8} {r['programs']:>9} {r['passed']:>7} {r['seconds']:>8.2f} "
              f"{r['programs_per_second']:>11.1f} {r['cpu_ms_per_program']:>12.2f} {r['program_cpu_ms']:>17.2f} "
              f"{r['capacity_per_second_2_cores']:>18.1f}")
    print(f"pool / serial: {ratio:.2f}x")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({
        "pool": pooled, "serial": serial, "ratio": round(ratio, 2), "mode": caps["mode"], "capabilities": caps,
        "cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0], "python": platform.python_version(),
    }, indent=2))
    tmp.rename(out)
    print(f"wrote {out}")
    if pooled["passed"] != len(jobs) or serial["passed"] != len(jobs):
        raise SystemExit(f"some benign programs failed: {pooled['failures'] or serial['failures']}")


if __name__ == "__main__":
    main()
