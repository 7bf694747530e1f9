"""The `rl` kind's config (`dataladder rl`'s options, a plan's `rl` step): its own module, so that the worker side
(`ladder/rl_arm.py`) and the driver (`ladder/rl.py`, which the kind registry names) both import it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from dataladder.generate import PromptOptions
from dataladder.ladder.config import LadderConfig
from dataladder.train.grpo import GRPOHparams
from dataladder.train.tracking import ReportTo


class RLConfig(PromptOptions, LadderConfig, extra="forbid"):
    model: str = Field("tiny-arith", description="policy model")
    skill: str = Field("mul", description="skill trained and evaluated")
    format: str = Field("target", description="prompt format: 'target' (the skill's target format, as `probe` and "
                                              "`climb` use), 'auto' (the one whose zero-signal check predicts the most "
                                              "signal) or a format name")
    cold_start: int | Literal["auto"] = Field("auto", description="verified SFT examples in the RL format before RL "
                                                                  "(DeepSeek-R1's cold start): 'auto' = "
                                                                  "cold_start_examples when the zero-signal check warns, "
                                                                  "0 = never, N = always N")
    cold_start_examples: int = Field(20, ge=1, le=1_000_000, description="examples of an 'auto' cold start (the ladder's minimal data)")
    target: float = Field(0.8, gt=0, le=1, description="greedy accuracy to reach")
    start_steps: int = Field(16, ge=1, description="GRPO steps in the first rung")
    max_rollouts: int = Field(16384, ge=1, description="budget: most rollouts (steps × prompts × generations)")
    max_minutes: float | None = Field(None, gt=0, description="budget: minutes of stored training time per arm")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="training seed (and which train prompts are drawn)")
    eval_n: int = Field(300, ge=1, le=1_000_000, description="held-out eval items at every rung")
    check_prompts: int = Field(128, ge=1, le=1_000_000, description="prompts sampled by the zero-signal check")
    check_samples: int = Field(16, ge=2, le=1024, description="samples per prompt in the check (≥ num_generations)")
    warn_at: float = Field(0.9, ge=0, le=1, description="predicted zero-signal share that triggers the warning (most groups "
                                            "teach nothing)")
    filter_zero_signal: bool = Field(False, description="drop prompts whose check samples all score the same")
    reward_model: str | None = Field(None, description="reward model directory from `dataladder prefs`")
    online_every: int | None = Field(None, ge=1, description="retrain the reward model every K steps on verifier-labelled "
                                                       "rollouts (needs reward_model); adds a static-RM arm to compare")
    saturation_delta: float = Field(0.02, gt=0, le=1, description="saturation: 10× more rollouts gains less than this")
    prompts_file: str | None = Field(None, description="more train prompts for a JSONL skill (its line format; "
                                                       "the completion optional given 'answer' or a verifier needing neither)")
    hp: GRPOHparams = Field(default_factory=GRPOHparams, description="GRPO hyperparameters")
    report_to: ReportTo = Field("none", description="experiment tracking of every training run and rung: none, tensorboard, "
                                               "wandb, mlflow or trackio (TRL's report_to)")

    @field_validator("cold_start", mode="before")
    @classmethod
    def _cold_start_given(cls, v):  # from the command line every value is text
        if isinstance(v, str) and v != "auto":
            if not v.strip().isdigit():
                raise ValueError(f"--cold-start {v}: 'auto', 0 (never) or a number of examples")
            return int(v)
        return v

    @field_validator("cold_start")
    @classmethod
    def _cold_start(cls, v):
        if v != "auto" and v < 0:
            raise ValueError("must be 'auto', 0 or a number of examples")
        return v
