"""`dataladder prefs`: reward models on a ladder of pair counts, until more pairs stop paying.

For one base model and skill, rungs of start·growth^k preference pairs (nested prefixes of one
verified pool per seed, `data.pairs`) each train a reward model (`train.reward`); every rung is
scored on held-out pairs from a disjoint slice of the train partition: pairs from the training
sources (the fitted metric) and pairs from sources it never trained on, broken down by source
and by hard (near-miss) versus easy. The curve is fitted and the stop rule consulted exactly as in
`climb`; the saturation point is the count past which 10× more pairs gains less than δ, with an
interval from the forecaster (dataladder/forecast). Runs go through the run store, so a rerun resumes.
Writes `prefs.json`, `prefs.png` and `reward_model/` (the reward model of the reached or largest rung).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Callable

from dataladder.ladder.config import LadderConfig, skill_of
from pydantic import Field, model_validator

from dataladder.ladder.engine import Job, Ladder, train_stats
from dataladder.forecast.stop import RungScore
from dataladder.core.store import RunStore
from dataladder.core.stats import wilson
from dataladder.train.reward import RewardHparams
from dataladder.train.tracking import ReportTo
from dataladder.ladder.schedule import first_rung_fits


class PrefsConfig(LadderConfig, extra="forbid", allow_inf_nan=False):
    model: str = Field("tiny-arith", description="base model of the reward models (and the `self` source)")
    skill: str = Field("mul", description="skill whose answers are judged")
    format: str | None = Field(None, description="prompt format of the pairs (default: the skill's native one)")
    train_sources: list[str] = Field(default_factory=lambda: ["near-miss"],
                                     description="pair sources the reward models train on: self, near-miss, other, endpoint")
    heldout_sources: list[str] = Field(default_factory=lambda: ["self"],
                                       description="extra sources only evaluated (never trained on)")
    target: float = Field(0.9, gt=0, le=1, description="held-out pairwise accuracy to reach")
    start: int = Field(50, ge=1, description="pairs in the first rung")
    seeds: int = Field(2, ge=1, le=1000, description="training seeds per rung (each draws its own nested pairs)")
    max_pairs: int = Field(3200, ge=1, description="budget: most pairs in a rung")
    delta: float = Field(0.02, gt=0, le=1, description="smallest gain worth paying for: per doubling (stop rule) and per 10× (saturation)")
    heldout_n: int = Field(400, ge=1, le=1_000_000, description="held-out pairs per source")
    min_pairs: int = Field(1000, ge=0, description="pairs before the fit may stop the ladder (the prior: reward models "
                                             "improve over thousands of pairs); at most half the budget (the "
                                             "default is capped there)")
    hard_only: bool = Field(False, description="train on hard pairs (near misses) only")
    flip_share: float = Field(0.0, ge=0.0, le=1.0, description="share of training pairs with chosen and rejected swapped")
    lora_r: int | None = Field(None, ge=1, le=4096, description="LoRA rank, 1 to 4,096 (None: full fine-tuning)")
    temperature: float = Field(1.0, gt=0, le=100, description="sampling temperature of the model sources")
    other_model: str | None = Field(None, description="local causal LM for the `other` source")
    endpoint_url: str | None = Field(None, description="OpenAI-compatible server for the `endpoint` source")
    endpoint_model: str | None = Field(None, description="model name on that server")
    prompts_file: str | None = Field(None, description="more train prompts for a JSONL skill (its line format; "
                                                       "the completion optional given 'answer' or a verifier needing neither)")
    hp: RewardHparams = Field(default_factory=RewardHparams, description="reward-model hyperparameters")
    report_to: ReportTo = Field("none", description="experiment tracking of every training run and rung: none, tensorboard, "
                                               "wandb, mlflow or trackio (TRL's report_to)")

    @model_validator(mode="after")
    def _budget(self):
        return first_rung_fits(self, "start", "max_pairs")


def _endpoint(cfg: PrefsConfig):
    if not cfg.endpoint_url:
        return None
    from dataladder.generate import GenOptions, make_generator

    if not cfg.endpoint_model:
        raise ValueError("--endpoint-url needs --endpoint-model")
    return make_generator(GenOptions(backend="endpoint", endpoint_url=cfg.endpoint_url, endpoint_model=cfg.endpoint_model))


def check_config(cfg: PrefsConfig) -> None:
    """Fail before any work on sources that cannot be built or overlap."""
    from dataladder.data.pairs import source_name
    from dataladder.core.registry import did_you_mean
    from dataladder.skills.base import no_train_items

    if "min_pairs" in cfg.model_fields_set and cfg.min_pairs > cfg.max_pairs / 2:  # given; the default is capped there
        raise ValueError(f"min_pairs (--min-pairs) {cfg.min_pairs} is more than half the budget (--budget "
                         f"{cfg.max_pairs}): the fit could never stop the ladder; lower it to at most "
                         f"{cfg.max_pairs // 2}")
    sk = skill_of(cfg)
    if cfg.format is not None and cfg.format not in sk.formats:
        raise ValueError("--format: " + did_you_mean(f"{sk.name} format", cfg.format, list(sk.formats)))
    if not sk.items("train", 1, 0):
        raise ValueError(no_train_items(sk))
    from dataladder.data.pairs import HELDOUT_SHARE, _items

    for split in ("train", "heldout"):
        if not _items(sk, split, 1, 0):
            n = len(sk.items("train", 1 << 30, 0))
            raise ValueError(f"skill {sk.name}: its {n} train items leave no {split} prompts for pairs (a hash puts "
                             f"{HELDOUT_SHARE:.0%} of the problems in held-out); add train items (--prompts-file, or "
                             "`split: train` lines)")
    if not cfg.train_sources:
        raise ValueError("--train-sources: at least one source to train on")
    for opt, sources in (("--train-sources", cfg.train_sources), ("--heldout-sources", cfg.heldout_sources)):
        if twice := next((s for i, s in enumerate(sources) if s in sources[:i]), None):
            raise ValueError(f"{opt}: source {twice} is given twice; give each once")
    overlap = set(cfg.train_sources) & set(cfg.heldout_sources)
    if overlap:
        raise ValueError(f"--heldout-sources {', '.join(sorted(overlap))}: also a training source; held-out sources "
                         "must be unseen")
    for opt, source, value in (("--other-model", "other", cfg.other_model), ("--endpoint-url", "endpoint", cfg.endpoint_url),
                               ("--endpoint-model", "endpoint", cfg.endpoint_model)):
        if value and source not in (*cfg.train_sources, *cfg.heldout_sources):  # given, and nothing would use it
            raise ValueError(f"{opt} {value} with --train-sources {','.join(cfg.train_sources)} and --heldout-sources "
                             f"{','.join(cfg.heldout_sources) or repr('')}: they contradict ({opt} is for the {source} "
                             f"pair source, which neither names); add {source} to one, or drop {opt}")
    ep = _endpoint(cfg)
    for opt, sources in (("--train-sources", cfg.train_sources), ("--heldout-sources", cfg.heldout_sources)):
        for s in sources:
            try:
                source_name(s, cfg.other_model, ep)
            except ValueError as e:
                raise ValueError(f"{opt}: {e}") from None
    if cfg.other_model and not Path(cfg.other_model).exists():
        raise ValueError(f"--other-model {cfg.other_model}: no such directory")


class Context:
    """What every rung shares, prepared once: base model, held-out pairs, training pools."""

    def __init__(self, cfg: PrefsConfig):
        from dataladder.data.pairs import build_pairs
        from dataladder.models.hub import load_model
        from dataladder.skills.spec import train_skill

        self.cfg = cfg
        self.skill = train_skill(cfg.skill, cfg.prompts_file)
        self.model, self.tok = load_model(cfg.model)
        self.endpoint = _endpoint(cfg)
        self._other = None
        self._pools: dict[int, list[dict]] = {}
        common = dict(model=self.model, tokenizer=self.tok, endpoint=self.endpoint, fmt=cfg.format,
                      temperature=cfg.temperature)
        self.heldout = build_pairs(self.skill, cfg.heldout_n * len(cfg.train_sources), cfg.train_sources, seed=0,
                                   other_model=self.other(), split="heldout", **common)
        self.unseen = build_pairs(self.skill, cfg.heldout_n * len(cfg.heldout_sources), cfg.heldout_sources, seed=0,
                                  other_model=self.other(), split="heldout", **common) if cfg.heldout_sources else []
        self.common = common
        self.on_train: Callable[[int, int], None] | None = None

    def other(self):
        if self.cfg.other_model and self._other is None:
            from dataladder.models.hub import load_model

            self._other = load_model(self.cfg.other_model)
        return self._other

    def pool(self, seed: int) -> list[dict]:
        """The seed's training pairs; a rung of n pairs takes the first n (nested)."""
        from dataladder.data.pairs import build_pairs

        if seed not in self._pools:
            cfg = self.cfg
            self._pools[seed] = build_pairs(self.skill, cfg.max_pairs, cfg.train_sources, seed=1000 + seed,
                                            other_model=self.other(), hard_only=cfg.hard_only,
                                            flip_share=cfg.flip_share, split="train", **self.common)
        return self._pools[seed]


