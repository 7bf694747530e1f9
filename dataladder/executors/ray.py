"""The Ray executor: a ladder's independent runs as tasks on long-lived Ray workers.

    dataladder climb --skill add --method lora --executor ray                       # a local Ray cluster
    dataladder climb --skill add --executor ray --ray-address auto --gpus-per-run 1  # an existing cluster

Each worker is a Ray actor with declared resources (`num_cpus`/`num_gpus` per run); it keeps its
imports, model, eval items and tokenized pools warm between runs, so only the first run on a
worker pays for them. On a GPU, Ray gives each worker its own device (`CUDA_VISIBLE_DEVICES`):
`gpus_per_run=1` is one run per GPU, `0.5` two small runs per GPU. Workers only compute: they
return results to the driver, which is the only writer of the run store. A run whose worker dies
is given to a fresh worker (up to `max_retries` times); finished runs are already stored, so
nothing is lost or repeated.
"""

from __future__ import annotations

import math
import os
import time
from typing import Callable, Iterator

from pydantic import BaseModel, Field, model_validator


class RayOptions(BaseModel, extra="forbid", allow_inf_nan=False):
    address: str | None = Field(None, description="'auto', 'ray://host:port', or none for a local cluster")
    cpus_per_run: float = Field(1.0, ge=0, le=1024, description="Ray num_cpus declared per run (fractions share a "
                                                                "core)")
    gpus_per_run: float = Field(0.0, ge=0, le=64, description="Ray num_gpus declared per run (0.5: two runs per GPU)")
    threads_per_run: int | None = Field(None, ge=1, le=1024, description="torch threads per run (default: max(1, "
                                                                       "cpus_per_run))")
    workers: int | None = Field(None, ge=1, le=4096, description="long-lived workers (default: as many as the "
                                                                 "resources allow)")
    max_retries: int = Field(3, ge=0, le=100, description="times a run is retried when its worker dies")

    @model_validator(mode="after")
    def _ray_takes_these(self):  # what Ray would refuse only once its cluster is up
        if self.cpus_per_run == 0 == self.gpus_per_run:  # Ray would place any number of such runs on one core
            raise ValueError("cpus_per_run (--cpus-per-run) 0 with gpus_per_run (--gpus-per-run) 0: a run that "
                             "declares no CPU and no GPU does not bound how many run at once; give --cpus-per-run "
                             "above 0 (0 only beside a GPU share)")
        if self.gpus_per_run > 1 and self.gpus_per_run != int(self.gpus_per_run):
            raise ValueError(f"gpus_per_run (--gpus-per-run) {self.gpus_per_run:g}: Ray takes a fraction below 1 or "
                             "a whole number of GPUs")
        if self.address is not None and not (self.address == "auto" or "://" in self.address
                                             or self.address.rpartition(":")[2].isdigit()):
            raise ValueError(f"address (--ray-address) {self.address!r}: expected 'auto', ray://host:port or "
                             "host:port")
        return self


def _worker_class():
    import ray

    @ray.remote(max_restarts=0)
    class RunWorker:
        """Runs jobs one at a time and keeps their prepared contexts (model, data) warm."""

        def __init__(self, threads: int):
            import torch

            from dataladder.core.logs import quiet
            from dataladder.executors.contexts import Contexts

            torch.set_num_threads(threads)
            quiet()
            self.contexts = Contexts()

        def pid(self) -> int:
            return os.getpid()

        def run(self, job) -> dict:
            return self.contexts.run(job)

    return RunWorker


class RayExecutor:
    name = "ray"

    def __init__(self, options: RayOptions | None = None, **kwargs):
        import ray

        self.opts = options or RayOptions(**kwargs)
        if not ray.is_initialized():
            if self.opts.address:
                ray.init(address=self.opts.address, log_to_driver=False)
            else:  # a local cluster of this machine's cores (on 127.0.0.1, no dashboard)
                ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                         _node_ip_address="127.0.0.1")
        self._ray = ray
        self._cls = _worker_class()
        self.threads = self.opts.threads_per_run or max(1, int(self.opts.cpus_per_run))
        self.workers: list = []
        self.pids: list[int] = []
        self.retries = 0
        self.busy: dict[int, float] = {}  # worker index → when its current run started
        self.max_concurrent = 0  # most runs in flight at once (how parallel the ladder really ran)

    def set_progress(self, on_train: Callable | None, on_eval: Callable | None) -> None:
        """Per-step progress stays on the workers; the driver reports each finished run."""

    def capacity(self) -> int:
        """How many runs the cluster can hold at once under the declared resources."""
        if self.opts.workers:
            return self.opts.workers
        res = self._ray.cluster_resources()
        n = math.floor(res.get("CPU", 1) / self.opts.cpus_per_run + 1e-9) if self.opts.cpus_per_run > 0 else 64
        if self.opts.gpus_per_run > 0:
            n = min(n, math.floor(res.get("GPU", 0) / self.opts.gpus_per_run + 1e-9))
        if n < 1:
            raise ValueError(f"the Ray cluster ({res.get('CPU', 0):g} CPUs, {res.get('GPU', 0):g} GPUs) cannot hold "
                             f"one run of {self.opts.cpus_per_run:g} CPUs and {self.opts.gpus_per_run:g} GPUs")
        return n

    def _spawn(self, k: int = 1) -> list[tuple[object, int]]:
        """Start `k` workers at once (they import in parallel); returns (handle, pid) pairs."""
        ws = [self._cls.options(num_cpus=self.opts.cpus_per_run, num_gpus=self.opts.gpus_per_run).remote(self.threads)
              for _ in range(k)]
        return list(zip(ws, self._ray.get([w.pid.remote() for w in ws])))

    def _ensure_workers(self, n: int) -> None:
        for w, pid in self._spawn(max(0, min(n, self.capacity()) - len(self.workers))):
            self.workers.append(w)
            self.pids.append(pid)

    def run(self, jobs: list) -> Iterator[tuple[int, dict]]:
        """(index, result) for each job as it finishes; a job whose worker dies is retried on a fresh one."""
        from ray.exceptions import RayActorError, RayTaskError

        if not jobs:
            return
        self._ensure_workers(len(jobs))
        queue = list(range(len(jobs)))
        attempts = [0] * len(jobs)
        idle = list(range(len(self.workers)))
        inflight: dict = {}  # ObjectRef → (job index, worker index)
        while queue or inflight:
            while queue and idle:
                i, w = queue.pop(0), idle.pop(0)
                inflight[self.workers[w].run.remote(jobs[i])] = (i, w)
                self.busy[w] = time.monotonic()
            self.max_concurrent = max(self.max_concurrent, len(inflight))
            done, _ = self._ray.wait(list(inflight), num_returns=1)
            ref = done[0]
            i, w = inflight.pop(ref)
            self.busy.pop(w, None)
            try:
                result = self._ray.get(ref)
            except RayActorError:  # the worker died (killed, OOM, node lost): retry on a fresh one
                attempts[i] += 1
                self.retries += 1
                if attempts[i] > self.opts.max_retries:
                    raise RuntimeError(f"run {jobs[i].kind} {jobs[i].rc.get('n', '')} lost its worker {attempts[i]} times; giving up")
                (self.workers[w], self.pids[w]), = self._spawn()
                queue.insert(0, i)
                idle.append(w)
                continue
            except RayTaskError as e:  # the run itself failed: raise its own error here
                raise e.as_instanceof_cause() from None
            idle.append(w)
            yield i, result

    def shutdown(self) -> None:
        for w in self.workers:
            self._ray.kill(w)
        self.workers, self.pids = [], []
