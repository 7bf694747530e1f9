"""`dataladder climb`: fine-tune on growing nested data until the stop rule says enough.

For each base model × skill × arm (full fine-tuning, or LoRA at each rank), rungs of
start·growth^k examples are trained for every seed, every skill and format is evaluated, the
learning curve is fitted and the stop rule consulted. Runs go through the run store, so a
rerun resumes. The driver writes `ladder.json` and `ladder.png`.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, Field

from dataladder.ladder.fit import N_GRID, fit_curve
from dataladder.ladder.schedule import next_size
from dataladder.ladder.stop import RungScore, decide, reached_at
from dataladder.ladder.store import RunStore
from dataladder.probe import DATA_BANDS, diagnose, score_formats
from dataladder.stats import wilson
from dataladder.train.sft import SFTHparams, tokenize_records, train_sft


class ClimbConfig(BaseModel, extra="forbid"):
    models: list[str] = Field(default_factory=lambda: ["tiny-arith"], description="base models, compared side by side")
    skills: list[str] = Field(default_factory=lambda: ["add"], description="skills to climb")
    target: float = Field(0.9, description="accuracy to reach in the target format")
    target_format: str = Field("exam", description="prompt format of the target")
    method: Literal["full", "lora"] = Field("full", description="full fine-tuning or LoRA")
    lora_ranks: list[int] = Field(default_factory=lambda: [1, 4, 16], description="LoRA ranks (method lora)")
    start: int = Field(20, description="examples in the first rung")
    growth: float = Field(2.0, description="each rung's size over the previous one's")
    seeds: int = Field(2, description="training seeds per rung (each draws its own nested data)")
    max_examples: int = Field(5120, description="budget: most examples in a rung")
    max_minutes: float | None = Field(None, description="budget: wall time per skill and arm")
    delta: float = Field(0.01, description="smallest gain per doubling worth paying for")
    eval_n: int = Field(200, description="eval items per skill and format at every rung")
    eval_skills: list[str] = Field(default_factory=lambda: ["add", "sub", "mul", "div", "mixed"],
                                   description="skills evaluated at every rung (forgetting)")
    digits: int = Field(2, description="operand digits of the arithmetic skills (mixed: 1)")
    min_rungs: int = Field(4, description="rungs before the fit may stop a climb")
    n_boot: int = Field(200, description="bootstrap replicates of the curve fit")
    hp: SFTHparams = Field(default_factory=SFTHparams, description="training hyperparameters")
    train_file: str | None = Field(None, description="TRL prompt/completion JSONL to draw rungs from (default: "
                                                     "the skill's own verified generator)")

    def evaluated(self) -> list[str]:
        """The skills evaluated at every rung: the climbed ones first, then the others."""
        return list(dict.fromkeys(self.skills + self.eval_skills))


def _skill(name: str, digits: int):
    from dataladder.skills import resolve_skills

    return resolve_skills([name], digits)[0]


def model_fingerprint(spec: str) -> str:
    """Identify a base model by content, so results are never reused across different weights."""
    from dataladder.models.hub import resolve_model

    path = Path(resolve_model(spec))
    if not path.is_dir():
        return spec
    h = hashlib.sha256()
    for f in sorted(path.glob("*.json")) + sorted(path.glob("*.safetensors")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class Context:
    """What every rung of one base model shares, prepared once: model, tokenizer, eval items, pools."""

    spec: str
    fingerprint: str
    model: object
    tokenizer: object
    eval_sets: dict  # skill name → (Skill, items)
    pools: dict  # (skill, seed) → tokenized rows
    on_train: Callable[[int, int], None] | None = None  # progress: (step, total steps)
    on_eval: Callable[[int], None] | None = None  # progress: items scored

    def pool(self, cfg: ClimbConfig, skill: str, seed: int) -> list[dict]:
        """Tokenized training rows for (skill, seed); a rung of size n takes the first n (nested)."""
        if (skill, seed) not in self.pools:
            if cfg.train_file:
                records = file_pool(cfg, skill, seed)
            else:
                sk = _skill(skill, cfg.digits)
                fmt = sk.formats[cfg.target_format]
                items = sk.items("train", cfg.max_examples, 1000 + seed)
                bad = [it.key for it in items if not sk.score(fmt.completion(it), it).ok]
                if bad:  # grounding: every template item must pass the skill's own verifier
                    raise ValueError(f"skill {skill}: {len(bad)} generated items fail verification, e.g. {bad[0]}")
                records = [{"prompt": fmt.prompt(it), "completion": fmt.completion(it)} for it in items]
            self.pools[(skill, seed)] = tokenize_records(self.tokenizer, records)
        return self.pools[(skill, seed)]


def file_pool(cfg: ClimbConfig, skill: str, seed: int) -> list[dict]:
    """The train file's records for `skill`, minus any whose prompt is an eval prompt, shuffled by seed."""
    import random

    from dataladder.errors import InputError

    sk = _skill(skill, cfg.digits)
    eval_prompts = {f.prompt(it) for it in sk.items("eval", cfg.eval_n, 0) for f in sk.formats.values()}
    records = []
    path = Path(cfg.train_file)
    with path.open(encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError as e:
                raise InputError(f"not valid JSON ({e.msg})", str(path), lineno) from None
            for field in ("prompt", "completion"):
                if not isinstance(rec.get(field), str):
                    raise InputError("missing or not a string", str(path), lineno, field)
            if rec.get("skill", skill) != skill or rec["prompt"] in eval_prompts:
                continue
            records.append({"prompt": rec["prompt"], "completion": rec["completion"]})
    random.Random(f"{path.name}:{seed}").shuffle(records)
    return records


def prepare(spec: str, cfg: ClimbConfig) -> Context:
    from dataladder.models.hub import load_model

    model, tok = load_model(spec)
    sets = {}
    for name in cfg.evaluated():
        sk = _skill(name, cfg.digits)
        sets[name] = (sk, sk.items("eval", cfg.eval_n, 0))
    return Context(spec, model_fingerprint(spec), model, tok, sets, {})


def _eval_model(model, ctx: Context) -> dict:
    out = {}
    for name, (sk, items) in ctx.eval_sets.items():
        res, _, _ = score_formats(model, ctx.tokenizer, sk, items, list(sk.formats), on_batch=ctx.on_eval)
        out[name] = {f: {"correct": r["correct"], "n": r["n"], "accuracy": r["accuracy"]} for f, r in res.items()}
    return out


def eval_config(ctx: Context, cfg: ClimbConfig) -> dict:
    return {"skills": cfg.evaluated(), "n": cfg.eval_n, "digits": cfg.digits, "seed": 0}


def run_base(ctx: Context, cfg: ClimbConfig, store: RunStore) -> dict:
    key = {"kind": "base-eval", "model": ctx.fingerprint, "eval": eval_config(ctx, cfg)}
    got = store.get(key)
    if got is None:
        got = store.put(key, {"model": ctx.spec, "eval": _eval_model(ctx.model, ctx)})
    return got


def rung_config(ctx: Context, cfg: ClimbConfig, skill: str, lora_r: int | None, n: int, seed: int) -> dict:
    return {"kind": "sft", "model": ctx.fingerprint, "skill": skill, "digits": cfg.digits,
            "target_format": cfg.target_format, "data": data_id(cfg), "method": cfg.method, "lora_r": lora_r,
            "n": n, "seed": seed,
            "hp": cfg.hp.model_dump(), "eval": eval_config(ctx, cfg)}


def data_id(cfg: ClimbConfig) -> str:
    if not cfg.train_file:
        return "template"
    return "file:" + hashlib.sha256(Path(cfg.train_file).read_bytes()).hexdigest()[:16]


def run_rung(ctx: Context, cfg: ClimbConfig, rc: dict) -> dict:
    """Train one rung (a pure function of `rc`) and evaluate every skill and format."""
    rows = ctx.pool(cfg, rc["skill"], rc["seed"])[: rc["n"]]
    model, stats = train_sft(ctx.model, ctx.tokenizer, rows, rc["method"], rc["lora_r"], cfg.hp, rc["seed"],
                             on_step=ctx.on_train)
    t0 = time.perf_counter()
    ev = _eval_model(model, ctx)
    return {"model": ctx.spec, "train": stats, "eval": ev, "eval_seconds": time.perf_counter() - t0}


def _forgetting(rung_evals: list[dict], base: dict, skill: str, target_format: str) -> dict:
    """Mean change (over seeds) of every other skill/format against the base model."""
    out = {}
    for name, fmts in base.items():
        for f, b in fmts.items():
            if name == skill and f == target_format:
                continue
            acc = sum(e[name][f]["accuracy"] for e in rung_evals) / len(rung_evals)
            out[f"{name}/{f}"] = acc - b["accuracy"]
    return out


def climb_arm(ctx: Context, cfg: ClimbConfig, store: RunStore, skill: str, lora_r: int | None, executor,
              on_rung: Callable[[str], None] | None = None) -> dict:
    base = run_base(ctx, cfg, store)["eval"]
    tf = cfg.target_format
    b = base[skill][tf] if skill in base else None
    base_score = RungScore(0, b["correct"], b["n"]) if b else RungScore(0, 0, 1)
    per_format = {f: r for f, r in base.get(skill, {}).items()}
    diagnosis, _ = diagnose(per_format, tf, 0.8, 0.15) if per_format else ("missing", None)
    min_examples = min(DATA_BANDS[diagnosis]["low"], cfg.max_examples // 4)
    label = "full" if lora_r is None else f"lora r={lora_r}"
    rungs, scores, points = [], [], []
    n, t0, fit, decision = min(cfg.start, len(ctx.pool(cfg, skill, 0))), time.perf_counter(), None, None
    while True:
        configs = [rung_config(ctx, cfg, skill, lora_r, n, s) for s in range(cfg.seeds)]

        def one(rc: dict) -> dict:
            got = store.get(rc)
            return got if got is not None else store.put(rc, run_rung(ctx, cfg, rc))

        results = executor.map(one, configs)
        evals = [r["eval"] for r in results]
        correct = sum(e[skill][tf]["correct"] for e in evals)
        total = sum(e[skill][tf]["n"] for e in evals)
        lo, hi = wilson(correct, total)
        forget = _forgetting(evals, base, skill, tf)
        rungs.append({
            "n": n, "accuracy": correct / total, "ci_low": lo, "ci_high": hi, "correct": correct, "total": total,
            "seeds": [{"seed": rc["seed"], "accuracy": e[skill][tf]["accuracy"]} for rc, e in zip(configs, evals)],
            "forgetting": forget, "mean_forgetting": sum(forget.values()) / max(1, len(forget)),
            "worst_forgetting": min(forget.values()) if forget else 0.0,
            "train_seconds": sum(r["train"]["seconds"] for r in results),
            "eval_seconds": sum(r["eval_seconds"] for r in results),
            "flops": sum(r["train"]["flops"] for r in results),
            "train_loss": [r["train"]["train_loss"] for r in results],
            "run_dirs": [str(store.path(rc).relative_to(store.root)) for rc in configs],
        })
        scores.append(RungScore(n, correct, total))
        points += [(n, e[skill][tf]["correct"], e[skill][tf]["n"]) for e in evals]
        fit = fit_curve(points, cfg.target, cfg.n_boot, seed=len(rungs)) if len(rungs) >= 3 else None
        nxt = next_size(n, cfg.growth)
        max_examples = min(cfg.max_examples, len(ctx.pool(cfg, skill, 0)))
        time_left = (cfg.max_minutes * 60 - (time.perf_counter() - t0)) if cfg.max_minutes else math.inf
        decision = decide(scores, base_score, fit, cfg.target, nxt, max_examples, time_left, cfg.delta,
                          cfg.min_rungs, min_examples)
        if on_rung:
            on_rung(f"{skill} {label} n={n}: {correct / total:.3f} [{lo:.3f}, {hi:.3f}]"
                    + (f" → stop: {decision.reason}" if decision.stop else ""))
        if decision.stop:
            break
        n = nxt
    hit = reached_at(scores, cfg.target)
    return {"model": ctx.spec, "skill": skill, "method": cfg.method, "lora_r": lora_r, "label": label,
            "diagnosis": diagnosis, "min_examples": min_examples,
            "base": {"accuracy": base_score.accuracy, "correct": base_score.correct, "total": base_score.total},
            "rungs": rungs, "fit": summarize_fit(fit, rungs[-1]["n"], cfg), "stop": {"reason": decision.reason, **decision.detail},
            "reached_at": scores[hit].n if hit is not None else None}


def summarize_fit(fit, n_last: int, cfg: ClimbConfig) -> dict | None:
    if fit is None:
        return None
    lo, med, hi = fit.n_target_interval(0.8)
    gain = fit.gain_next_doubling(n_last)
    q = fit.quantiles([0.1, 0.5, 0.9])
    keep = [i for i in range(0, len(N_GRID), 20)]
    fin = lambda v: None if not math.isfinite(v) else v  # noqa: E731
    return {
        "weights": fit.weights, "params": fit.params, "bootstrap": fit.n_boot, "failed_fits": fit.failed,
        "n_target": {"median": fin(med), "lo80": fin(lo), "hi80": fin(hi)},
        "p_reachable": fit.p_reachable(), "p_reach_within_budget": fit.p_reachable(cfg.max_examples),
        "gain_next_doubling": {"mean": float(gain.mean()), "lo80": float(_q(gain, 0.1)), "hi80": float(_q(gain, 0.9))},
        "curve": {"n": [float(N_GRID[i]) for i in keep], "median": [float(q[1][i]) for i in keep],
                  "lo80": [float(q[0][i]) for i in keep], "hi80": [float(q[2][i]) for i in keep]},
    }


def _q(a, p):
    import numpy as np

    return np.quantile(a, p)


def recommend(arms: list[dict], target: float) -> list[dict]:
    """Per (model, skill): the smallest data and lowest LoRA rank (or full) that reached the target."""
    out = []
    groups: dict[tuple, list[dict]] = {}
    for a in arms:
        groups.setdefault((a["model"], a["skill"]), []).append(a)
    for (model, skill), group in groups.items():
        reached = [a for a in group if a["reached_at"] is not None]
        evidence = {"rungs": sum(len(a["rungs"]) for a in group),
                    "runs": sum(len(a["rungs"][0]["seeds"]) * len(a["rungs"]) for a in group),
                    "examples_trained": sum(r["n"] * len(r["seeds"]) for a in group for r in a["rungs"]),
                    "train_flops": sum(r["flops"] for a in group for r in a["rungs"]),
                    "seconds": sum(r["train_seconds"] + r["eval_seconds"] for a in group for r in a["rungs"])}
        if reached:
            # lowest rank first (full fine-tuning counts as the highest), then least data
            best = min(reached, key=lambda a: (a["lora_r"] if a["lora_r"] is not None else math.inf, a["reached_at"]))
            rung = next(r for r in best["rungs"] if r["n"] == best["reached_at"])
            verdict = "reached"
        else:
            best = max(group, key=lambda a: (a["fit"] or {}).get("p_reachable", 0) if a["fit"] else a["rungs"][-1]["accuracy"])
            rung = best["rungs"][-1]
            verdict = "not reached"
        fit = best["fit"] or {}
        out.append({
            "model": model, "skill": skill, "target": target, "verdict": verdict, "stop_reason": best["stop"]["reason"],
            "n": best["reached_at"], "method": best["method"], "lora_r": best["lora_r"], "arm": best["label"],
            "accuracy": rung["accuracy"], "ci_low": rung["ci_low"], "ci_high": rung["ci_high"],
            "predicted_n": fit.get("n_target"), "p_reachable": fit.get("p_reachable"),
            "p_reach_within_budget": fit.get("p_reach_within_budget"),
            "forgetting": {"mean": rung["mean_forgetting"], "worst": rung["worst_forgetting"]},
            "evidence": evidence, "diagnosis": best["diagnosis"],
        })
    return out


def climb(cfg: ClimbConfig, output_dir: Path, executor=None, on_rung: Callable[[str], None] | None = None,
          on_train: Callable[[int, int], None] | None = None, on_eval: Callable[[int], None] | None = None) -> dict:
    """Run every arm of `cfg` into `output_dir`; returns the ladder.json document (also written)."""
    from dataladder.executors.local import LocalExecutor

    executor = executor or LocalExecutor()
    store = RunStore(output_dir)
    arms = []
    t0 = time.perf_counter()
    ranks = cfg.lora_ranks if cfg.method == "lora" else [None]
    for spec in cfg.models:
        ctx = prepare(spec, cfg)
        ctx.on_train, ctx.on_eval = on_train, on_eval
        for skill in cfg.skills:
            for r in ranks:
                arms.append(climb_arm(ctx, cfg, store, skill, r, executor, on_rung))
    doc = {"config": cfg.model_dump(), "arms": arms, "recommendations": recommend(arms, cfg.target),
           "seconds": time.perf_counter() - t0, "executor": getattr(executor, "name", "local")}
    output_dir.mkdir(parents=True, exist_ok=True)
    tmp = output_dir / "ladder.json.tmp"
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(output_dir / "ladder.json")
    from dataladder.ladder.plot import plot_ladder

    plot_ladder(doc, output_dir / "ladder.png")
    return doc