def data_config(cfg: PrefsConfig) -> dict:
    """What the pairs are made of: every run's config holds it (another model or source, other runs)."""
    from dataladder.models.hub import model_fingerprint
    from dataladder.skills.spec import skill_key

    c = cfg
    return {"model": model_fingerprint(c.model), "other": model_fingerprint(c.other_model) if c.other_model else None,
            "endpoint": [c.endpoint_url, c.endpoint_model] if c.endpoint_url else None,
            "skill": skill_key(c.skill, c.prompts_file),
            "format": c.format, "train_sources": c.train_sources,
            "heldout_sources": c.heldout_sources, "heldout_n": c.heldout_n, "max_pairs": c.max_pairs,
            "hard_only": c.hard_only, "flip_share": c.flip_share, "temperature": c.temperature}


BASE_HEADS = 16  # fresh score heads the untrained reward model is averaged over (train/reward.head_margins)


def evaluate(rm, ctx: Context, heads: int | None = None) -> dict:
    """Held-out pairwise accuracy: the training sources' pairs (fitted), per source, and hard/easy. `heads`: the
    untrained model, averaged over that many fresh score heads (`accuracy_over_heads`)."""
    from dataladder.train.reward import accuracy_of, accuracy_over_heads, head_margins

    pairs = ctx.heldout + ctx.unseen
    cols = head_margins(rm, ctx.tok, pairs, heads)

    def score(idx: list[int]) -> dict:
        part = [[c[i] for i in idx] for c in cols]
        return accuracy_over_heads(part) if heads else accuracy_of(part[0])

    by_source: dict[str, list[int]] = {}
    by_hard: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by_source.setdefault(p["source"], []).append(i)
        by_hard.setdefault("hard" if p["hard"] else "easy", []).append(i)
    seen = list(range(len(ctx.heldout)))
    return {"heldout": score(seen),
            "unseen": score(list(range(len(ctx.heldout), len(pairs)))) if ctx.unseen else None,
            "by_source": {k: score(v) for k, v in by_source.items()},
            "by_hardness": {k: score(v) for k, v in by_hard.items()}}


