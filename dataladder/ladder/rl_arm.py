"""The rollout ladder of one RL arm: GRPO rung by rung from the store, greedy evals, fit and stop rule.

`dataladder.ladder.rl` prepares the policy, the prompts and the check, then runs one `climb_rollouts`
per arm (the verifier, a reward model, a reward model retrained online) and writes rl.json.
"""

from __future__ import annotations

import math
import shutil
import time
from typing import TYPE_CHECKING, Callable

from dataladder.ladder.fit import fit_curve, forecast_block, forecast_text, summarize_fit
from dataladder.ladder.rl_checks import overoptimization
from dataladder.ladder.stop import RungScore, decide, reached_at
from dataladder.ladder.store import RunStore
from dataladder.skills.spec import skill_key

if TYPE_CHECKING:
    from dataladder.ladder.rl import RLConfig


def eval_greedy(gen, skill, items, fmt: str) -> dict:
    """Greedy accuracy of `gen`'s model on `items` in format `fmt`, with its Wilson interval."""
    from dataladder.probe import score_formats

    r = score_formats(gen, skill, items, [fmt])[0][fmt]
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


def fingerprint(path: str | None) -> str | None:
    if path is None:
        return None
    from dataladder.models.hub import model_fingerprint

    return model_fingerprint(path)


def climb_rollouts(cfg: RLConfig, arm: Arm, store: RunStore, base, gen, skill, fmt: str, pool: list, eval_items: list,
                   base_eval: dict, on_rung: Callable[[str], None], on_step: Callable[[int, int], None] | None,
                   cold_key: dict | None = None) -> dict:
    """The rollout ladder of one arm: train rung by rung (resuming from the store), evaluate, fit, stop."""
    from transformers import AutoModelForCausalLM

    from dataladder.train.grpo import train_grpo

    hp, pps = cfg.hp, cfg.hp.prompts_per_step
    tok = gen.tok
    prompts = [gen.prompt_for(skill, fmt, it) for it in pool]  # the prompts and stops evaluation uses
    rows = [{"prompt": p.text if p.messages is None else list(p.messages), "answer": it.answer, "key": it.key,
             "stop": list(p.stop)} for p, it in zip(prompts, pool)]
    max_len = max(p.max_new_tokens for p in prompts)
    items_by_key = {it.key: it for it in pool}
    funcs, weights = arm.reward_funcs(skill, items_by_key)
    steps_at = schedule(cfg)
    ident = {"kind": "grpo-rung", "model": fingerprint(cfg.model), "skill": skill_key(cfg.skill, cfg.prompts_file),
             "format": fmt, "reward": arm.kind, "reward_model": fingerprint(cfg.reward_model),
             "online_every": arm.online_every, "hp": hp.model_dump(), "seed": cfg.seed, "eval_n": cfg.eval_n,
             "filter": cfg.filter_zero_signal, "schedule": [cfg.start_steps, cfg.growth], "cold_start": cold_key}
    if (prompt_opts := cfg.prompt_key()) is not None:
        ident["prompts"] = prompt_opts
    base_score = RungScore(0, base_eval["correct"], base_eval["total"])
    rungs = [{"rollouts": 0, "steps": 0, **base_eval, "seconds": 0.0}]
    scores, points, log, online = [], [], [], []
    model, model_at, prev, t0, fit, decision = base, 0, 0, time.perf_counter(), None, None
    for i, steps in enumerate(steps_at):
        key = {**ident, "steps": steps}
        got = store.get(key)
        if got is None:
            if model_at != prev:  # resuming: continue from the last finished rung's weights
                d = store.path({**ident, "steps": prev})
                model = AutoModelForCausalLM.from_pretrained(d / "model")
                if arm.kind == "online":
                    from dataladder.train.reward import load_reward_model

                    arm.rm, _ = load_reward_model(d / "reward_model")
            seg_log, seg_online, secs, done = [], [], 0.0, prev
            while done < steps:
                n = min(steps - done, arm.online_every or steps)
                seg_rows = [rows[(done * pps + j) % len(rows)] for j in range(n * pps)]
                model, st = train_grpo(model, tok, seg_rows, funcs, hp, n, cfg.seed * 100003 + done,
                                       max_len, weights, on_step=on_step)
                seg_log += [{**h, "step": done + h["step"], "rollouts": (done + h["step"]) * hp.rollouts_per_step}
                            for h in st["log"]]
                secs += st["seconds"]
                done += n
                if arm.online_every:
                    seg_online.append({"step": done, **arm.retrain(cfg.seed + done)})
            model_at = steps
            ev = eval_greedy(gen.with_model(model), skill, eval_items, fmt)
            p = store.path(key)
            p.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(p / "model", ignore_errors=True)
            model.save_pretrained(p / "model")
            if arm.kind == "online":
                from dataladder.train.reward import save_reward_model

                save_reward_model(arm.rm, arm.rm_tok, p / "reward_model")
            got = store.put(key, {"eval": ev, "log": seg_log, "online": seg_online, "train_seconds": secs})
        prev = steps
        ev = got["eval"]
        log += got["log"]
        online += got.get("online", [])
        rollouts = steps * hp.rollouts_per_step
        rungs.append({"rollouts": rollouts, "steps": steps, **ev, "seconds": got["train_seconds"],
                      "run_dir": str(store.path(key).relative_to(store.root))})
        scores.append(RungScore(rollouts, ev["correct"], ev["total"]))
        points.append((rollouts, ev["correct"], ev["total"]))
        fit = fit_curve(points, cfg.target, cfg.n_boot, seed=len(scores)) if len(scores) >= 3 else None
        rungs[-1]["forecast"] = forecast_block(fit, rollouts)
        nxt = steps_at[i + 1] * hp.rollouts_per_step if i + 1 < len(steps_at) else cfg.max_rollouts + 1
        time_left = (cfg.max_minutes * 60 - (time.perf_counter() - t0)) if cfg.max_minutes else math.inf
        decision = decide(scores, base_score, fit, cfg.target, nxt, cfg.max_rollouts, time_left, cfg.delta,
                          cfg.min_rungs)
        on_rung(f"{arm.label} {rollouts:,} rollouts ({steps} steps): {ev['accuracy']:.3f} "
                f"[{ev['ci_low']:.3f}, {ev['ci_high']:.3f}]" + forecast_text(rungs[-1]["forecast"], cfg.target)
                + (f" → stop: {decision.reason}" if decision.stop else ""))
        if decision.stop:
            break
    hit = reached_at(scores, cfg.target)
    out = {"label": arm.label, "reward": arm.kind, "online_every": arm.online_every, "rungs": rungs, "log": log,
           "fit": summarize_fit(fit, rungs[-1]["rollouts"], cfg.max_rollouts), "stop": {"reason": decision.reason, **decision.detail},
           "reached_at": scores[hit].n if hit is not None else None, "online": online}
    if arm.kind != "verifier":
        out["overoptimization"] = overoptimization(log, "rewards/reward_model/mean", "rewards/verifier/mean")
    return out


def observed_zero_signal(arm: dict, early_steps: int) -> dict:
    vals = [h["frac_reward_zero_std"] for h in arm["log"] if h.get("frac_reward_zero_std") is not None]
    early = [h["frac_reward_zero_std"] for h in arm["log"]
             if h.get("frac_reward_zero_std") is not None and h["step"] <= early_steps]
    mean = lambda v: sum(v) / len(v) if v else None  # noqa: E731
    return {"early_steps": early_steps, "early": mean(early), "all": mean(vals), "steps": len(vals)}
