"""`dataladder rm-policy`: is a better reward model a better policy? Pairs behind the reward model against
the verified accuracy of the policy RL trains with it.

    dataladder prefs --skill mul --output-dir runs/prefs          # reward models on 50, 100, … pairs
    dataladder rm-policy --prefs runs/prefs --steps 32            # RL with each of them, and with the verifier

The run at size n (the `rm-policy` kind) takes the reward model that `prefs` trained on n pairs (seed 0:
the `reward` kind's run, read from the prefs run store; retrained there, deterministically, if its
weights were pruned) and runs GRPO with it for a fixed number of steps from the base policy, in the
format the reward model was trained on; it is scored by the policy's *verified* greedy accuracy on the
skill's held-out eval items, never by the reward model's own score. The same RL with the verifier as
the reward is the ceiling. Rungs follow the prefs ladder's sizes; fit, forecast, stop rule and the
document are the ladder engine's. Writes `rm-policy.json` and `rm-policy.png`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from pydantic import BaseModel, Field

from dataladder.core.errors import InputError
from dataladder.ladder.engine import Job, Ladder, Rule
from dataladder.ladder.rl_arm import prepare, run  # noqa: F401  (the worker side: one RL run, as the rl kind's)
from dataladder.forecast.stop import RungScore
from dataladder.core.store import RunStore, run_key
from dataladder.core.results import check_skill_agrees, read_result
from dataladder.train.grpo import GRPOHparams
from dataladder.train.tracking import ReportTo


class RMPolicyConfig(BaseModel, extra="forbid", allow_inf_nan=False):
    prefs: str = Field("runs/prefs", description="a prefs output directory (prefs.json and its run store)")
    steps: int = Field(32, ge=1, description="GRPO steps of every RL run (the same for every reward model)")
    target: float = Field(0.8, gt=0, le=1, description="verified greedy accuracy of the policy to reach")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="RL seed and prompt draw")
    eval_n: int = Field(300, ge=1, le=1_000_000, description="held-out eval items of the policy")
    delta: float = Field(0.01, ge=0, le=1, description="smallest gain per doubling of pairs worth paying for")
    min_rungs: int | None = Field(None, ge=1, description="rungs before the fit may stop the ladder (default: none "
                                                         "stops it: every reward model of the prefs ladder is used)")
    n_boot: int = Field(200, ge=1, description="posterior draws of the curve fit")
    hp: GRPOHparams = Field(default_factory=GRPOHparams, description="GRPO hyperparameters")
    report_to: ReportTo = Field("none", description="experiment tracking: none, tensorboard, wandb, mlflow, trackio")


class RMPolicyStep(RMPolicyConfig, extra="forbid"):
    prefs: str | None = Field(None, description="a prefs output directory (default: this study's prefs step)")


def check_config(cfg: RMPolicyConfig) -> None:
    """Before any model loads: the prefs ladder it reads is there and sound."""
    from dataladder.core.errors import for_option

    with for_option("--prefs"):
        read_prefs(cfg)


def read_prefs(cfg: RMPolicyConfig) -> dict:
    d = Path(cfg.prefs)
    f = d / "prefs.json"
    if not f.is_file():  # one line naming --prefs and what it should hold
        want = "the output directory of `dataladder prefs`, which holds prefs.json"
        why = (f"give its directory {d.parent} ({want})" if d.name == "prefs.json" and d.is_file() else
               f"a file, not a directory; give {want}" if d.exists() and not d.is_dir() else
               f"no such directory; give {want}" if not d.exists() else
               "no prefs.json in it; give the output directory of a finished `dataladder prefs`")
        raise InputError(f"--prefs {d}: {why}")
    doc = read_result(f, need=("config", "unit", "rungs"), rerun="rerun `dataladder prefs`")
    if doc.get("kind", "reward") != "reward" or doc["unit"] != "pairs":
        raise InputError(f"kind: a {doc.get('kind')} ladder of {doc['unit']}, not a prefs (reward model) ladder; "
                         "give the directory `dataladder prefs` wrote", str(f))
    from dataladder.ladder.prefs import PrefsConfig, data_config, rung_config

    try:
        pc = PrefsConfig(**doc["config"])
    except (TypeError, ValueError) as e:  # pydantic's ValidationError is a ValueError
        first = getattr(e, "errors", lambda: [{}])()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "config"
        raise InputError(f"config.{where}: {first.get('msg', e)}; rerun `dataladder prefs`", str(f)) from None
    from dataladder.core.registry import UnknownName
    from dataladder.models.hub import check_model
    from dataladder.skills.spec import train_skill

    try:  # what every run loads: the base model and the skill, as the prefs run named them
        check_model(pc.model, "config.model")
        try:
            train_skill(pc.skill, pc.prompts_file)
        except (InputError, UnknownName, ValueError) as e:
            raise ValueError(f"config.skill: {e}") from None
    except ValueError as e:
        raise InputError(f"{e}; give the directory `dataladder prefs` wrote for a model and skill that are here",
                         str(f)) from None
    check_skill_agrees(doc, str(f), "rerun `dataladder prefs`")  # the skill RL runs is config.skill: the top agrees
    store = RunStore(d)  # the reward model of each rung (seed 0): its run, done, in the prefs run store
    if not (d / "runs").is_dir():
        raise InputError(f"rungs: no run store beside it ({d / 'runs'}), so none of its reward models; give the "
                         "directory `dataladder prefs` wrote, whole", str(f))
    data = data_config(pc)
    for i, r in enumerate(doc["rungs"]):
        if not (store.path(rung_config(pc, data, r["n"], 0)) / "done").is_file():
            raise InputError(f"rungs[{i}].n: no reward model of {r['n']:,} pairs in its run store ({d / 'runs'}); "
                             "rerun `dataladder prefs` into this directory", str(f))
    return doc


def rl_config(cfg: RMPolicyConfig, prefs_cfg, reward_model: str | None):
    """The RL config of one run: the prefs model and skill, the reward model's format, no cold start."""
    from dataladder.ladder.rl import RLConfig

    from dataladder.train.sizing import resolve_cfg

    rps = cfg.hp.rollouts_per_step
    return resolve_cfg(RLConfig(model=prefs_cfg.model, skill=prefs_cfg.skill, format=fmt_of(prefs_cfg), cold_start=0,
                    target=cfg.target, start_steps=cfg.steps, max_rollouts=cfg.steps * rps, seed=cfg.seed,
                    eval_n=cfg.eval_n, reward_model=reward_model, prompts_file=prefs_cfg.prompts_file,
                    hp=cfg.hp, report_to=cfg.report_to), "grpo")


