"""A whole study from one plan: `dataladder run plan.yaml` (and `dataladder demo`).

probe → climbs → curated versus noisy → report, into the plan's output_dir:

    probe/probe.json, probe/samples.jsonl
    climbs/<name>/ladder.json, ladder.png, runs/…
    noise/curated.jsonl, noise/noisy.jsonl, noise/curated/…, noise/noisy/…, noise/summary.json
    report.html

Every step resumes: the probe is skipped when its config is unchanged, every training run goes
through the run store, and the report is rebuilt from the result files.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator


from dataladder.ladder.kinds import Kind, by_command, kinds
from dataladder.study.plan import Plan, ladder_steps
from dataladder.generate import PromptOptions
from dataladder.core.results import write_json
from dataladder.skills.arithmetic import ARITHMETIC


@dataclass
class Hooks:
    """Progress callbacks the CLI fills in; all optional."""

    step: Callable[[str], None] = lambda msg: None
    rung: Callable[[str], None] = lambda msg: None
    train: Callable[[int, int], None] | None = None
    eval: Callable[[int], None] | None = None  # items scored
    # steps side by side (study_pool): a step's training steps / items scored, and its end
    task: Callable[[str, str, int, int | None], None] | None = None  # (step, "train" | "eval", done, total)
    finished: Callable[[str, float], None] | None = None  # (step, seconds)


def run_probe_step(plan: Plan, out: Path, hooks: Hooks) -> dict:
    from dataladder.models.hub import model_fingerprint
    from dataladder.evals.probe import run_probe

    key = hashlib.sha256(json.dumps({"probe": plan.probe.model_dump(), "format": plan.target_format,
                                     "model": model_fingerprint(plan.model)}, sort_keys=True).encode()).hexdigest()[:16]
    path = out / "probe" / "probe.json"
    if path.exists():
        doc = json.loads(path.read_text())
        if doc.get("plan_key") == key:
            hooks.step("probe: finished earlier, reusing probe/probe.json")
            return doc
    hooks.step("probe: evaluating every skill in every format")
    p = plan.probe
    return run_probe(plan.model, probe_skills(plan), out / "probe", n=p.n, target_format=plan.target_format,
                     mastered_at=p.mastered_at, partial_at=p.partial_at, on_batch=hooks.eval, extra={"plan_key": key},
                     options=p.gen_options())


def probe_skills(plan: Plan) -> list[str]:
    """The probe's skills: as given, else the arithmetic skills for tiny-arith, else every skill the plan climbs."""
    if plan.probe.skills is not None:
        return plan.probe.skills
    if plan.model == "tiny-arith":
        return list(ARITHMETIC)
    named = [s for k, _, step in ladder_steps(plan) if k.skill_field
             for s in (getattr(step, k.skill_field) if k.many else [getattr(step, k.skill_field)])]
    if plan.curated_vs_noisy is not None:
        named.append(plan.curated_vs_noisy.skill)
    return list(dict.fromkeys(named))


def check_plan(plan: Plan) -> None:
    """Every skill of the plan resolves (one each where one is meant), and those trained on have train items.
    A problem is one ValueError naming the plan key it comes from."""
    from dataladder.core.errors import InputError
    from dataladder.core.registry import UnknownName
    from dataladder.models.hub import check_model
    from dataladder.skills import resolve_skills
    from dataladder.skills.base import no_train_items
    from dataladder.skills.spec import train_skill

    if not probe_skills(plan):
        raise ValueError("probe.skills: name the skills to probe (the arithmetic skills are the default only for the "
                         "shipped tiny-arith), e.g. probe: {skills: [tasks.jsonl]}")
    from dataladder.evals.probe import check_skills

    with _at("probe.skills"):
        skills = resolve_skills(probe_skills(plan))
    try:  # the probe step's own check, here before anything is written: a skill given twice, the target format
        check_skills(skills, plan.target_format)
    except ValueError as e:
        text = str(e)
        raise ValueError(text.replace("--target-format:", "target_format:", 1) if text.startswith("--target-format")
                         else "probe.skills: " + text.removeprefix("--skill ")) from None
    check_model(plan.model, option="model")
    check_plan_files(plan)
    for k, name, step in ladder_steps(plan):
        key = k.key + (f".{getattr(plan, k.key).index(step)}" if k.many else "")
        cfg = step_config(plan, k, step, Path(plan.output_dir))
        for m in cfg.models if hasattr(cfg, "models") else [cfg.model] if hasattr(cfg, "model") else []:
            check_model(m, option=f"{key}.model")
        made_here = any(getattr(step, need, None) is None for need in k.needs)  # its input is this study's to make
        if (check := k.load("check_config")) is not None and not made_here:
            try:
                check(cfg)  # the kind's own checks: skills, formats, files, budget
            except (InputError, UnknownName, ValueError) as e:
                raise ValueError(plan_key(k, key, str(e))) from None
    if (ns := plan.curated_vs_noisy) is not None:
        with _at("curated_vs_noisy.skill"):
            sk = train_skill(ns.skill)
            if not sk.items("train", 1, 0):
                raise ValueError(no_train_items(sk))


