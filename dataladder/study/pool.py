"""A study's independent steps at once, each in its own process with one torch thread (`dataladder run`, `demo`).

Why: a tiny model cannot use two cores from one process well (two torch threads gain 1.4× on a quiet 2-core
machine, and collapse when other work holds the cores), but two or three *steps* of a study — the probe, each
climb, curated versus noisy, prefs, rl, dpo — are independent and run side by side on one thread each. On a
quiet machine that uses every core; beside other busy processes the study keeps a share of the CPU per
runnable process instead of one in all (`bench/RESULTS.md`, "Threads").

Steps that need another's results wait for it (rm-policy for prefs, compare for every ladder). Each step
writes only its own directory, and every run still goes through its run store, so an interrupted study
resumes the same way in either mode and gives the same numbers (tested). Progress messages travel back
to this process over a pipe per worker, prefixed with the step's name. The first step that fails stops the others
(their finished runs are kept) and its error is raised here, unchanged.

The default (`Plan.parallel` unset): on a CPU-only machine, with the local executor and small models (the
weights under ~30M parameters), one step per usable core plus one, and one more per core that other work
keeps busy when the study starts (so that beside two busy processes on two cores it runs five: about 1.4
cores' worth instead of 0.7 for one process), as many as free memory holds at 2 GiB a step; otherwise one
step at a time (a larger model is better served by every core in one process, a GPU by one job at a time,
Ray by its own workers). `parallel: N` in a plan (or `parallel=N` on `dataladder run`) sets it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import yaml

from dataladder.study.plan import Plan, ladder_steps
from dataladder.core.runtime import ENV, SMALL_MODEL, usable_cores

WEIGHTS = (".safetensors", ".bin", ".pt", ".pth")
PER_STEP = 2 * 2**30  # memory a step's process may take with a small model (torch, transformers, TRL: ~0.7 GiB measured)


def weight_bytes(spec: str) -> int | None:
    """Bytes of a local model's weight files (no loading), or None for a hub id."""
    from dataladder.models.hub import resolve_model

    path = Path(resolve_model(spec)).expanduser()
    if not path.is_dir():
        return None
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.name.endswith(WEIGHTS))


def plan_models(plan: Plan) -> list[str]:
    models = [plan.model]
    for _, _, step in ladder_steps(plan):
        models += getattr(step, "models", None) or ([step.model] if getattr(step, "model", None) else [])
    return models


