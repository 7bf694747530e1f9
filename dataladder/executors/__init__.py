"""Executors decide where runs happen (`local`: in this process; `ray`: on Ray workers); results are
always written by the driver."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from dataladder.executors.ray import RayOptions


class ExecutorConfig(BaseModel, extra="forbid", allow_inf_nan=False):
    kind: Literal["local", "ray"] = Field("local", description="local (in this process) or ray")
    ray: RayOptions = Field(default_factory=RayOptions, description="resources and cluster address for kind ray")

    @model_validator(mode="after")
    def _ray_options_need_ray(self):
        if self.kind == "local" and self.ray.model_fields_set:
            raise ValueError(f"executor.kind local with executor.ray.{sorted(self.ray.model_fields_set)[0]}: they "
                             "contradict (the ray options are for kind ray); drop one")
        return self


def make_executor(cfg: ExecutorConfig):
    if cfg.kind == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ValueError("executor ray: Ray is not installed (pip install 'ray==2.60.0', or ./setup.sh --ray)") from None
        from dataladder.executors.ray import RayExecutor

        check_local_cluster(cfg.ray)
        return RayExecutor(cfg.ray)
    from dataladder.executors.local import LocalExecutor

    return LocalExecutor()


def check_local_cluster(opts: RayOptions) -> None:
    """A run that the local Ray cluster (this machine's cores and GPUs) could never hold: refused before Ray starts
    (a cluster at --ray-address reports its resources only once joined)."""
    import os

    if opts.address is not None:
        return
    cores = os.cpu_count() or 1
    if opts.cpus_per_run > cores:
        raise ValueError(f"--cpus-per-run {opts.cpus_per_run:g}: the local Ray cluster has {cores} CPUs; give at "
                         f"most {cores} (or --ray-address of a larger cluster)")
    if opts.gpus_per_run > 0:
        import glob

        gpus = 0
        if glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/kfd"):  # no GPU device: no torch import to say so
            import torch

            gpus = torch.cuda.device_count()
        if opts.gpus_per_run > gpus:
            raise ValueError(f"--gpus-per-run {opts.gpus_per_run:g}: this machine has {gpus} GPUs for the local Ray "
                             "cluster; give 0 (or --ray-address of a cluster with GPUs)")