def plan_key(kind: Kind, key: str, message: str) -> str:
    """A kind's check message, named by the plan key: `--skill: unknown …` → `climbs.0.skills: unknown …`."""
    option, sep, rest = message.partition(" ")
    if option.startswith("--"):
        name = option[2:].rstrip(":").replace("-", "_")
        field = {v: k for k, v in kind.aliases.items()}.get(name, name)
        if field in kind.load(kind.config).model_fields:
            return f"{key}.{field}{':' if option.endswith(':') else ''}{sep}{rest}"
    return f"{key}: {message}"


def check_plan_files(plan: Plan) -> None:
    """Files a step reads that its kind's own check does not: prompts files, the other-model directory."""
    from dataladder.core.errors import not_a_file

    for k, _, step in ladder_steps(plan):
        if getattr(step, "prompts_file", None):
            with _at(f"{k.key}.prompts_file"):
                if why := not_a_file(step.prompts_file):
                    raise ValueError(f"{step.prompts_file}: {why}")
    if plan.prefs is not None and plan.prefs.other_model and not Path(plan.prefs.other_model).exists():
        raise ValueError(f"prefs.other_model: {plan.prefs.other_model}: no such directory")


@contextmanager
def _at(key: str) -> Iterator[None]:
    """A plan check's error, prefixed with the plan key it comes from."""
    from dataladder.core.errors import InputError
    from dataladder.core.registry import UnknownName

    try:
        yield
    except (InputError, UnknownName, ValueError) as e:
        raise ValueError(f"{key}: {e}") from None


def tracked(plan: Plan, step) -> str:
    """A step's experiment tracking: its own report_to, else the plan's."""
    return step.report_to if step.report_to != "none" else plan.report_to


def step_config(plan: Plan, kind: Kind, step, out: Path):
    """A ladder step's config: the plan's model, target format and tracking where the step names none; a document
    it needs from this study's own step (rm-policy's prefs)."""
    cls = kind.load(kind.config)
    fields = step.model_dump(exclude={"name"} if kind.many else set(), exclude_unset=True)  # what the step says
    if "models" in cls.model_fields:
        fields["models"] = step.models or [plan.model]
    elif "model" in cls.model_fields:
        fields["model"] = getattr(step, "model", None) or plan.model
    if "target_format" in cls.model_fields:
        fields["target_format"] = step.target_format or plan.target_format  # None: each skill's own
    for need in kind.needs:
        if fields.get(need) is None:
            fields[need] = str(out / by_command(need).dir)
    if "report_to" in cls.model_fields:  # a kind that trains
        fields["report_to"] = tracked(plan, step)
    return cls(**fields)


def run_ladder_step(plan: Plan, out: Path, hooks: Hooks, executor, name: str) -> dict:
    """The ladder step `name` (`climb <name>`, `prefs`, `rl`, ...): its kind's driver into its folder."""
    kind, _, step = next(x for x in ladder_steps(plan) if x[1] == name)
    cfg = step_config(plan, kind, step, out)
    what = getattr(cfg, kind.skill_field) if kind.skill_field else None
    what = ", ".join(what) if isinstance(what, list) else what
    hooks.step(f"{name}: " + (f"{what}, by {kind.unit}" if what else f"by {kind.unit}"))
    where = out / kind.dir / step.name if kind.many else out / kind.dir
    return kind.load(kind.driver)(cfg, where, executor=executor, on_rung=hooks.rung, on_train=hooks.train,
                                  on_eval=hooks.eval)