def base_config(cfg: PrefsConfig) -> dict:
    return {"kind": "reward-base", "data": data_config(cfg), "v": 3, "heads": BASE_HEADS}


def heldout_summary(ctx: Context) -> dict:
    both = ctx.heldout + ctx.unseen
    return {"train_sources": sorted({p["source"] for p in ctx.heldout}),
            "unseen_sources": sorted({p["source"] for p in ctx.unseen}),
            "pairs": {s: sum(p["source"] == s for p in both) for s in sorted({p["source"] for p in both})},
            "hard": sum(p["hard"] for p in both)}


def prepare(spec: str, cfg: PrefsConfig) -> Context:
    """The engine's worker context (`ladder/engine.py`): base model, held-out pairs, pools."""
    return Context(cfg)


def run(ctx: Context, job) -> dict:
    """One run of the `reward` kind: the untrained reward model (the base with a fresh score head, the
    curve's starting point, with what the ladder needs to know of the data), or one rung."""
    from dataladder.train.reward import reward_model_from

    if job.rc["kind"] == "reward-base":
        return {"eval": evaluate(reward_model_from(ctx.model, ctx.tok, 0), ctx, heads=job.rc["heads"]),
                "heldout": heldout_summary(ctx),
                "pool": len(ctx.pool(0))}
    with job.tracked() as kw:
        return run_rung(ctx, RunStore(job.root), job.rc, kw)


def rung_config(cfg: PrefsConfig, data: dict, n: int, seed: int) -> dict:
    return {"kind": "reward", "data": data, "n": n, "seed": seed, "lora_r": cfg.lora_r, "hp": cfg.hp.model_dump()}


