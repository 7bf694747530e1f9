"""The study plan (`dataladder run plan.yaml`): one typed step per kind of work, checked as a whole before any
step runs (`load_plan`); errors name the file and the key path."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, create_model, model_validator

from dataladder.core.config import apply_overrides, bool_problem, first_error, key_of, line_of, read_yaml
from dataladder.core.errors import InputError
from dataladder.core.registry import did_you_mean
from dataladder.executors import ExecutorConfig
from dataladder.generate import PromptOptions
from dataladder.ladder.kinds import Kind, by_command, kinds
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


class PlanBase(BaseModel, extra="forbid", allow_inf_nan=False):
    """What every plan has; each registered ladder kind adds its step (`Plan`)."""

    model: str = Field("tiny-arith", description="the base model: 'tiny-arith', a local directory or hub id")
    target_format: str | None = Field(None, description="the prompt format post-training aims at (default: each "
                                                        "skill's own: exam for arithmetic, a JSONL skill's first format)")
    output_dir: str = Field("runs/study", description="where the study's results and report go")
    probe: ProbeStep = Field(default_factory=ProbeStep, description="evals first")
    curated_vs_noisy: NoiseStep | None = Field(None, description="curated versus noisy data")
    compare: CompareStep | None = Field(None, description="examples, pairs and rollouts on one axis")
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig, description="where the ladders' runs happen")
    report_to: ReportTo = Field("none", description="experiment tracking for every ladder whose own report_to is none: "
                                                    "tensorboard, wandb, mlflow or trackio")
    parallel: int | None = Field(None, ge=1, description="plan steps at once, each in its own process (default: "
                                                         "cores + 1, plus one per busy core, for small models on "
                                                         "CPU; else 1)")
    threads: int | None = Field(None, ge=1, description="torch threads per process (default: a model under 30M "
                                                        "parameters gets the idle cores, a larger one every core)")


def step_model(kind: Kind) -> type[BaseModel]:
    """A kind's plan step: its own step class, else its config with `model` defaulting to the plan's."""
    if kind.step:
        return kind.load(kind.step)
    cls = kind.load(kind.config)
    name = cls.__name__.removesuffix("Config") + "Step"
    step = create_model(name, __base__=cls, __module__=__name__,
                        model=(str | None, Field(None, description=f"{cls.model_fields['model'].description} "
                                                                   "(default: the plan's model)")))
    globals()[name] = step  # a module attribute, so that a plan pickles into the study's worker processes
    return step


Plan = create_model("Plan", __base__=PlanBase, __doc__="A study: the probe, a step per ladder kind, compare.", **{
    k.key: (list[step_model(k)], Field(default_factory=list, description=k.title)) if k.many else
    (step_model(k) | None, Field(None, description=k.title + (f" (needs the {', '.join(k.needs)} step)" if k.needs
                                                              else ""))) for k in kinds()})


def ladder_steps(plan) -> list[tuple[Kind, str, BaseModel]]:
    """(kind, step name, step) of every ladder step of `plan`, in registry order: `climb <name>`, prefs, rl, ..."""
    out = []
    for k in kinds():
        value = getattr(plan, k.key)
        for step in (value if k.many else [value] if value is not None else []):
            out.append((k, f"{k.cmd} {step.name}" if k.many else k.cmd, step))
    return out


def _lists() -> frozenset:
    """The plan's keys that hold a list of steps (climbs): an override reaches their items by index."""
    import typing

    return frozenset(k for k, f in Plan.model_fields.items() if typing.get_origin(f.annotation) is list)


def load_plan(path: Path, overrides: list[str] | None = None) -> Plan:
    """Read, override and validate a plan; any problem is one InputError naming the key path."""
    data = read_yaml(path, "plan")
    if overrides:
        try:
            data = apply_overrides(data, overrides, _lists())
        except InputError as e:
            raise InputError(e.message, str(path)) from None
        except (ValueError, TypeError, yaml.YAMLError) as e:
            raise InputError(f"override does not fit the plan ({' '.join(str(e).split())})", str(path)) from None

    def overridden(key: str) -> str | None:  # the override that set `key`, if the command line's and not the file's
        return next((o for o in reversed(overrides or []) if key == o.split("=", 1)[0] or
                     key.startswith(o.split("=", 1)[0] + ".")), None)

    def at(key: str) -> int | None:  # the plan's line for a key the file wrote (not an override)
        return None if overridden(key) else line_of(path, key)

    if why := bool_problem(Plan, data):  # `n: true` would run as n = 1
        raise InputError(why, str(path), at(key_of(why) or ""))
    try:
        plan = Plan.model_validate(data)
    except ValidationError as e:
        key = ".".join(str(x) for x in e.errors()[0]["loc"])
        if (o := overridden(key)) is not None:
            raise InputError(f"override {o!r}: {first_error(Plan, e)}", str(path)) from None
        raise InputError(first_error(Plan, e), str(path), at(key)) from None
    if plan.model != "tiny-arith":  # the arithmetic defaults are the shipped model's; a user's names its skills
        if plan.curated_vs_noisy is not None and "skill" not in plan.curated_vs_noisy.model_fields_set:
            raise InputError(f"name the skill (the default {plan.curated_vs_noisy.skill} is the shipped tiny-arith's)",
                             str(path), at("curated_vs_noisy"), field="curated_vs_noisy.skill")
        for k in kinds():
            value = getattr(plan, k.key)
            for i, step in enumerate(value if k.many else [value]):
                if step is not None and k.skill_field and k.skill_field not in step.model_fields_set:
                    key = f"{k.key}.{i}.{k.skill_field}" if k.many else f"{k.key}.{k.skill_field}"
                    raise InputError(f"name the {'skills' if k.many else 'skill'} (the default is the shipped "
                                     "tiny-arith's)", str(path), at(key), field=key)
    for k in [k for k in kinds() if k.many]:
        names = [c.name for c in getattr(plan, k.key)]
        if dup := next((i for i, n in enumerate(names) if n in names[:i]), None):
            raise InputError(f"{k.cmd} name {names[dup]!r} is used twice (each writes {k.dir}/<name>/)", str(path),
                             at(f"{k.key}.{dup}.name"), field=f"{k.key}.{dup}.name")
    for k, _, step in ladder_steps(plan):
        for need in k.needs:
            if getattr(step, need, None) is None and not getattr(plan, by_command(need).key):
                raise InputError(f"needs the {need} step (or {k.key}.{need}: a {need} output directory)", str(path),
                                 at(k.key), field=k.key)
    c = plan.compare
    if c is not None:
        names = [s.name for s in plan.climbs]
        for key, name in [("compare.climb", c.climb)] + [(f"compare.climbs.{i}", n) for i, n in enumerate(c.climbs)]:
            if name is not None and name not in names:
                raise InputError(did_you_mean("climb step", name, names), str(path), at(key), field=key)
        given = [("compare.climb", c.climb)] + [(f"compare.climbs.{i}", n) for i, n in enumerate(c.climbs)]
        for i, (key, name) in enumerate(given):
            if name is not None and (first := next((k for k, n in given[:i] if n == name), None)):
                raise InputError(f"climb step {name!r} is already {first}; give each ladder once (the same curve "
                                 "twice compares nothing)", str(path), at(key), field=key)
        ladders = [name for k, name, _ in ladder_steps(plan) if not k.many and not k.needs]
        if (c.climb is not None) + len(c.climbs) + len(ladders) < 2:
            raise InputError("needs two of: a climb (compare.climb), " + ", ".join(k.key for k in kinds()
                                                                                   if not k.many and not k.needs),
                             str(path), at("compare"), field="compare")
    return plan
