"""The `rl` kind of the ladder engine: one RL arm's rollout ladder, GRPO rung by rung, greedy evals.

`dataladder.ladder.rl` prepares the prompts and the check on the driver, then climbs one `RLLadder`
per arm (the verifier, a reward model, a reward model retrained online) with the engine, which runs
each rung (`run`: continue from the previous rung's weights) on any executor, and writes rl.json.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dataladder.ladder.engine import Ladder
from dataladder.ladder.rl_checks import overoptimization
from dataladder.ladder.rl_config import RLConfig
from dataladder.forecast.stop import RungScore
from dataladder.core.store import RunStore
from dataladder.skills.spec import skill_key


def eval_greedy(gen, skill, items, fmt: str) -> dict:
    """Greedy accuracy of `gen`'s model on `items` in format `fmt` (`items`: each format's own, `probe.eval_items`,
    or one list it filters), with its Wilson interval; an error where the format has no eval items."""
    from dataladder.evals.probe import score_formats

    res = score_formats(gen, skill, items, [fmt])[0]
    if fmt not in res:
        raise ValueError(f"skill {skill.name}: no eval items in the {fmt} format")
    r = res[fmt]
    return {"correct": r["correct"], "total": r["n"], "accuracy": r["accuracy"], "ci_low": r["ci_low"],
            "ci_high": r["ci_high"]}


def schedule(cfg: RLConfig) -> list[int]:
    """Cumulative GRPO steps at each rung, within the rollout budget."""
    max_steps = cfg.max_rollouts // cfg.hp.rollouts_per_step
    out, s = [], cfg.start_steps
    while s <= max_steps:
        out.append(s)
        s = max(s + 1, int(round(s * cfg.growth)))
    if not out:
        raise ValueError(f"--budget (max_rollouts) {cfg.max_rollouts} is below one rung ({cfg.start_steps} steps × "
                         f"{cfg.hp.rollouts_per_step} rollouts): raise --budget or lower --start-steps")
    return out


class Arm:
    """One rollout ladder: the reward (verifier, reward model, or reward model retrained online)."""

    def __init__(self, label: str, kind: str, rm=None, rm_tok=None, online_every: int | None = None):
        self.label, self.kind, self.online_every = label, kind, online_every
        self.rm, self.rm_tok = rm, rm_tok
        self.buffer: list[dict] = []  # fresh verifier-labelled rollouts since the last retrain
        self.pairs: list[dict] = []  # all online pairs so far (the retrain set)

    def reward_funcs(self, skill, items_by_key: dict):
        from dataladder.generate.base import cut_at_stop
        from dataladder.train.grpo import completion_text, verifier_reward

        verifier = verifier_reward(skill, items_by_key)
        if self.kind == "verifier":
            return [verifier], None
        from dataladder.train.reward import score_texts

        arm = self

        def reward_model(prompts, completions, stop=None, **kw):
            cuts = [cut_at_stop(completion_text(c), tuple(stop[i]) if stop is not None else ())
                    for i, c in enumerate(completions)]
            if arm.online_every:
                oks = verifier(prompts, completions, stop=stop, **kw)
                arm.buffer += [{"prompt": p, "completion": c, "ok": ok} for p, c, ok in zip(prompts, cuts, oks)]
            return score_texts(arm.rm, arm.rm_tok, prompts, cuts)

        # the verifier rides along at weight 0: TRL logs its accuracy on the same rollouts (rewards/verifier/mean)
        return [reward_model, verifier], [1.0, 0.0]

    def retrain(self, seed: int) -> dict | None:
        """Retrain the reward model on accepted-vs-refused completions of the same prompt (verifier labels)."""
        from dataladder.train.reward import RewardHparams, train_reward

        by_prompt: dict[str, dict[str, list[str]]] = {}
        for r in self.buffer:
            by_prompt.setdefault(r["prompt"], {"ok": [], "bad": []})["ok" if r["ok"] else "bad"].append(r["completion"])
        self.buffer = []
        fresh = [{"prompt": p, "chosen": c, "rejected": b, "source": "online"}
                 for p, g in by_prompt.items() for c, b in zip(dict.fromkeys(g["ok"]), dict.fromkeys(g["bad"]))]
        if not fresh:
            return {"fresh_pairs": 0, "pairs": len(self.pairs), "retrained": False}
        self.pairs += fresh
        self.rm, stats = train_reward(self.rm, self.rm_tok, self.pairs, RewardHparams(), seed=seed)
        return {"fresh_pairs": len(fresh), "pairs": len(self.pairs), "retrained": True,
                "train_accuracy": stats.get("train_accuracy"), "seconds": stats["seconds"]}


def train_skill_of(cfg: RLConfig):
    from dataladder.skills.spec import train_skill

    return train_skill(cfg.skill, cfg.prompts_file)


def gen_options(cfg: RLConfig):
    """The generator options of the checks and evals: the rollouts' completion length unless set."""
    options = cfg.gen_options()
    if cfg.hp.max_completion_length and not options.max_new_tokens:  # the checks sample what the rollouts would
        options = options.model_copy(update={"max_new_tokens": cfg.hp.max_completion_length})
    return options


