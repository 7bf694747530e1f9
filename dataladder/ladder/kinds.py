"""The ladder kinds, each registered once: what a kind is called, where it lives, what it measures.

Everything else derives from this registry: the engine's worker dispatch (`engine.kind_module`), the command
(`dataladder <name>`, its options from the kind's config: `cli/derive.py`), the plan step (`study/plan.py`),
the study's step, its checks and the pool's dispatch (`study/run.py`, `study/pool.py`), compare's inputs and the
report's section. A kind's module holds the rest, by these names:

    <Config>                       a pydantic model; its fields are the command's options and the plan step's keys
    check_config(cfg)              optional: every check that needs no model (one ValueError line naming the option)
    prepare(spec, cfg), run(ctx, job)   the worker side (`ladder/engine.py`)
    <driver>(cfg, output_dir, on_rung=, on_train=, on_eval=, executor=) -> document   written to output_dir/<document>

To add a kind: its recipe (if it trains), its module, one `register(Kind(...))` line below, and its docs page.
Nothing here imports a kind's module: this file is data, read by the CLI, the study and the report alike.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from dataladder.core.registry import Registry
from dataladder.core.results import NAMES


@dataclass(frozen=True)
class Kind:
    name: str  # the command, the engine's key (`Job.kind`), the plan key (with - as _) and the default folder
    module: str  # the module with the config, check_config and the driver (and prepare/run, unless `worker`)
    config: str  # the config class's name in `module`
    driver: str  # the driver function's name in `module`
    unit: str  # what a rung counts: examples, pairs, rollouts, demonstrations
    title: str  # one line: the command's help, the plan step's description
    document: str  # the result file the driver writes in its output dir
    budget: str | None = None  # the config's count field that `--budget N[,30m]` sets (beside max_minutes)
    needs: tuple[str, ...] = ()  # kinds whose documents it reads (a plan runs them first); a field of the same name
    #                              in the config may point at one made elsewhere instead
    skill_field: str | None = "skill"  # the field naming what it trains (a user's model must name it)
    default_skill: str | None = None  # the shipped tiny-arith's default skill (None: the config's default)
    aliases: dict[str, str] = field(default_factory=dict)  # config field → the option's name, where shorter
    step: str | None = None  # a plan step class in `module` (default: the config plus `model`, the plan's by default)
    many: bool = False  # the plan takes a list of these steps, each with a `name` (climbs)
    worker: str | None = None  # the module with prepare/run, where it is not `module`
    command: str | None = None  # the command's name (default: the name)
    plan_key: str | None = None  # the plan's key (default: the command with - as _)
    folder: str | None = None  # the study's folder for it (default: the command)
    section: str = "ladder"  # the report's section for its document: ladder | prefs | rl | climbs

    @property
    def cmd(self) -> str:
        return self.command or self.name

    @property
    def key(self) -> str:
        return self.plan_key or self.cmd.replace("-", "_")

    @property
    def dir(self) -> str:
        return self.folder or self.cmd

    @property
    def compare_param(self) -> str:
        """compare's option for its documents (`--climb`, repeatable, for `climbs`; else the plan key)."""
        return self.key.rstrip("s") if self.many else self.key

    def load(self, attr: str):
        """An attribute of the kind's module (its config class, driver, check_config), imported on first use."""
        return getattr(importlib.import_module(self.module), attr, None)


KINDS: Registry[Kind] = Registry("ladder kind")


_ORDER: list[str] = []

# why a ladder stopped, as its document records it (`stop.reason`): the stop rule's five (forecast/stop.py), the
# engine's two (ladder/engine.py: the data ran out first; its runs diverged); what the result validator accepts
STOP_REASONS = ("target-reached", "not-improving", "diminishing-returns", "unreachable-within-budget",
                "budget-exhausted", "data-exhausted", "unstable-training")
NAMES["stop_reasons"].update(dict.fromkeys(STOP_REASONS))


def register(kind: Kind) -> Kind:
    _ORDER.append(kind.name)
    NAMES["kinds"][kind.name] = kind.unit  # what the result validator checks a document's kind and unit against
    return KINDS.register(kind.name)(kind)


def kinds() -> list[Kind]:
    """Every kind, in registration order (the order of a study's steps, the report's sections and `--help`)."""
    return [KINDS.get(n) for n in _ORDER]


register(Kind("sft", "dataladder.ladder.climb", "ClimbConfig", "climb", "examples",
              "The ladder: fine-tune on 20, 40, 80… examples until the target is reached or returns diminish.",
              "ladder.json", budget="max_examples", skill_field="skills", default_skill="add",
              aliases={"models": "model", "skills": "skill", "eval_skills": "eval_skill"}, step="ClimbStep",
              many=True, command="climb", plan_key="climbs", folder="climbs", section="climbs"))
register(Kind("reward", "dataladder.ladder.prefs", "PrefsConfig", "prefs", "pairs",
              "Reward models on a ladder of pair counts: held-out pairwise accuracy, margin, saturation point.",
              "prefs.json", budget="max_pairs", default_skill="mul", command="prefs", section="prefs"))
register(Kind("rl", "dataladder.ladder.rl", "RLConfig", "rl", "rollouts",
              "RL with GRPO: zero-signal check, then greedy accuracy at growing rollout counts, fit and stop rule.",
              "rl.json", budget="max_rollouts", default_skill="mul", worker="dataladder.ladder.rl_arm",
              aliases={"hp.num_generations": "num_generations"}, section="rl"))
register(Kind("dpo", "dataladder.ladder.dpo", "DPOConfig", "dpo", "pairs",
              "DPO on a ladder of verified preference-pair counts: the policy's accuracy, forgetting, saturation.",
              "dpo.json", budget="max_pairs", default_skill="add"))
register(Kind("rm-policy", "dataladder.ladder.rm_policy", "RMPolicyConfig", "rm_policy", "pairs",
              "Better reward model → better policy? RL with each prefs reward model, scored by verified accuracy.",
              "rm-policy.json", needs=("prefs",), skill_field=None, step="RMPolicyStep"))
register(Kind("icl", "dataladder.ladder.icl", "ICLConfig", "icl", "demonstrations",
              "Few-shot instead of fine-tuning: greedy accuracy with 1, 2, 4… demonstrations in the prompt.",
              "icl.json", budget="max_shots", default_skill="add"))


def by_command(name: str) -> Kind:
    """The kind whose command, plan key or name is `name` (prefs → reward), with did-you-mean."""
    for k in kinds():
        if name in (k.name, k.cmd, k.key):
            return k
    return KINDS.get(name)
