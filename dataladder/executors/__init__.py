"""Executors decide where runs happen (`local`: in this process; `ray`: on Ray workers); results are
always written by the driver."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from dataladder.executors.ray import RayOptions


class ExecutorConfig(BaseModel, extra="forbid", allow_inf_nan=False):
    kind: Literal["local", "ray"] = Field("local", description="local (in this process) or ray")
    ray: RayOptions = Field(default_factory=RayOptions, description="resources and cluster address for kind ray")


def make_executor(cfg: ExecutorConfig):
    if cfg.kind == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ValueError("executor ray: Ray is not installed (pip install 'ray==2.60.0', or ./setup.sh --ray)") from None
        from dataladder.executors.ray import RayExecutor

        return RayExecutor(cfg.ray)
    from dataladder.executors.local import LocalExecutor

    return LocalExecutor()
