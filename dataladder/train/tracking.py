"""Experiment tracking as TRL users have it: `--report-to none|tensorboard|wandb|mlflow|trackio`.

    check(report_to)                                   # before any work: a missing package fails in one line
    tracking = Tracking("tensorboard", root="runs/demo/tracking", group="demo/add-full")
    run = "demo/add-full/n=80/seed=0"
    with tracking.env(run):                            # the env vars the backend's Trainer callback reads
        train_sft(..., tracking=tracking.training_kwargs(run))
    tracking.log_rung("demo/add-full", 80, {"accuracy": 0.94, "ci_low": 0.91, "ci_high": 0.96})

Training runs log through transformers' own callbacks (`report_to`, `run_name`); the ladder's own metrics
(score, interval, forecast) go to one run per ladder, `<ladder>/ladder`, with the rung size n as the step.
Where each backend finds the rest (transformers 5.23): TensorBoard's directory from TENSORBOARD_LOGGING_DIR
(TrainingArguments has no `logging_dir` any more), the W&B group from WANDB_RUN_GROUP and its project from
WANDB_PROJECT, the MLflow experiment from MLFLOW_EXPERIMENT_NAME, the Trackio project from the `project`
argument. A `Tracking` is a frozen dataclass of strings, so it pickles to Ray workers.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

REPORT_TO = ("none", "tensorboard", "wandb", "mlflow", "trackio")
PROJECT = "dataladder"  # W&B project when WANDB_PROJECT is unset; Trackio project without a group


def check(report_to: str) -> str:
    """`report_to` if it names a backend whose package is installed; otherwise a one-line ValueError."""
    if report_to not in REPORT_TO:
        from dataladder.core.registry import did_you_mean

        raise ValueError(f"--report-to {report_to}: {did_you_mean('backend', report_to, list(REPORT_TO))}")
    if report_to != "none" and importlib.util.find_spec(report_to) is None:
        raise ValueError(f"--report-to {report_to} needs the {report_to} package, which is not installed: "
                         f"pip install {report_to}")
    return report_to


def _check_field(v: str) -> str:
    try:
        return check(v)
    except ValueError as e:  # pydantic names the field; the message says what to do
        raise ValueError(str(e).split(": ", 1)[1]) from None


ReportTo = Annotated[str, AfterValidator(_check_field)]  # a config field: `report_to: ReportTo = "none"`


@dataclass(frozen=True)
class Tracking:
    """Where one study reports: the backend, TensorBoard's directory and the group (one per ladder)."""

    report_to: str = "none"
    root: str | None = None  # TensorBoard logs: <root>/<run name>
    group: str | None = None  # e.g. "demo/add-full": W&B group, MLflow experiment, Trackio project

    def __post_init__(self):
        if self.report_to not in REPORT_TO:
            check(self.report_to)
        if self.report_to == "tensorboard" and not self.root:
            raise ValueError("--report-to tensorboard needs a directory for its logs (Tracking.root)")

    def training_kwargs(self, run_name: str) -> dict:
        """The TrainingArguments keywords of one training run (merged over a recipe's `report_to="none"`)."""
        if self.report_to == "none":
            return {"report_to": "none"}
        kw = {"report_to": [self.report_to], "run_name": run_name}
        if self.report_to == "trackio":
            kw["project"] = self._project()
        return kw

    @contextlib.contextmanager
    def env(self, run_name: str) -> Iterator[None]:
        """Around one training run: the env vars its callback reads (restored after); closes a W&B run
        that transformers leaves open, so the next run in this process does not log into it."""
        want = {}
        if self.report_to == "tensorboard":
            want["TENSORBOARD_LOGGING_DIR"] = os.path.join(self.root, run_name)
        elif self.report_to == "wandb":
            want["WANDB_PROJECT"] = os.environ.get("WANDB_PROJECT", PROJECT)
            if self.group:
                want["WANDB_RUN_GROUP"] = self.group
        elif self.report_to == "mlflow" and self.group:
            want["MLFLOW_EXPERIMENT_NAME"] = os.environ.get("MLFLOW_EXPERIMENT_NAME", self.group)
        old = {k: os.environ.get(k) for k in want}
        os.environ.update(want)
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            wandb = sys.modules.get("wandb")
            if self.report_to == "wandb" and wandb is not None and wandb.run is not None:
                wandb.finish()

    def log_rung(self, ladder: str, n: int, metrics: dict[str, float | None]) -> None:
        """The ladder's own metrics at rung size `n` (None values skipped) in the run `<ladder>/ladder`,
        beside the ladder's training runs `<ladder>/n=<n>/seed=<s>`. A no-op for report_to none."""
        values = {f"ladder/{k}": float(v) for k, v in metrics.items() if v is not None}
        if self.report_to == "none" or not values:
            return
        name = f"{ladder}/ladder"
        if self.report_to == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter

            with SummaryWriter(log_dir=os.path.join(self.root, name)) as w:
                for k, v in values.items():
                    w.add_scalar(k, v, n)
        elif self.report_to == "wandb":
            import wandb

            project = os.environ.get("WANDB_PROJECT", PROJECT)
            run_id = hashlib.sha1(f"{project}/{name}".encode()).hexdigest()[:16]  # each rung resumes one run
            with wandb.init(project=project, group=self.group, name=name, id=run_id, resume="allow",
                            reinit="create_new") as run:
                # n as its own x-axis: rungs may finish out of order, and W&B drops steps that go back
                run.define_metric("ladder/n")
                run.define_metric("ladder/*", step_metric="ladder/n")
                run.log({"ladder/n": n, **values})
        elif self.report_to == "mlflow":
            import mlflow

            experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME", self.group)
            if experiment:
                mlflow.set_experiment(experiment)
            found = mlflow.search_runs(filter_string=f"tags.`mlflow.runName` = '{name}'", max_results=1,
                                       output_format="list")
            with mlflow.start_run(run_id=found[0].info.run_id if found else None, run_name=None if found else name,
                                  nested=mlflow.active_run() is not None):
                mlflow.log_metrics(values, step=n)
        elif self.report_to == "trackio":
            import trackio

            trackio.init(project=self._project(), name=name, resume="allow")
            trackio.log(values, step=n)
            trackio.finish()

    def _project(self) -> str:
        # Trackio keeps one local database per project, named after it: no path separators
        return (self.group or PROJECT).replace("/", "-")
