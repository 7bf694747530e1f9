"""Torch threads, chosen deliberately, and a warning when the machine is busier than its cores.

PyTorch's default is one thread per core. For the tiny models dataladder trains by the hundred (the shipped
1M-parameter tiny-arith, test models, small user models on CPU) that is right on a quiet machine and ruinous
on a busy one: threads that wait for a core stall each other (the quick demo took 5.3× its quiet time beside
two busy processes). One thread is steady but, quiet, 2.5× slower (`bench/RESULTS.md`). So a small model
gets as many threads as cores are idle when it is loaded (at least one; CPU time from /proc/stat over 0.2 s),
and a larger one every usable core. `--threads N` (any command, before its name: `dataladder --threads 4
climb ...`), a plan's `threads:`, or `DATALADDER_THREADS` set the count instead. On a GPU the choice only
affects CPU-side work. A long-lived Ray worker sets its own (`--threads-per-run`, default one per CPU it
reserves), and a study's steps that run side by side one each (`study_pool`).

Scratch directories (the trainers' `output_dir`, the sandbox's working directories) are named
`dataladder-<kind>-<pid>-…` in the system's temporary directory and removed on exit; those of a process that
was killed are removed by the next one that makes a scratch directory (`scratch_dir`, `sweep_scratch`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ENV = "DATALADDER_THREADS"
SMALL_MODEL = 30_000_000  # parameters: below this, threads follow the idle cores


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def requested_threads() -> int | None:
    """The count the user asked for (`--threads`, plan `threads:`, $DATALADDER_THREADS), else None."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{ENV}={raw!r}: expected a positive number of threads")
    return int(raw)


def idle_cores(interval: float = 0.2) -> float | None:
    """Cores idle over `interval` seconds (the machine's idle CPU time from /proc/stat), or None off Linux."""
    import time

    def snap() -> tuple[int, int]:
        with open("/proc/stat") as f:
            vals = [int(x) for x in f.readline().split()[1:9]]
        return vals[3] + vals[4], sum(vals)  # idle + iowait, all

    try:
        i0, t0 = snap()
        time.sleep(interval)
        i1, t1 = snap()
    except (OSError, ValueError, IndexError):
        return None
    return None if t1 <= t0 else (i1 - i0) / (t1 - t0) * (os.cpu_count() or 1)


def choose_threads(n_params: int | None) -> int:
    """Threads for a process that runs a model of `n_params` parameters (module docstring)."""
    asked = requested_threads()
    if asked is not None:
        return asked
    cores = usable_cores()
    if n_params is None or n_params >= SMALL_MODEL:
        return cores
    idle = idle_cores()
    return 1 if idle is None else max(1, min(cores, int(idle + 0.25)))  # measured while this process sleeps


def apply_threads(model) -> int:
    """Set torch's thread count for `model` (once a model is loaded); returns it."""
    import torch

    n = choose_threads(sum(p.numel() for p in model.parameters()))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def load_warning() -> str | None:
    """One line when other work keeps every core busy (no idle core over 0.2 s; without /proc/stat, a 1-minute load
    average above the cores plus this process), else None."""
    cores = usable_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    idle = idle_cores()  # measured while this process sleeps, so its own work does not count
    if (idle >= 0.25) if idle is not None else (load <= cores + 1):
        return None
    return (f"warning: this machine is busy (load {load:.1f}, {0.0 if idle is None else idle:.1f} of {cores} cores "
            f"idle); runs will be slower and timings noisier. Small models get one torch thread; --threads N sets it")


_SCRATCH = re.compile(r"dataladder-[a-z]+-(\d+)-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def sweep_scratch() -> int:
    """Remove the scratch directories of processes that no longer run (killed mid-run); returns how many."""
    gone = 0
    for d in Path(tempfile.gettempdir()).glob("dataladder-*-*"):
        m = _SCRATCH.match(d.name)
        if m and d.is_dir() and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            shutil.rmtree(d, ignore_errors=True)
            gone += 1
    return gone


def scratch_path(kind: str) -> str:
    """A new scratch directory `dataladder-<kind>-<pid>-…` (the caller removes it); stale ones are swept first."""
    sweep_scratch()
    return tempfile.mkdtemp(prefix=f"dataladder-{kind}-{os.getpid()}-")


@contextmanager
def scratch_dir(kind: str) -> Iterator[str]:
    """A scratch directory for the duration of a block, removed after it (and after a kill, by the next run)."""
    d = scratch_path(kind)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def peak_memory() -> dict:
    """This process's peak memory so far, in bytes: `rss` (resident set, `getrusage`; None where unavailable) and
    `cuda` (torch's peak allocated GPU memory, None without CUDA or where torch is not loaded). A result file
    records it at write time (`peak_memory_bytes`); work in other processes (Ray workers) is not counted."""
    import sys

    rss = None
    try:
        import resource

        raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rss = int(raw) if sys.platform == "darwin" else int(raw) * 1024  # macOS: bytes; Linux: KiB
    except (ImportError, OSError, ValueError):  # not a Unix
        pass
    cuda = None
    torch = sys.modules.get("torch")  # never import torch just to ask
    if torch is not None:
        try:
            if torch.cuda.is_available() and torch.cuda.is_initialized():
                cuda = int(torch.cuda.max_memory_allocated())
        except Exception:  # noqa: BLE001 - a broken driver must not fail a result file
            cuda = None
    return {"rss": rss, "cuda": cuda}
