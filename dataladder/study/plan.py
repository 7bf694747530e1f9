"""The study plan (`dataladder run plan.yaml`): one typed step per kind of work, checked as a whole before any
step runs (`load_plan`); errors name the file and the key path."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from dataladder.core.config import apply_overrides, first_error, read_yaml
from dataladder.core.errors import InputError
from dataladder.core.registry import did_you_mean
from dataladder.executors import ExecutorConfig
from dataladder.generate import PromptOptions
from dataladder.ladder.climb import ClimbConfig
from dataladder.ladder.prefs import PrefsConfig
from dataladder.ladder.rl import RLConfig
from dataladder.ladder.dpo import DPOConfig
from dataladder.ladder.rm_policy import RMPolicyConfig
from dataladder.train.tracking import ReportTo


class ProbeStep(PromptOptions, extra="forbid"):
    skills: list[str] | None = Field(None, description="skills to probe (default: the arithmetic skills for tiny-arith, "
                                                       "else every skill the plan climbs or trains)")
    n: int = Field(300, ge=1, le=1_000_000, description="eval items per skill and format")
    mastered_at: float = Field(0.8, gt=0, le=1, description="accuracy at which a skill counts as mastered")
    partial_at: float = Field(0.15, ge=0, lt=1, description="accuracy below which a skill counts as missing")

    @model_validator(mode="after")
    def _ordered(self):
        if self.partial_at >= self.mastered_at:
            raise ValueError(f"partial_at (--partial-at) {self.partial_at} must be below mastered_at (--mastered-at) "
                             f"{self.mastered_at}")
        return self


class ClimbStep(ClimbConfig, extra="forbid"):
    name: str = Field(description="the ladder's name (its folder under climbs/: letters, digits, '.', '_', '-')",
                      pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    models: list[str] = Field(default_factory=list, description="base models (default: the plan's model)")


class PrefsStep(PrefsConfig, extra="forbid"):
    model: str | None = Field(None, description="base model of the reward models (default: the plan's model)")


class RLStep(RLConfig, extra="forbid"):
    model: str | None = Field(None, description="policy model (default: the plan's model)")


class DPOStep(DPOConfig, extra="forbid"):
    model: str | None = Field(None, description="base policy (default: the plan's model)")


class RMPolicyStep(RMPolicyConfig, extra="forbid"):
    prefs: str | None = Field(None, description="a prefs output directory (default: this study's prefs step)")


class CompareStep(BaseModel, extra="forbid", allow_inf_nan=False):
    """Supervised examples, DPO pairs, reward-model pairs and rollouts on one axis (needs two of them)."""

    climb: str | None = Field(None, description="name of the climb step whose ladder is compared")
    climbs: list[str] = Field(default_factory=list, description="more climb steps on the same axis (e.g. the one DPO "
                                                                "competes with)")
    delta: float = Field(0.02, gt=0, description="saturation: 10× more gains less than this")


class NoiseStep(BaseModel, extra="forbid", allow_inf_nan=False):
    """Curated versus noisy: the same skill climbed on verified data and on a copy with wrong answers."""

    skill: str = Field("add", description="skill to compare on (add is the default only for tiny-arith)")
    target: float = Field(0.9, gt=0, le=1, description="accuracy target")
    start: int = Field(20, ge=1, description="examples in the first rung of both arms")
    curated_max: int = Field(160, ge=1, description="largest curated rung")
    noisy_max: int = Field(1280, ge=1, description="largest noisy rung")
    wrong_share: float = Field(0.3, ge=0.0, le=1.0, description="share of noisy items with a wrong answer")
    seeds: int = Field(2, ge=1, description="training seeds per rung")
    eval_n: int = Field(200, ge=1, description="eval items per skill and format")


class Plan(BaseModel, extra="forbid", allow_inf_nan=False):
    model: str = Field("tiny-arith", description="the base model: 'tiny-arith', a local directory or hub id")
    target_format: str | None = Field(None, description="the prompt format post-training aims at (default: each "
                                                        "skill's own: exam for arithmetic, a JSONL skill's first format)")
    output_dir: str = Field("runs/study", description="where the study's results and report go")
    probe: ProbeStep = Field(default_factory=ProbeStep, description="evals first")
    climbs: list[ClimbStep] = Field(default_factory=list, description="supervised ladders")
    curated_vs_noisy: NoiseStep | None = Field(None, description="curated versus noisy data")
    prefs: PrefsStep | None = Field(None, description="reward models on a ladder of preference pairs")
    rl: RLStep | None = Field(None, description="GRPO on a ladder of rollouts")
    dpo: DPOStep | None = Field(None, description="DPO on a ladder of preference pairs")
    rm_policy: RMPolicyStep | None = Field(None, description="RL with each prefs reward model: better reward model, "
                                                             "better policy? (needs the prefs step)")
    compare: CompareStep | None = Field(None, description="examples, pairs and rollouts on one axis")
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig, description="where the ladders' runs happen")
    report_to: ReportTo = Field("none", description="experiment tracking for every ladder whose own report_to is none: "
                                                    "tensorboard, wandb, mlflow or trackio")
    parallel: int | None = Field(None, ge=1, description="plan steps at once, each in its own process (default: "
                                                         "cores + 1, plus one per busy core, for small models on "
                                                         "CPU; else 1)")
    threads: int | None = Field(None, ge=1, description="torch threads per process (default: a model under 30M "
                                                        "parameters gets the idle cores, a larger one every core)")


def load_plan(path: Path, overrides: list[str] | None = None) -> Plan:
    """Read, override and validate a plan; any problem is one InputError naming the key path."""
    data = read_yaml(path, "plan")
    if overrides:
        try:
            data = apply_overrides(data, overrides)
        except InputError as e:
            raise InputError(e.message, str(path)) from None
        except (ValueError, TypeError, yaml.YAMLError) as e:
            raise InputError(f"override does not fit the plan ({e})", str(path)) from None
    try:
        plan = Plan.model_validate(data)
    except ValidationError as e:
        raise InputError(first_error(Plan, e), str(path)) from None
    if plan.model != "tiny-arith":  # the arithmetic defaults are the shipped model's; a user's names its skills
        for key, step in (("curated_vs_noisy", plan.curated_vs_noisy), ("prefs", plan.prefs), ("rl", plan.rl),
                          ("dpo", plan.dpo)):
            if step is not None and "skill" not in step.model_fields_set:
                raise InputError(f"name the skill (the default {step.skill} is the shipped tiny-arith's)", str(path),
                                 field=f"{key}.skill")
        for i, step in enumerate(plan.climbs):
            if "skills" not in step.model_fields_set:
                raise InputError("name the skills to climb (the default is the shipped tiny-arith's)", str(path),
                                 field=f"climbs.{i}.skills")
    names = [c.name for c in plan.climbs]
    if dup := next((i for i, n in enumerate(names) if n in names[:i]), None):
        raise InputError(f"climb name {names[dup]!r} is used twice (each climb writes climbs/<name>/)", str(path),
                         field=f"climbs.{dup}.name")
    if plan.rm_policy is not None and plan.rm_policy.prefs is None and plan.prefs is None:
        raise InputError("needs the prefs step (or rm_policy.prefs: a prefs output directory)", str(path),
                         field="rm_policy")
    c = plan.compare
    if c is not None:
        names = [s.name for s in plan.climbs]
        for key, name in [("compare.climb", c.climb)] + [(f"compare.climbs.{i}", n) for i, n in enumerate(c.climbs)]:
            if name is not None and name not in names:
                raise InputError(did_you_mean("climb step", name, names), str(path), field=key)
        if sum(x is not None for x in (c.climb, plan.prefs, plan.rl, plan.dpo)) + len(c.climbs) < 2:
            raise InputError("needs two of: a climb (compare.climb), prefs, rl, dpo", str(path), field="compare")
    return plan
