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
