"""A trainer callback that reports (step, total steps) to a progress bar, shared by the TRL recipes."""

from __future__ import annotations

from typing import Callable


def step_progress(on_step: Callable[[int, int], None]):
    from transformers.trainer_callback import TrainerCallback

    class StepProgress(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            on_step(state.global_step, state.max_steps)

    return StepProgress()
