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

import yaml

from dataladder.study.plan import Plan
from dataladder.generate import PromptOptions
from dataladder.core.results import write_json


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
        return ["add", "sub", "mul", "div", "mixed"]
    named = [s for c in plan.climbs for s in c.skills] + [s.skill for s in (plan.curated_vs_noisy, plan.prefs, plan.rl,
                                                                          plan.dpo) if s is not None]
    return list(dict.fromkeys(named))


def check_plan(plan: Plan) -> None:
    """Every skill of the plan resolves (one each where one is meant), and those trained on have train items.
    A problem is one ValueError naming the plan key it comes from."""
    from dataladder.ladder.climb import check_formats
    from dataladder.ladder.prefs import PrefsConfig, check_config
    from dataladder.models.hub import check_model
    from dataladder.skills import get_skill, resolve_skills
    from dataladder.skills.base import no_train_items
    from dataladder.skills.spec import train_skill

    if not probe_skills(plan):
        raise ValueError("probe.skills: name the skills to probe (the arithmetic skills are the default only for the "
                         "shipped tiny-arith), e.g. probe: {skills: [tasks.jsonl]}")
    with _at("probe.skills"):
        resolve_skills(probe_skills(plan))
    for key, model in [("model", plan.model), *[(f"climbs.{c.name}.models", m) for c in plan.climbs for m in c.models],
                       *[(f"{k}.model", s.model) for k, s in (("prefs", plan.prefs), ("rl", plan.rl), ("dpo", plan.dpo))
                         if s is not None and s.model]]:
        check_model(model, option=key)
    for i, c in enumerate(plan.climbs):
        with _at(f"climbs.{i}.skills"):
            for name in c.skills:
                get_skill(name)  # one skill each (a file of several: file.jsonl:name)
        with _at(f"climbs.{i}.eval_skills"):
            resolve_skills(c.eval_skills or [])
        with _at(f"climbs.{i}"):
            check_formats(c.model_copy(update={"target_format": c.target_format or plan.target_format}))
    check_plan_files(plan)
    for key, step in (("curated_vs_noisy", plan.curated_vs_noisy), ("rl", plan.rl)):
        with _at(f"{key}.skill"):
            sk = train_skill(step.skill, getattr(step, "prompts_file", None)) if step is not None else None
            if sk is not None and not sk.items("train", 1, 0):
                raise ValueError(no_train_items(sk))
    if plan.rl is not None:
        from dataladder.ladder.rl import RLConfig
        from dataladder.ladder.rl_arm import schedule

        with _at("rl"):
            schedule(step_config(plan, plan.rl, RLConfig))  # the budget holds a rung
    if plan.prefs is not None:
        with _at("prefs"):
            check_config(step_config(plan, plan.prefs, PrefsConfig))
    if plan.dpo is not None:
        from dataladder.ladder.dpo import DPOConfig, check_config as check_dpo

        with _at("dpo"):
            check_dpo(step_config(plan, plan.dpo, DPOConfig))


def check_plan_files(plan: Plan) -> None:
    """Every file a step reads, before any step starts: train files (each record checked), prompts files (their
    skill's line format), reward-model and other-model directories, and a prefs document rm-policy is pointed at."""
    from dataladder.data.trainfile import read_train_file
    from dataladder.core.errors import not_a_file
    from dataladder.skills.spec import train_skill

    for i, c in enumerate(plan.climbs):
        if c.train_file:
            with _at(f"climbs.{i}.train_file"):
                if why := not_a_file(c.train_file):
                    raise ValueError(f"{c.train_file}: {why}")
                read_train_file(Path(c.train_file))
    for key, step in (("prefs", plan.prefs), ("rl", plan.rl), ("dpo", plan.dpo)):
        if step is not None and step.prompts_file:
            with _at(f"{key}.prompts_file"):
                if why := not_a_file(step.prompts_file):
                    raise ValueError(f"{step.prompts_file}: {why}")
                train_skill(step.skill, step.prompts_file)
    if plan.rl is not None and plan.rl.reward_model and not (Path(plan.rl.reward_model) / "config.json").is_file():
        raise ValueError(f"rl.reward_model: {plan.rl.reward_model}: not a reward model directory (no config.json); "
                         "give the reward_model/ that `dataladder prefs` wrote")
    if plan.prefs is not None and plan.prefs.other_model and not Path(plan.prefs.other_model).exists():
        raise ValueError(f"prefs.other_model: {plan.prefs.other_model}: no such directory")
    if plan.rm_policy is not None and plan.rm_policy.prefs:
        from dataladder.ladder.rm_policy import read_prefs

        with _at("rm_policy.prefs"):
            read_prefs(plan.rm_policy)


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