def run_noise_step(plan: Plan, out: Path, hooks: Hooks, executor=None) -> dict | None:
    from dataladder.data.noise import corrupt
    from dataladder.ladder.climb import ClimbConfig, climb
    from dataladder.ladder.climb_pool import one_skill

    ns = plan.curated_vs_noisy
    if ns is None:
        return None
    hooks.step(f"curated vs noisy: {ns.skill}, up to {ns.curated_max} curated vs {ns.noisy_max} with "
               f"{ns.wrong_share:.0%} wrong answers")
    d = out / "noise"
    d.mkdir(parents=True, exist_ok=True)
    sk = one_skill(ns.skill)
    records = list(sk.records("train", ns.noisy_max, seed=0, fmt=plan.target_format))
    if not records:
        from dataladder.skills.base import no_train_items

        raise ValueError(no_train_items(sk))
    noisy = corrupt(records, ns.wrong_share, seed=0, skill=sk)
    for name, recs in (("curated", records), ("noisy", noisy)):
        path = d / f"{name}.jsonl"
        text = "".join(json.dumps(r) + "\n" for r in recs)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    arms = {}
    for name, cap in (("curated", ns.curated_max), ("noisy", ns.noisy_max)):
        cfg = ClimbConfig(models=[plan.model], skills=[ns.skill], target=ns.target, target_format=plan.target_format, start=ns.start,
                          seeds=ns.seeds, eval_n=ns.eval_n, max_examples=cap, train_file=str(d / f"{name}.jsonl"),
                          eval_skills=[ns.skill], min_rungs=1000,  # run every rung (the most a config allows)
                          **plan.probe.model_dump(include=set(PromptOptions.model_fields)))
        arms[name] = climb(cfg, d / name, executor, on_rung=hooks.rung, on_train=hooks.train, on_eval=hooks.eval)
    cur = arms["curated"]["arms"][0]["rungs"]
    noi = arms["noisy"]["arms"][0]["rungs"]
    best = max(cur, key=lambda r: r["accuracy"])
    match = next((r for r in noi if r["accuracy"] >= best["accuracy"]), None)
    summary = {
        "skill": ns.skill, "wrong_share": ns.wrong_share, "injected_wrong": sum(1 for r in noisy if "noise" in r),
        "noisy_items": len(noisy), "curated": [{k: r[k] for k in ("n", "accuracy", "ci_low", "ci_high")} for r in cur],
        "noisy": [{k: r[k] for k in ("n", "accuracy", "ci_low", "ci_high")} for r in noi],
        "curated_best": {k: best[k] for k in ("n", "accuracy", "ci_low", "ci_high")},
        "noisy_matching_n": match["n"] if match else None,
    }
    write_json(d / "summary.json", summary)
    return summary


def run_compare_step(plan: Plan, out: Path, hooks: Hooks) -> dict | None:
    from dataladder.ladder.compare import compare

    c = plan.compare
    if c is None:
        return None
    sft = next(k for k in kinds() if k.many)
    climbs = [out / sft.dir / name for name in [c.climb] + c.climbs if name and (out / sft.dir / name).exists()]
    given, ladders = {}, []
    for k, _, _ in ladder_steps(plan):
        if not k.many and (out / k.dir).exists():
            if k.name in COMPARE_ARGS:
                given[COMPARE_ARGS[k.name]] = out / k.dir
            else:
                ladders.append(out / k.dir / k.document)
    hooks.step("compare: examples, pairs and rollouts on one axis")
    skill = plan.prefs.skill if plan.prefs else plan.rl.skill if plan.rl else None
    return compare(climbs, given.get("prefs"), given.get("rl"), out / "compare", c.delta, skill, dpo=given.get("dpo"),
                   rm_policy=given.get("rm_policy"), ladders=tuple(ladders))


COMPARE_ARGS = {"reward": "prefs", "rl": "rl", "dpo": "dpo", "rm-policy": "rm_policy"}  # compare's own arguments;
# another kind's document joins through `ladders` (compare's --ladder)


def run_step(name: str, plan: Plan, out: Path, hooks: Hooks, executor) -> dict | list | None:
    """One step of `plan_steps(plan)` by its name."""
    if name == "probe":
        return run_probe_step(plan, out, hooks)
    if name == "compare":
        return run_compare_step(plan, out, hooks)
    if name == "noise":
        return run_noise_step(plan, out, hooks, executor)
    return run_ladder_step(plan, out, hooks, executor, name)