def fingerprint(path: str | None) -> str | None:
    if path is None:
        return None
    from dataladder.models.hub import model_fingerprint

    return model_fingerprint(path)


@dataclass(frozen=True)
class RLSpec:
    """What a worker needs to run the rungs of one arm: the config, the arm, the format and prompts, the
    run identity every rung's config shares, the cold start's run (if any) and the run store's directory."""

    cfg: RLConfig
    label: str
    reward: str  # verifier | reward-model | online
    online_every: int | None
    fmt: str
    pool: tuple
    ident: dict
    cold_key: dict | None
    root: str
    keep_weights: bool = True  # a chained rung's weights are the next rung's start; a one-rung run needs none

    def context_key(self) -> str:
        import hashlib
        import json

        blob = json.dumps([self.cfg.model_dump(), self.label, self.reward, self.fmt, [it.key for it in self.pool],
                           self.ident, self.root], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


def identity(cfg: RLConfig, reward: str, online_every: int | None, fmt: str, cold_key: dict | None) -> dict:
    """What every rung of an arm shares in its run config (a rung adds its cumulative `steps`)."""
    ident = {"kind": "grpo-rung", "model": fingerprint(cfg.model), "skill": skill_key(cfg.skill, cfg.prompts_file),
             "format": fmt, "reward": reward, "reward_model": fingerprint(cfg.reward_model),
             "online_every": online_every, "hp": cfg.hp.model_dump(), "seed": cfg.seed, "eval_n": cfg.eval_n,
             "filter": cfg.filter_zero_signal, "schedule": [cfg.start_steps, cfg.growth], "cold_start": cold_key}
    if (prompt_opts := cfg.prompt_key()) is not None:
        ident["prompts"] = prompt_opts
    return ident


class Context:
    """A worker's arm: the policy it continues from, the reward, prompts and eval items (`ladder/engine.py`)."""

    def __init__(self, rs: RLSpec):
        from dataladder.generate.hf import HFGenerator

        cfg = rs.cfg
        self.rs, self.skill = rs, train_skill_of(cfg)
        base, tok = self.start()
        # the generator keeps settings and tokenizer, not a model: the context holds one policy, `model`,
        # trained in place rung after rung (the start is read again where a chain restarts)
        self.gen = HFGenerator(base, tok, gen_options(cfg)).with_model(None)
        self.model, self.model_at = base, 0
        rm = rm_tok = None
        if cfg.reward_model:
            from dataladder.train.reward import load_reward_model

            rm, rm_tok = load_reward_model(cfg.reward_model, device="cpu")
        self.arm = Arm(rs.label, rs.reward, rm, rm_tok, rs.online_every)
        prompts = [self.gen.prompt_for(self.skill, rs.fmt, it) for it in rs.pool]  # the prompts evaluation uses
        self.rows = [{"prompt": p.text if p.messages is None else list(p.messages), "answer": it.answer,
                      "key": it.key, "stop": list(p.stop), "qa": p.qa} for p, it in zip(prompts, rs.pool)]
        self.max_len = max(p.max_new_tokens for p in prompts)
        self.funcs, self.weights = self.arm.reward_funcs(self.skill, {it.key: it for it in rs.pool})
        from dataladder.evals.probe import eval_items

        self.eval_items = eval_items(self.skill, cfg.eval_n, 0, [rs.fmt])  # up to eval_n items of the RL format
        self.on_train: Callable[[int, int], None] | None = None

    def start(self):
        """(policy, tokenizer) the arm starts from: the base model, or the cold start's stored weights."""
        from transformers import AutoModelForCausalLM

        from dataladder.models.hub import load_model

        base, tok = load_model(self.rs.cfg.model)
        if self.rs.cold_key is not None:
            base = AutoModelForCausalLM.from_pretrained(RunStore(self.rs.root).path(self.rs.cold_key) / "model").eval()
        return base, tok


def prepare(spec: str, rs: RLSpec) -> Context:
    return Context(rs)


def run(ctx: Context, job) -> dict:
    """One rung of the `rl` kind: GRPO from the previous rung's weights (`job.parent`; kept in memory, else
    loaded from its run directory, else recomputed: `seek`) to this rung's cumulative steps, a greedy eval,
    the weights saved. A rung that is already in the store reaches `run` only to have its pruned weights
    written again (`restore`)."""
    store = RunStore(job.root)
    if (stored := store.get(job.rc)) is not None:
        return restore(ctx, store, job.rc, stored)
    restored = seek(ctx, store, job.parent)
    with job.tracked() as kw:
        model, res = train_rung(ctx, job.rc, kw)
    ev = eval_greedy(ctx.gen.with_model(model), ctx.skill, ctx.eval_items, ctx.rs.fmt)
    save_weights(ctx, store.path(job.rc))
    return {"eval": ev, **res, **({"restored": restored} if restored else {})}


def train_rung(ctx: Context, rc: dict, tracking: dict | None = None) -> tuple[object, dict]:
    """GRPO from `ctx.model` (the policy at `ctx.model_at` steps) to `rc`'s cumulative steps, in place."""
    from dataladder.train.grpo import train_grpo

    cfg, arm = ctx.rs.cfg, ctx.arm
    hp, pps = cfg.hp, cfg.hp.prompts_per_step
    steps, done = rc["steps"], ctx.model_at
    # trained in place: until the rung ends, the context holds no policy it could mistake for a finished one
    model, ctx.model, ctx.model_at = ctx.model, None, None
    seg_log, seg_online, secs, digest = [], [], 0.0, None
    while done < steps:
        n = min(steps - done, arm.online_every or steps)
        seg_rows = [ctx.rows[(done * pps + j) % len(ctx.rows)] for j in range(n * pps)]
        model, st = train_grpo(model, ctx.gen.tok, seg_rows, ctx.funcs, hp, n, cfg.seed * 100003 + done,
                               ctx.max_len, ctx.weights, on_step=ctx.on_train, tracking=tracking, in_place=True)
        seg_log += [{**h, "step": done + h["step"], "rollouts": (done + h["step"]) * hp.rollouts_per_step}
                    for h in st["log"]]
        secs += st["seconds"]
        digest = st["weights"]
        done += n
        if arm.online_every:
            seg_online.append({"step": done, **arm.retrain(cfg.seed + done)})
    ctx.model, ctx.model_at = model, steps
    return model, {"log": seg_log, "online": seg_online, "train_seconds": secs, "weights": digest}


def save_weights(ctx: Context, p: Path) -> None:
    """The rung's weights in its run directory: the policy (`model/`), and an online arm's reward model."""
    p.mkdir(parents=True, exist_ok=True)
    if ctx.rs.keep_weights:
        shutil.rmtree(p / "model", ignore_errors=True)
        ctx.model.save_pretrained(p / "model")
    if ctx.arm.kind == "online":
        from dataladder.train.reward import save_reward_model

        shutil.rmtree(p / "reward_model", ignore_errors=True)
        save_reward_model(ctx.arm.rm, ctx.arm.rm_tok, p / "reward_model")


def chain(rs: RLSpec, steps: int) -> list[dict]:
    """The run configs of an arm's rungs up to the one at `steps`, first to last (the ladder's schedule)."""
    cfg, out, s = rs.cfg, [], rs.cfg.start_steps
    while s < steps:
        out.append({**rs.ident, "steps": s})
        s = max(s + 1, int(round(s * cfg.growth)))
    if s != steps:
        raise ValueError(f"rl: {steps} steps is not a rung of the schedule from {cfg.start_steps} × {cfg.growth}")
    return out + [{**rs.ident, "steps": steps}]


def kept(store: RunStore, rc: dict) -> bool:
    return (store.path(rc) / "model").is_dir()


def seek(ctx: Context, store: RunStore, rc: dict | None) -> dict | None:
    """Put `ctx.model` at the weights of rung `rc` (None: the start). In memory already, or from its run
    directory; where its weights were pruned (`prune`), recomputed: the chain trained again from the nearest
    rung that kept its weights (an online arm: from the start, as its retrain set is in no run directory),
    each rung checked against its stored weight digest. Returns what was recomputed (None if nothing)."""
    from transformers import AutoModelForCausalLM

    steps = rc["steps"] if rc else 0
    if ctx.model_at == steps:
        return None
    rcs = chain(ctx.rs, steps) if rc else []
    online = ctx.arm.kind == "online"
    i = len(rcs) - 1  # the nearest rung whose weights are on disk, -1: the start
    while i >= 0 and not (kept(store, rcs[i]) and (not online or i == len(rcs) - 1)):
        i -= 1
    ctx.model = None  # free the policy held before loading another
    if i >= 0:
        d = store.path(rcs[i])
        ctx.model = AutoModelForCausalLM.from_pretrained(d / "model").eval()
        if online:
            from dataladder.train.reward import load_reward_model

            ctx.arm.rm, _ = load_reward_model(d / "reward_model")
    else:
        ctx.model = ctx.start()[0]
        if online:  # the arm's state at its start: the given reward model, no online pairs yet
            from dataladder.train.reward import load_reward_model

            ctx.arm.rm, ctx.arm.rm_tok = load_reward_model(ctx.rs.cfg.reward_model, device="cpu")
            ctx.arm.buffer, ctx.arm.pairs = [], []
    ctx.model_at = start = rcs[i]["steps"] if i >= 0 else 0
    if i == len(rcs) - 1:
        return None
    same = []
    for r in rcs[i + 1 :]:
        _, res = train_rung(ctx, r)
        want = (store.get(r) or {}).get("weights")
        same.append(None if want is None else res["weights"] == want)
    # exact: every recomputed rung equals its stored weights to the bit (None: a rung stored without a digest)
    return {"from_steps": start, "recomputed_steps": [r["steps"] for r in rcs[i + 1 :]],
            "exact": False if False in same else None if None in same else True}


def restore(ctx: Context, store: RunStore, rc: dict, stored: dict) -> dict:
    """Write a finished rung's pruned weights again (recomputed by `seek`); says whether they match its digest."""
    if kept(store, rc):
        return {"restored": None}
    got = seek(ctx, store, rc)  # None: the context's policy is at these steps already
    save_weights(ctx, store.path(rc))
    return {"restored": got or {"from_steps": rc["steps"], "recomputed_steps": [], "exact": True}}


def prune(store: RunStore, arms: list[dict]) -> int:
    """Delete the weights (`model/`) of every rung but the last of each verifier arm: nothing reads them once
    the next rung has finished, except a rerun that ends at or continues from such a rung, and `seek`
    recomputes those, to the bit on a CPU (tests/ladder/test_rl_weights.py). Reward-model arms keep theirs:
    recomputed, their rungs did not match the stored weights to the bit. Returns the bytes freed."""
    freed = 0
    for a in arms:
        if a["reward"] != "verifier":
            continue
        for rung in a["rungs"][:-1]:
            for d in rung["run_dirs"]:
                for sub in ("model", "reward_model"):
                    if (p := store.root / d / sub).is_dir():
                        freed += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
                        shutil.rmtree(p)
    return freed


class RLLadder(Ladder):
    """One arm's rollout ladder (the `rl` kind): rungs at cumulative GRPO step counts, each continuing
    from the previous rung's weights; the size is rollouts (steps × prompts × generations)."""

    kind, unit, chained = "rl", "rollouts", True

    def __init__(self, rs: RLSpec, base_eval: dict, on_rung: Callable[[str], None] | None = None):
        cfg = rs.cfg
        self.rps = cfg.hp.rollouts_per_step
        rule = cfg.rule(target=cfg.target, start=cfg.start_steps * self.rps, budget=cfg.max_rollouts,
                        saturation_delta=cfg.saturation_delta)
        super().__init__(rs.label, cfg.model, rs, rule, RungScore(0, base_eval["correct"], base_eval["total"]), on_rung)
        self.log: list[dict] = []
        self.online: list[dict] = []

    @property
    def name(self) -> str:
        return f"{Path(self.cfg.cfg.skill).name}-rl-{self.cfg.reward}" + (f"-every{self.cfg.online_every}"
                                                                       if self.cfg.online_every else "")

    def configs(self, n: int) -> list[dict]:
        return [{**self.cfg.ident, "steps": n // self.rps}]

    def score(self, rc: dict, result: dict) -> tuple[int, int]:
        return result["eval"]["correct"], result["eval"]["total"]

    def run_seconds(self, result: dict) -> float:
        return float(result["train_seconds"])

    def next_size(self, n: int) -> int:
        s = n // self.rps
        return max(s + 1, int(round(s * self.rule.growth))) * self.rps

    def extra(self, rcs: list[dict], results: list[dict]) -> dict:
        self.log += results[0]["log"]
        self.online += results[0].get("online", [])
        return {"steps": rcs[0]["steps"], "train_seconds": results[0]["train_seconds"]}

    def line(self, rung: dict) -> str:
        return (f"{self.label} {rung['n']:,} rollouts ({rung['steps']} steps): {rung['accuracy']:.3f} "
                f"[{rung['ci_low']:.3f}, {rung['ci_high']:.3f}]")

    def document(self) -> dict:
        out = {**super().document(), "reward": self.cfg.reward, "online_every": self.cfg.online_every,
               "log": self.log, "online": self.online}
        if self.cfg.reward != "verifier":
            out["overoptimization"] = overoptimization(self.log, "rewards/reward_model/mean", "rewards/verifier/mean")
        return out


def observed_zero_signal(arm: dict, early_steps: int) -> dict:
    vals = [h["frac_reward_zero_std"] for h in arm["log"] if h.get("frac_reward_zero_std") is not None]
    early = [h["frac_reward_zero_std"] for h in arm["log"]
             if h.get("frac_reward_zero_std") is not None and h["step"] <= early_steps]
    mean = lambda v: sum(v) / len(v) if v else None  # noqa: E731
    return {"early_steps": early_steps, "early": mean(early), "all": mean(vals), "steps": len(vals)}


def restore_weights(lad: RLLadder, steps: int, executor) -> dict | None:
    """Write the pruned weights of `lad`'s rung at `steps` again, through `executor` (a worker recomputes
    them: `seek`); returns what was recomputed."""
    from dataladder.ladder.engine import Job

    rcs = chain(lad.cfg, steps)
    job = Job(lad.kind, lad.spec, lad.cfg, rcs[-1], rcs[-2] if len(rcs) > 1 else None, lad.cfg.root)
    return next(iter(executor.run([job])))[1]["restored"]