def run_rung(ctx: Context, store: RunStore, rc: dict, tracking: dict | None = None) -> dict:
    """Train one reward model (a pure function of `rc`), evaluate it, keep it in its run directory."""
    from dataladder.train.reward import save_reward_model, train_reward

    pairs = ctx.pool(rc["seed"])[: rc["n"]]
    rm, stats = train_reward(ctx.model, ctx.tok, pairs, ctx.cfg.hp, ctx.cfg.lora_r, rc["seed"], on_step=ctx.on_train,
                             tracking=tracking)
    t0 = time.perf_counter()
    ev = evaluate(rm, ctx)
    run_dir = store.path(rc)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_reward_model(rm, ctx.tok, run_dir / "reward_model")
    sources: dict[str, int] = {}
    for p in pairs:
        sources[p["source"]] = sources.get(p["source"], 0) + 1
    return {"train": stats, "eval": ev, "eval_seconds": time.perf_counter() - t0,
            "pairs": {"n": len(pairs), "by_source": sources, "hard": sum(p["hard"] for p in pairs),
                      "flipped": sum(p["flipped"] for p in pairs)}}


def _pool_acc(accs: list[dict]) -> dict:
    correct, n = sum(a["correct"] for a in accs), sum(a["n"] for a in accs)
    lo, hi = wilson(correct, n)
    return {"correct": correct, "n": n, "accuracy": correct / n if n else 0.0, "ci_low": lo, "ci_high": hi,
            "margin": sum(a["margin"] * a["n"] for a in accs) / n if n else 0.0}


