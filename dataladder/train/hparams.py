"""What the fine-tuning recipes share: the step schedule, warm-up, weight decay and LoRA's alpha and dropout.

SFT, the reward model and DPO each subclass `TrainHparams` (reward and DPO through `PairHparams`, whose
schedule counts pairs). Run-store keys are the sorted model dump, so where a field is declared does not
change them.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field


class TrainHparams(BaseModel, extra="forbid", allow_inf_nan=False):
    epochs: float
    min_steps: int | None
    max_steps: int
    batch_size: int | None
    warmup_ratio: float = Field(0.1, ge=0, le=1, description="share of steps of linear warm-up")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    lora_alpha_ratio: float = Field(2.0, gt=0, description="lora_alpha = ratio × lora_r")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="LoRA dropout")

    def steps_for(self, n: int) -> int:
        """Optimizer steps for a rung of n: `epochs` passes, within [min_steps, max_steps]."""
        if self.min_steps is None or self.batch_size is None:
            raise ValueError("hyperparameters not resolved for the model's size (train/sizing.py resolve)")
        return int(min(self.max_steps, max(self.min_steps, math.ceil(self.epochs * n / self.batch_size))))


class PairHparams(TrainHparams):
    epochs: float = Field(2.0, gt=0, description="passes over the pairs (at least min_steps steps)")
    min_steps: int | None = Field(None, ge=1, description="fewest optimizer steps, so small rungs train enough "
                                  "(default by model size: 40 under 30M parameters, 10 from 30M; train/sizing.py)")
    max_steps: int = Field(1500, ge=1, description="most optimizer steps")
    batch_size: int | None = Field(None, ge=1, description="pairs per optimizer step (default by model size: 16 under "
                                   "30M parameters, 8 from 30M; train/sizing.py)")