def step_config(plan: Plan, step, cls):
    """The config of a one-model ladder step (prefs, rl, dpo): the plan's model and tracking where it names none."""
    return cls(**{**step.model_dump(), "model": step.model or plan.model, "report_to": tracked(plan, step)})


def run_climb_steps(plan: Plan, out: Path, hooks: Hooks, executor=None) -> list[dict]:
    return [run_climb_step(plan, out, hooks, executor, step.name) for step in plan.climbs]


def run_climb_step(plan: Plan, out: Path, hooks: Hooks, executor, name: str) -> dict:
    from dataladder.ladder.climb import ClimbConfig, climb

    step = next(c for c in plan.climbs if c.name == name)
    fields = step.model_dump(exclude={"name"})
    fields["models"] = step.models or [plan.model]
    fields["target_format"] = step.target_format or plan.target_format  # None: each skill's own
    fields["report_to"] = tracked(plan, step)
    hooks.step(f"climb {step.name}: {', '.join(step.skills)} ({step.method}"
               + (f", ranks {step.lora_ranks}" if step.method == "lora" else "") + ")")
    return climb(ClimbConfig(**fields), out / "climbs" / step.name, executor, on_rung=hooks.rung,
                 on_train=hooks.train, on_eval=hooks.eval)


def run_noise_step(plan: Plan, out: Path, hooks: Hooks, executor=None) -> dict | None:
    from dataladder.data.noise import corrupt
    from dataladder.ladder.climb import ClimbConfig, _skill, climb

    ns = plan.curated_vs_noisy
    if ns is None:
        return None
    hooks.step(f"curated vs noisy: {ns.skill}, up to {ns.curated_max} curated vs {ns.noisy_max} with "
               f"{ns.wrong_share:.0%} wrong answers")
    d = out / "noise"
    d.mkdir(parents=True, exist_ok=True)
    sk = _skill(ns.skill)
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
                          eval_skills=[ns.skill], min_rungs=10**6,  # run every rung
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


def run_prefs_step(plan: Plan, out: Path, hooks: Hooks, executor=None) -> dict | None:
    from dataladder.ladder.prefs import PrefsConfig, check_config, prefs

    if plan.prefs is None:
        return None
    cfg = step_config(plan, plan.prefs, PrefsConfig)
    check_config(cfg)
    hooks.step(f"preference pairs: reward models for {cfg.skill} on {cfg.start}… pairs")
    return prefs(cfg, out / "prefs", on_rung=hooks.rung, on_train=hooks.train, executor=executor)


def run_rl_step(plan: Plan, out: Path, hooks: Hooks, executor=None) -> dict | None:
    from dataladder.ladder.rl import RLConfig, rl

    if plan.rl is None:
        return None
    cfg = step_config(plan, plan.rl, RLConfig)
    hooks.step(f"RL: GRPO on {cfg.skill}, {cfg.hp.num_generations} generations per prompt")
    return rl(cfg, out / "rl", on_note=hooks.rung, on_step=hooks.train, executor=executor)