def fmt_of(prefs_cfg) -> str:
    from dataladder.skills.spec import train_skill

    return prefs_cfg.format or train_skill(prefs_cfg.skill, prefs_cfg.prompts_file).native_format


class RMPolicyLadder(Ladder):
    """RL with the reward model of n pairs, at every size of the prefs ladder (the `rm-policy` kind)."""

    kind, unit = "rm-policy", "pairs"

    def __init__(self, cfg: RMPolicyConfig, prefs_doc: dict, base: RungScore, executor, root: str,
                 on_rung: Callable[[str], None] | None = None):
        from dataladder.ladder.prefs import PrefsConfig

        self.prefs_cfg = PrefsConfig(**prefs_doc["config"])
        self.sizes = [r["n"] for r in prefs_doc["rungs"]]
        self.heldout = {r["n"]: r["seeds"][0]["accuracy"] for r in prefs_doc["rungs"]}
        self.executor, self.pool, self.root, self._specs = executor, None, root, {}
        rule = Rule(target=cfg.target, start=self.sizes[0], growth=2.0, budget=self.sizes[-1],
                    available=self.sizes[-1], delta=cfg.delta, min_rungs=cfg.min_rungs or len(self.sizes) + 1,
                    n_boot=cfg.n_boot)
        super().__init__(f"RL with the reward model of n pairs ({cfg.steps} steps)", self.prefs_cfg.model, cfg, rule,
                         base, on_rung)

    @property
    def name(self) -> str:
        return f"{Path(self.prefs_cfg.skill).name}-rm-policy"

    def next_size(self, n: int) -> int:
        later = [s for s in self.sizes if s > n]
        return later[0] if later else self.sizes[-1] * 2

    def reward_model(self, n: int) -> tuple[dict, str]:
        """The prefs ladder's reward model of n pairs (seed 0): its run config and where its weights are."""
        from dataladder.ladder.prefs import data_config, rung_config

        rc = rung_config(self.prefs_cfg, data_config(self.prefs_cfg), n, 0)
        return rc, str(RunStore(Path(self.cfg.prefs)).path(rc) / "reward_model")

    def configs(self, n: int) -> list[dict]:
        rc_rm, path = self.reward_model(n)
        spec = self.spec_of(n)
        return [{**spec.ident, "reward_model": run_key(rc_rm), "steps": self.cfg.steps, "pairs": n}]

    def spec_of(self, n: int):
        """The RL run of the rung of n pairs: GRPO with that size's reward model."""
        if n not in self._specs:
            self._specs[n] = run_spec(self.cfg, self.prefs_cfg, "reward-model", self.reward_model(n)[1], self.root)
        return self._specs[n]

    def worker_config(self, rc: dict, root: str):
        rc_rm, path = self.reward_model(rc["pairs"])
        if RunStore(Path(root)).get(rc) is None and not (Path(path) / "config.json").is_file():
            # prefs kept one reward model's weights: the others are retrained (deterministically) in their run dirs
            list(self.executor.run([Job("reward", self.prefs_cfg.model, self.prefs_cfg, rc_rm, root=self.cfg.prefs)]))
        return self.spec_of(rc["pairs"])

    def score(self, rc: dict, result: dict) -> tuple[int, int]:
        return result["eval"]["correct"], result["eval"]["total"]

    def run_seconds(self, result: dict) -> float:
        return float(result["train_seconds"])

    def extra(self, rcs: list[dict], results: list[dict]) -> dict:
        log = results[0]["log"]
        rm = [h.get("rewards/reward_model/mean") for h in log if h.get("rewards/reward_model/mean") is not None]
        ver = [h.get("rewards/verifier/mean") for h in log if h.get("rewards/verifier/mean") is not None]
        return {"reward_model_heldout_accuracy": self.heldout.get(rcs[0]["pairs"]),
                "train_reward_model_score": sum(rm) / len(rm) if rm else None,
                "train_verified_accuracy": sum(ver) / len(ver) if ver else None,
                "train_seconds": results[0]["train_seconds"]}

    def line(self, rung: dict) -> str:
        return (f"RL with the reward model of {rung['n']:,} pairs (held-out pairwise "
                f"{rung['reward_model_heldout_accuracy']:.3f}): verified {rung['accuracy']:.3f} "
                f"[{rung['ci_low']:.3f}, {rung['ci_high']:.3f}]")


