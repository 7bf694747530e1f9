"""Configuration: pydantic models loaded from YAML, with errors that name the file and the key path."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError, model_validator

from dataladder.errors import InputError
from dataladder.registry import did_you_mean

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, what: str = "file") -> dict:
    """A YAML mapping from `path` (UTF-8, a byte-order mark allowed); any problem is one InputError line naming
    the file (and the line, where YAML says): missing, a directory, not UTF-8, not YAML, empty, not a mapping."""
    from dataladder.errors import not_a_file

    if why := not_a_file(path):
        raise InputError(why, str(path))
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text ({e.reason} at byte {e.start}); save the {what} as UTF-8", str(path),
                         line) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as e:
        raise InputError(f"key '{e.key}' is given twice (first on line {e.first}); keep one (YAML would silently "
                         "take the last)", str(path), e.line) from None
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        if line is None and isinstance(getattr(e, "position", None), int):  # a character YAML cannot read
            line = text[:e.position].count("\n")
        problem = " ".join(str(getattr(e, "problem", None) or e).split())  # one line
        raise InputError(f"not valid YAML ({problem})", str(path), None if line is None else line + 1) from None
    if data is None:
        raise InputError(f"the {what} is empty", str(path))
    if not isinstance(data, dict):
        raise InputError(f"the {what} is a YAML {type(data).__name__}; expected keys and values (key: value)",
                         str(path))
    return data


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first: int):
        self.key, self.line, self.first = key, line, first


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a mapping with the same key twice (a plan's `target:` given twice)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: merged keys may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise _DuplicateKey(str(key), key_node.start_mark.line + 1, seen[key])
                seen[key] = key_node.start_mark.line + 1
            except TypeError:  # an unhashable key: SafeLoader's own error names it
                break
        return super().construct_mapping(node, deep=deep)


def load_yaml_model(model: type[M], path: Path) -> M:
    """Validate YAML at `path` into `model`; the first problem becomes one InputError line."""
    data = read_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise InputError(_first_error(model, e), str(path)) from None


def _first_error(model: type[BaseModel], e: ValidationError) -> str:
    err = e.errors()[0]
    loc = [str(x) for x in err["loc"]]
    key = ".".join(loc)
    if err["type"] == "extra_forbidden":
        parent: type[BaseModel] | None = model
        for part in loc[:-1]:
            if part.isdigit() or parent is None:
                continue
            field = parent.model_fields.get(part)
            parent = _model_in(field.annotation) if field else None
        choices = list(parent.model_fields) if parent else []
        return f"key '{key}': " + did_you_mean("key", loc[-1], choices)
    return f"key '{key}': {err['msg']}"


def _model_in(annotation) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `Model`, `list[Model]` or `Model | None`."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        m = _model_in(arg)
        if m is not None:
            return m
    return None


# ---- The study plan (`dataladder run plan.yaml`) -------------------------------------------------

from pydantic import Field  # noqa: E402

from dataladder.executors import ExecutorConfig  # noqa: E402
from dataladder.generate import PromptOptions  # noqa: E402
from dataladder.ladder.climb import ClimbConfig  # noqa: E402
from dataladder.ladder.prefs import PrefsConfig  # noqa: E402
from dataladder.ladder.rl import RLConfig  # noqa: E402
from dataladder.ladder.dpo import DPOConfig  # noqa: E402
from dataladder.ladder.rm_policy import RMPolicyConfig  # noqa: E402
from dataladder.train.tracking import ReportTo  # noqa: E402


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


def apply_overrides(data: dict, pairs: list[str]) -> dict:
    """Apply `key.path=value` overrides (values as YAML scalars) to a plan dict; list items by index."""
    out = yaml.safe_load(yaml.safe_dump(data))
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"override {pair!r}: expected key=value")
        node = out
        parts = key.split(".")
        for depth, p in enumerate(parts):
            where = ".".join(parts[:depth]) or "the plan"
            if isinstance(node, list):
                if not node:
                    raise InputError(f"override {pair!r}: {where} is an empty list, so it has no item '{p}'; add "
                                     f"the item to the plan first")
                if not p.lstrip("-").isdigit() or not 0 <= int(p) < len(node):
                    raise InputError(f"override {pair!r}: {where} is a list of {len(node)}; "
                                     f"'{p}' is not an index 0–{len(node) - 1}")
                p = int(p)
            elif not isinstance(node, dict):
                raise InputError(f"override {pair!r}: {where} is a value, not a section with '{p}'")
            elif node.get(p) is None and depth < len(parts) - 1 and parts[depth + 1].lstrip("-").isdigit():
                raise InputError(f"override {pair!r}: the plan has no {'.'.join(parts[:depth + 1])}, so it has "
                                 f"no item '{parts[depth + 1]}'; add the item to the plan first")
            if depth == len(parts) - 1:
                node[p] = yaml.safe_load(value)
            else:
                node = node[p] if isinstance(node, list) else node.setdefault(p, {})
    return out


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
        raise InputError(_first_error(Plan, e), str(path)) from None
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