def run_dpo_step(plan: Plan, out: Path, hooks: Hooks, executor=None) -> dict | None:
    from dataladder.ladder.dpo import DPOConfig, dpo

    if plan.dpo is None:
        return None
    cfg = step_config(plan, plan.dpo, DPOConfig)
    hooks.step(f"DPO: the policy on {cfg.skill} trained on {cfg.start}… verified preference pairs")
    return dpo(cfg, out / "dpo", on_rung=hooks.rung, on_train=hooks.train, executor=executor)


def run_rm_policy_step(plan: Plan, out: Path, hooks: Hooks, executor=None) -> dict | None:
    from dataladder.ladder.rm_policy import RMPolicyConfig, rm_policy

    if plan.rm_policy is None:
        return None
    step = plan.rm_policy
    cfg = RMPolicyConfig(**{**step.model_dump(), "prefs": step.prefs or str(out / "prefs"),
                            "report_to": tracked(plan, step)})
    hooks.step(f"reward model → policy: {cfg.steps} GRPO steps with each reward model, and with the verifier")
    return rm_policy(cfg, out / "rm-policy", on_rung=hooks.rung, on_step=hooks.train, executor=executor)


def run_compare_step(plan: Plan, out: Path, hooks: Hooks) -> dict | None:
    from dataladder.ladder.compare import compare

    c = plan.compare
    if c is None:
        return None
    climbs = [out / "climbs" / name for name in [c.climb] + c.climbs if name and (out / "climbs" / name).exists()]
    have = [p if p.exists() else None for p in (out / "prefs", out / "rl", out / "dpo", out / "rm-policy")]
    hooks.step("compare: examples, pairs and rollouts on one axis")
    skill = plan.prefs.skill if plan.prefs else plan.rl.skill if plan.rl else None
    return compare(climbs, have[0], have[1], out / "compare", c.delta, skill, dpo=have[2], rm_policy=have[3])


def run_step(name: str, plan: Plan, out: Path, hooks: Hooks, executor) -> dict | list | None:
    """One step of `study_pool.plan_steps(plan)` by its name."""
    if name == "probe":
        return run_probe_step(plan, out, hooks)
    if name.startswith("climb "):
        return run_climb_step(plan, out, hooks, executor, name.removeprefix("climb "))
    if name == "compare":
        return run_compare_step(plan, out, hooks)
    fn = {"noise": run_noise_step, "prefs": run_prefs_step, "rl": run_rl_step, "dpo": run_dpo_step,
          "rm-policy": run_rm_policy_step}[name]
    return fn(plan, out, hooks, executor)


def run_plan(plan: Plan, hooks: Hooks | None = None) -> Path:
    """Run every step of `plan` (independent steps side by side where `parallel` allows: `study_pool`);
    returns the path of report.html."""
    from dataladder.report.html import build_report
    from dataladder.study.pool import default_parallel, plan_steps, run_steps_parallel

    hooks = hooks or Hooks()
    if plan.threads is not None:
        import os

        from dataladder.core.runtime import ENV

        os.environ[ENV] = str(plan.threads)
    out = Path(plan.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.yaml").write_text(yaml.safe_dump(plan.model_dump(), sort_keys=False))
    steps = plan_steps(plan)
    if plan.parallel is not None:
        workers, why = plan.parallel, "the plan's parallel"
    else:
        from dataladder.core.runtime import idle_cores

        workers, why = default_parallel(plan, idle_cores())
    if workers > 1:
        hooks.step(f"{len(steps)} steps, up to {workers} at once, each in its own process ({why})")
        run_steps_parallel(plan, out, hooks, steps, workers)
    else:
        from dataladder.executors import make_executor

        executor = None
        for name, _ in steps:
            if executor is None and name != "probe":  # one for the whole study: its workers stay warm across ladders
                executor = make_executor(plan.executor)
            run_step(name, plan, out, hooks, executor)
    hooks.step("report: building report.html from the result files")
    return build_report(out)