def free_memory() -> int | None:
    """Bytes of memory available (Linux /proc/meminfo), else None."""
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def default_parallel(plan: Plan, idle: float | None = None) -> tuple[int, str]:
    """How many steps at once when the plan does not say, and why. `idle`: cores idle now (`runtime.idle_cores`)."""
    if plan.executor.kind != "local":
        return 1, f"the {plan.executor.kind} executor runs the ladders' runs on its own workers"
    sizes = [weight_bytes(m) for m in plan_models(plan)]
    if any(b is None or b > 4 * SMALL_MODEL for b in sizes):
        return 1, "a model over ~30M parameters (or a hub id) gets every core in one process"
    import torch

    if torch.cuda.is_available():
        return 1, "a GPU runs one job at a time"
    cores = usable_cores()
    busy = 0 if idle is None else max(0, round(cores - idle))
    n, why = cores + 1 + busy, f"small models on CPU: one step per core plus one{', plus one per busy core' if busy else ''}"
    mem = free_memory()
    if mem is not None and n > max(1, mem // PER_STEP):
        n, why = max(1, mem // PER_STEP), f"{why}, as many as {mem / 2**30:.0f} GiB of free memory holds"
    return n, why + ", one torch thread each"


def plan_steps(plan: Plan) -> list[tuple[str, tuple[str, ...]]]:
    """The plan's steps in order, each with the steps whose results it reads: the probe, the ladders in the kind
    registry's order (curated versus noisy after the many-step kinds), compare last."""
    from dataladder.ladder.kinds import by_command

    steps = [("probe", ())]
    ladders = ladder_steps(plan)
    steps += [(name, ()) for k, name, _ in ladders if k.many]
    if plan.curated_vs_noisy is not None:
        steps.append(("noise", ()))
    for k, name, step in ladders:
        if not k.many:
            steps.append((name, tuple(by_command(n).cmd for n in k.needs if getattr(step, n, None) is None)))
    if plan.compare is not None:
        steps.append(("compare", tuple(name for name, _ in steps if name != "probe")))
    return steps


# --- the worker side -------------------------------------------------------------------------------------
#
# Parent and workers talk over one pipe each (multiprocessing.Pipe), never a multiprocessing Queue, Lock or
# ProcessPoolExecutor: those make POSIX named semaphores (/dev/shm/sem.mp-*) that a spawned child opens by name,
# and a SIGKILL of the study (its resource tracker with it) leaves them behind. A pipe is only file descriptors:
# the kernel closes them with the process. The libraries' own such lock (tqdm's) is replaced: `_no_named_locks`.

_conn = None
_executor = None


def _init(conn, threads: str, parent: int) -> None:
    global _conn
    try:  # Linux: die with the parent (a killed study leaves no step running; its rerun resumes alone)
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died while this process was starting, before the line above could hold
        os._exit(1)
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the steps and says so in one line
    _conn = conn
    os.environ[ENV] = threads
    from dataladder.core.logs import quiet

    quiet()  # the libraries' own bars and warnings: a step's progress comes back through the pipe
    _no_named_locks()


def _no_named_locks() -> None:
    """tqdm (the bars of datasets, transformers and TRL, even when hidden) takes a multiprocessing lock in each
    process on its first bar: a POSIX named semaphore that only the resource tracker removes, so a SIGKILL of the
    study left one /dev/shm/sem.mp-* per worker. Its write lock here is a thread lock: steps run one at a time."""
    import threading

    try:
        from tqdm.std import tqdm
    except ImportError:
        return
    tqdm.set_lock(threading.RLock())


def _worker(conn, threads: str, parent: int) -> None:
    """A worker process: run the steps the parent sends, one at a time, until it sends None or goes away."""
    _init(conn, threads, parent)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        name = task[0]
        try:
            conn.send((name, "done", _step(*task)))
        except BaseException as e:  # the step's own error, raised again in the parent
            conn.send((name, "error", e))


def _step(name: str, plan: Plan, out: str) -> float:
    """Run one step in this worker; its messages go to the parent. Returns its seconds."""
    global _executor
    from dataladder.executors import make_executor
    from dataladder.study.run import Hooks, run_step

    t0 = time.perf_counter()
    put = _conn.send
    last = [0.0]

    def progress(what: str, done: int, total: int | None) -> None:
        now = time.perf_counter()
        if now - last[0] > 0.25 or (total and done >= total):  # throttled: the parent redraws, it need not see each step
            last[0] = now
            put((name, what, (done, total)))

    count = [0]

    def on_eval(k: int) -> None:
        count[0] += k
        progress("eval", count[0], None)

    def on_rung(msg: str) -> None:
        count[0] = 0
        put((name, "rung", msg))

    hooks = Hooks(step=lambda msg: put((name, "step", msg)), rung=on_rung,
                  train=lambda s, t: progress("train", s, t), eval=on_eval)
    _executor = _executor or make_executor(plan.executor)  # warm across the steps this worker runs
    try:
        run_step(name, plan, Path(out), hooks, _executor)
    except Exception as e:
        import pickle

        try:
            pickle.loads(pickle.dumps(e))
        except Exception:  # it must cross to the parent: the same words, as a plain error
            raise RuntimeError(f"{type(e).__name__}: {e}") from None
        raise
    return time.perf_counter() - t0


# --- the parent side -------------------------------------------------------------------------------------


class StepDied(RuntimeError):
    """A step's process ended without its result: killed (the out-of-memory killer, kill -9) or crashed. Not bad
    input: the CLI says which step and how in one line and exits 1; its finished runs are kept."""

    def __init__(self, name: str, exitcode: int | None):
        import signal

        if exitcode is not None and exitcode < 0:
            try:
                sig = signal.Signals(-exitcode).name
            except ValueError:
                sig = f"signal {-exitcode}"
            how = f"was killed by {sig}" + (" (as the out-of-memory killer or kill -9 does)"
                                            if -exitcode == signal.SIGKILL else "")
        else:
            how = "ended" + (f" with exit code {exitcode}" if exitcode is not None else "")
        super().__init__(f"step {name}: its process {how} before the step finished; the finished runs are kept: "
                         "rerun the same command to resume")


def run_steps_parallel(plan: Plan, out: Path, hooks, steps: list[tuple[str, tuple[str, ...]]], workers: int) -> None:
    """Run `steps` (from `plan_steps`) with up to `workers` at once; returns when all are done."""
    from multiprocessing.connection import wait as wait_any

    ctx = mp.get_context("spawn")  # a fresh interpreter: no torch state, threads or locks inherited
    threads = str(plan.threads) if plan.threads is not None else os.environ.get(ENV) or "1"
    waiting = dict(steps)
    needed = {d: 1 for name, deps in steps if name != "compare" for d in deps}
    done: set[str] = set()
    procs: list = []  # (process, connection), started as steps need them and reused (warm) after
    idle: list = []
    running: dict = {}  # connection -> (process, step name)

    def message(conn, name: str, what: str, payload) -> None:
        if what == "step":
            hooks.step(payload)
        elif what == "rung":
            hooks.rung(f"{name} · {payload}")
        elif what == "error":
            raise payload
        elif what == "done":
            done.add(name)
            idle.append((running.pop(conn)[0], conn))
            if hooks.finished is not None:
                hooks.finished(name, payload)
        elif hooks.task is not None:
            hooks.task(name, what, *payload)

    try:
        while waiting or running:
            ready = sorted((n for n, deps in waiting.items() if set(deps) <= done),
                           key=lambda n: (-needed.get(n, 0), -len(waiting[n]), n != "rl"))
            # first a chain's steps (prefs, then rm-policy), then rl (its rungs run one after another): the long poles
            for name in ready[: max(0, workers - len(running))]:
                if idle:
                    proc, conn = idle.pop()
                else:
                    conn, child = ctx.Pipe()
                    proc = ctx.Process(target=_worker, args=(child, threads, os.getpid()), daemon=True)
                    proc.start()
                    child.close()
                    procs.append((proc, conn))
                del waiting[name]
                conn.send((name, plan, str(out)))
                running[conn] = (proc, name)
            for conn in wait_any(list(running), timeout=0.2):
                while conn in running and conn.poll():
                    try:
                        name, what, payload = conn.recv()
                    except (EOFError, OSError):
                        proc, name = running[conn]
                        proc.join(5)
                        raise StepDied(name, proc.exitcode) from None
                    message(conn, name, what, payload)
    except BaseException:
        for proc, _ in procs:  # stop the other steps: their stored runs stay
            if proc.is_alive():
                proc.terminate()
        raise
    finally:
        for proc, conn in procs:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc, conn in procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()


def run_plan(plan: Plan, hooks=None) -> Path:
    """Run every step of `plan` (independent steps side by side where `parallel` allows: `study_pool`);
    returns the path of report.html."""
    from dataladder.report.html import build_report
    from dataladder.study.run import Hooks, run_step

    hooks = hooks or Hooks()
    if plan.threads is not None:
        import os

        from dataladder.core.runtime import ENV

        os.environ[ENV] = str(plan.threads)
    out = Path(plan.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.yaml").write_text(yaml.safe_dump(plan.model_dump(), sort_keys=False))
    steps = plan_steps(plan)
    if plan.parallel is not None:
        workers, why = plan.parallel, "the plan's parallel"
    else:
        from dataladder.core.runtime import idle_cores

        workers, why = default_parallel(plan, idle_cores())
    if workers > 1:
        hooks.step(f"{len(steps)} steps, up to {workers} at once, each in its own process ({why})")
        run_steps_parallel(plan, out, hooks, steps, workers)
    else:
        from dataladder.executors import make_executor

        executor = None
        for name, _ in steps:
            if executor is None and name != "probe":  # one for the whole study: its workers stay warm across ladders
                executor = make_executor(plan.executor)
            run_step(name, plan, out, hooks, executor)
    hooks.step("report: building report.html from the result files")
    return build_report(out)
