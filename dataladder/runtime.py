"""Torch threads, chosen deliberately, and a warning when the machine is busier than its cores.

PyTorch's default is one thread per core. For the tiny models dataladder trains by the hundred (the shipped
1M-parameter tiny-arith, test models, small user models on CPU) one thread is as fast on a quiet machine and
many times faster on a busy one: every op is too small to split, and threads that wait for a core stall each
other (measured in `bench/RESULTS.md`: the quick demo under two busy background processes). So:

- `--threads N` (any command, before its name: `dataladder --threads 4 climb ...`), a plan's `threads:`, or
  `DATALADDER_THREADS` set the count;
- otherwise a model under `SMALL_MODEL` parameters runs on one thread, a larger one on every core this
  process may use (`os.sched_getaffinity`); on a GPU the choice only affects CPU-side work.

A long-lived Ray worker sets its own (`--threads-per-run`, default one per CPU it reserves).
"""

from __future__ import annotations

import os

ENV = "DATALADDER_THREADS"
SMALL_MODEL = 30_000_000  # parameters: below this, one thread is as fast and far steadier


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


def choose_threads(n_params: int | None) -> int:
    """Threads for a process that runs a model of `n_params` parameters (module docstring)."""
    asked = requested_threads()
    if asked is not None:
        return asked
    if n_params is not None and n_params < SMALL_MODEL:
        return 1
    return usable_cores()


def apply_threads(model) -> int:
    """Set torch's thread count for `model` (once a model is loaded); returns it."""
    import torch

    n = choose_threads(sum(p.numel() for p in model.parameters()))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def load_warning() -> str | None:
    """One line when the 1-minute load average is above the usable cores, else None."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    cores = usable_cores()
    if load <= cores:
        return None
    return (f"warning: this machine is busy (load {load:.1f} on {cores} cores); runs will be slower and timings "
            f"noisier. dataladder keeps small models on one torch thread; --threads N sets the count")