class RewardLadder(Ladder):
    """Reward models on a ladder of preference-pair counts (the `reward` kind)."""

    kind, unit = "reward", "pairs"

    def __init__(self, cfg: PrefsConfig, base: RungScore, pool: int, on_rung=None):
        self.data = data_config(cfg)
        available = min(cfg.max_pairs, pool)
        rule = cfg.rule(target=cfg.target, start=cfg.start, budget=cfg.max_pairs, available=pool,
                        min_size=min(cfg.min_pairs, available // 2), saturation_delta=cfg.delta)
        super().__init__(f"reward model: {cfg.skill}", cfg.model, cfg, rule, base, on_rung)

    def configs(self, n: int) -> list[dict]:
        return [rung_config(self.cfg, self.data, n, s) for s in range(self.cfg.seeds)]

    def score(self, rc: dict, result: dict) -> tuple[int, int]:
        h = result["eval"]["heldout"]
        return h["correct"], h["n"]

    def extra(self, rcs: list[dict], results: list[dict]) -> dict:
        evals = [r["eval"] for r in results]
        sources = sorted({k for e in evals for k in e["by_source"]})
        hardness = sorted({k for e in evals for k in e["by_hardness"]})
        return {"margin": _pool_acc([e["heldout"] for e in evals])["margin"],
                "seed_margins": [e["heldout"]["margin"] for e in evals],
                "unseen": _pool_acc([e["unseen"] for e in evals]) if evals[0]["unseen"] else None,
                "by_source": {s: _pool_acc([e["by_source"][s] for e in evals if s in e["by_source"]]) for s in sources},
                "by_hardness": {h: _pool_acc([e["by_hardness"][h] for e in evals if h in e["by_hardness"]])
                                for h in hardness},
                "train_pairs": [r["pairs"] for r in results],
                **train_stats(results)}

    def adjust(self, decision):
        """Saturation is what prefs measures: an unreachable target stops the ladder only once the saturation
        point lies within the measured rungs (else the budget decides)."""
        if decision.reason == "unreachable-within-budget" and self.next_size(self.n) <= min(self.rule.budget,
                                                                                             self.rule.available):
            sat = self.saturation()
            decision.detail["p_saturated_by_largest_rung"] = sat["p_saturated_by_largest_rung"]
            if sat["p_saturated_by_largest_rung"] < 0.8 and not self._out_of_time():
                return type(decision)(False, None, decision.detail)
        return decision

    def _out_of_time(self) -> bool:
        return bool(self.rule.max_minutes) and self.seconds >= self.rule.max_minutes * 60

    def line(self, rung: dict) -> str:
        extra = "".join(f"  {s}: {a['accuracy']:.3f}" for s, a in rung["by_source"].items())
        return (f"{self.cfg.skill} n={rung['n']:,} pairs: held-out {rung['accuracy']:.3f} "
                f"[{rung['ci_low']:.3f}, {rung['ci_high']:.3f}] margin {rung['margin']:+.2f};{extra}")


def prefs(cfg: PrefsConfig, output_dir: Path, on_rung: Callable[[str], None] | None = None,
          on_train: Callable[[int, int], None] | None = None,
          on_eval: Callable[[int], None] | None = None, executor=None) -> dict:
    """Climb the pair-count ladder into `output_dir`; returns the prefs.json document (also written)."""
    from dataladder.ladder.driver import drive
    from dataladder.train.sizing import resolve_cfg

    check_config(cfg)
    cfg = resolve_cfg(cfg, "reward")  # defaults by the base model's size (train/sizing.py)

    def ladder(d) -> list[RewardLadder]:
        b = d.base["eval"]["heldout"]
        return [RewardLadder(cfg, RungScore(0, b["correct"], b["n"]), d.base["pool"], on_rung)]

    return drive(output_dir, [Job("reward", cfg.model, cfg, base_config(cfg))], ladders=ladder, report_to=cfg.report_to,
                 describe=lambda d: {**d.body(cfg), "metric": "held-out pairwise accuracy",
                                     "base": d.base["eval"]["heldout"], "base_unseen": d.base["eval"]["unseen"],
                                     "heldout": d.base["heldout"]},
                 after=lambda doc, d: {"reward_model": keep_reward_model(cfg, d.store, doc, output_dir, d.executor)},
                 document="prefs.json", plot=plot_prefs, executor=executor, on_train=on_train, on_eval=on_eval)


def _link_or_copy(src: str, dst: str) -> None:
    """A hard link to `src` (the run store's file is never written in place: a rerun replaces the directory whole),
    else a copy (another file system)."""
    import os

    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def keep_reward_model(cfg: PrefsConfig, store: RunStore, doc: dict, output_dir: Path, executor) -> dict:
    """Link seed 0's reward model of the reached (else largest) rung to `output_dir/reward_model`;
    drop the other runs' model copies (their results stay). A pruned one is retrained (deterministic)."""
    n = doc["reached_at"] or doc["rungs"][-1]["n"]
    rc = rung_config(cfg, data_config(cfg), n, 0)
    src = store.path(rc) / "reward_model"
    if not (src / "config.json").is_file():  # the run writes its model into its run directory again
        list(executor.run([Job("reward", cfg.model, cfg, rc, root=str(store.root))]))
    dst = output_dir / "reward_model"
    tmp = output_dir / "reward_model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, copy_function=_link_or_copy)  # hard links: one copy of the weights on disk, not two
    c = cfg  # what `dataladder rl --reward-model` needs to prompt it as it was trained
    (tmp / "dataladder.json").unlink(missing_ok=True)  # never write through a link into the run store
    (tmp / "dataladder.json").write_text(json.dumps({"skill": c.skill, "format": c.format,
                                                     "pairs": n, "seed": 0}))
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    for r in doc["rungs"]:
        for d in r["run_dirs"]:
            if store.root / d != store.path(rc):
                shutil.rmtree(store.root / d / "reward_model", ignore_errors=True)
    rung = next(r for r in doc["rungs"] if r["n"] == n)
    return {"path": str(dst), "pairs": n, "seed": 0, "accuracy": rung["seeds"][0]["accuracy"],
            "margin": rung["seed_margins"][0]}


def plot_prefs(doc: dict, path: Path) -> None:
    """prefs.png: held-out pairwise accuracy against pairs, fit band, per-source lines, saturation."""
    from dataladder.core.plot import log_axes, pyplot, save
    from dataladder.ladder.plot import draw_ladder

    fig, ax = pyplot().subplots(figsize=(6.5, 4.4))
    lad = doc["rungs"]
    ns = [r["n"] for r in lad]
    draw_ladder(ax, doc, "C0", f"held-out, training sources ({', '.join(doc['heldout']['train_sources'])})", extend=20)
    for i, s in enumerate(doc["heldout"]["unseen_sources"]):
        ys = [r["by_source"].get(s, {}).get("accuracy") for r in lad]
        ax.plot(ns, ys, "s--", color=f"C{i + 1}", ms=4, label=f"unseen source {s}")
    sat = doc.get("saturation")
    if sat and sat["median"]:
        ax.axvline(sat["median"], color="C3", ls=":", lw=1.2,
                   label=f"saturation (10× gains < {sat['delta']:g}): {sat['median']:,.0f}")
        if sat["lo80"] and sat["hi80"]:
            ax.axvspan(sat["lo80"], sat["hi80"], color="C3", alpha=0.07)
    ax.axhline(doc["config"]["target"], color="k", ls="--", lw=1, label=f"target {doc['config']['target']:g}")
    ax.axhline(0.5, color="gray", ls="-", lw=0.6)
    log_axes(ax, "preference pairs (log scale)", "held-out pairwise accuracy",
             f"reward model for {doc['skill']} on {Path(doc['model']).name}", ylim=(0.3, 1.02))
    save(fig, path)