def run_spec(cfg: RMPolicyConfig, prefs_cfg, reward: str, reward_model: str | None, root: str):
    from dataladder.ladder.rl import draw_pool
    from dataladder.ladder.rl_arm import RLSpec, identity, train_skill_of

    rl_cfg = rl_config(cfg, prefs_cfg, reward_model)
    fmt = fmt_of(prefs_cfg)
    pool = draw_pool(train_skill_of(rl_cfg), cfg.steps * cfg.hp.prompts_per_step, cfg.seed)
    ident = identity(rl_cfg.model_copy(update={"reward_model": None}), reward, None, fmt, None)
    return RLSpec(rl_cfg, reward, reward, None, fmt, tuple(pool), {**ident, "kind": "rm-policy"}, None, root,
                  keep_weights=False)  # each run starts from the base: no weights to keep


def rm_policy(cfg: RMPolicyConfig, output_dir: Path, on_rung: Callable[[str], None] | None = None,
              on_train: Callable[[int, int], None] | None = None, on_eval: Callable[[int], None] | None = None,
              executor=None) -> dict:
    """The reward-model → policy ladder into `output_dir`; returns rm-policy.json (also written)."""
    from dataladder.ladder.driver import drive
    from dataladder.ladder.prefs import PrefsConfig

    prefs_doc = read_prefs(cfg)
    prefs_cfg = PrefsConfig(**prefs_doc["config"])
    ceiling_spec = run_spec(cfg, prefs_cfg, "verifier", None, str(RunStore(output_dir).root))

    def describe(d) -> dict:
        c = d.base["eval"]  # the ceiling: the same RL with the verifier as the reward
        return {"config": cfg.model_dump(), "model": prefs_cfg.model, "skill": prefs_cfg.skill,
                "format": ceiling_spec.fmt,
                "metric": f"verified greedy accuracy of the policy after {cfg.steps} GRPO steps with the reward model",
                **d.ladder.document(),
                "verifier_ceiling": {k: c[k] for k in ("accuracy", "ci_low", "ci_high", "correct", "total")},
                "prefs": str(cfg.prefs)}

    ceiling = Job("rm-policy", prefs_cfg.model, ceiling_spec, {**ceiling_spec.ident, "steps": cfg.steps})
    return drive(output_dir, [ceiling],
                 ladders=lambda d: [RMPolicyLadder(cfg, prefs_doc, base_score(ceiling_spec, cfg.eval_n), d.executor,
                                                   str(d.store.root), on_rung)],
                 describe=describe, document="rm-policy.json", plot=plot_rm_policy, executor=executor,
                 on_train=on_train, on_eval=on_eval, report_to=cfg.report_to, memory=False)


def base_score(spec, eval_n: int) -> RungScore:
    """The base policy's verified greedy accuracy in the runs' format, on `eval_n` eval items: the ladder's start."""
    from dataladder.evals.probe import eval_items
    from dataladder.generate.hf import HFGenerator
    from dataladder.ladder.rl_arm import eval_greedy, gen_options, train_skill_of
    from dataladder.models.hub import load_model

    skill = train_skill_of(spec.cfg)
    ev = eval_greedy(HFGenerator(*load_model(spec.cfg.model), gen_options(spec.cfg)), skill,
                     eval_items(skill, eval_n, 0, [spec.fmt]), spec.fmt)
    return RungScore(0, ev["correct"], ev["total"])


def plot_rm_policy(doc: dict, path: Path) -> None:
    from dataladder.core.plot import log_axes, pyplot, save
    from dataladder.ladder.plot import draw_ladder

    fig, ax = pyplot().subplots(figsize=(6.5, 4.4))
    draw_ladder(ax, doc, "C0", "policy after RL with the reward model of n pairs")
    c, b = doc["verifier_ceiling"], doc["base"]
    ax.axhspan(c["ci_low"], c["ci_high"], color="C2", alpha=0.15, lw=0)
    ax.axhline(c["accuracy"], color="C2", lw=1.2, label=f"verifier reward, same steps: {c['accuracy']:.3f} (95% CI)")
    ax.axhline(b["accuracy"], color="gray", lw=1, label=f"before RL {b['accuracy']:.3f}")
    log_axes(ax, "preference pairs behind the reward model (log scale)", f"verified greedy accuracy ({doc['format']})",
             f"better reward model → better policy? ({doc['skill']})")
    save(fig, path)
