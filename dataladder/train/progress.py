"""A trainer callback that reports (step, total steps) to a progress bar, shared by the TRL recipes."""

from __future__ import annotations

from typing import Callable


def step_progress(on_step: Callable[[int, int], None]):
    from transformers.trainer_callback import TrainerCallback

    class StepProgress(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            on_step(state.global_step, state.max_steps)

    return StepProgress()


def run_trainer(trainer, on_step: Callable[[int, int], None] | None = None, callbacks: tuple = ()):
    """Train quietly (losses go to the result, not to stdout), reporting steps to `on_step`; returns
    (TrainOutput, seconds spent in `trainer.train()`)."""
    import time

    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    for cb in callbacks:
        trainer.add_callback(cb)
    if on_step is not None:
        trainer.add_callback(step_progress(on_step))
    t0 = time.perf_counter()
    out = trainer.train()
    return out, time.perf_counter() - t0


# TrainingArguments that log every optimizer step, NaN and inf included (the trainer's default filter would
# replace a NaN step's loss by the running mean): what `loss_curve` reads. Logging changes nothing trained.
LOG_EVERY_STEP = {"logging_steps": 1, "logging_nan_inf_filter": False}


def _num(x) -> float:
    return float(f"{float(x):.5g}")  # five significant digits: a short result file; NaN and inf stay themselves


def loss_curve(log_history: list[dict]) -> dict:
    """The per-step training loss and gradient norm from `trainer.state.log_history` (trained with
    `LOG_EVERY_STEP`): {"loss_curve": [loss of step 1, 2, ...], "grad_norm": [...] or None where the trainer
    logs none}."""
    steps = [h for h in log_history if "loss" in h]
    norms = [h.get("grad_norm") for h in steps]
    return {"loss_curve": [_num(h["loss"]) for h in steps],
            "grad_norm": [None if g is None else _num(g) for g in norms] if any(g is not None for g in norms) else None}


def window_means(curve: list[float], steps: int) -> tuple[float | None, float | None]:
    """(first, last) loss as the trainer logged them every max(1, steps // 10) steps: the mean of the first and of
    the last full window of the per-step `curve`."""
    k = max(1, steps // 10)
    full = len(curve) // k * k
    if not full:
        return (curve[0], curve[-1]) if curve else (None, None)
    return sum(curve[:k]) / k, sum(curve[full - k:full]) / k
