"""`dataladder dpo`: the policy trained by DPO on a ladder of verified preference-pair counts.

    dataladder dpo --skill add                       # tiny-arith, add in its target (exam) format
    dataladder dpo --model ./my-model --skill tasks.jsonl:code --lora-r 8

Each rung trains the base model with TRL's DPOTrainer (`train.dpo`; full or LoRA) on the first n
pairs of one verified pool per seed (the pairs `prefs` builds: `data.pairs`, in the target format),
and is scored by the policy's greedy accuracy on the skill's eval items in the target format, with
the change in its other formats (forgetting). Fit, forecast, stop rule, budget, resume, executors
and the document are the ladder engine's (`ladder/engine.py`): this module is the `dpo` kind (its
worker side `prepare`/`run`, its `DPOLadder`) and the command's driver. Writes `dpo.json`, `dpo.png`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from pydantic import Field, model_validator

from dataladder.generate import PromptOptions
from dataladder.ladder.config import LadderConfig, format_of, skill_of
from dataladder.ladder.engine import Job, Ladder, train_stats
from dataladder.forecast.stop import RungScore
from dataladder.train.dpo import DPOHparams
from dataladder.train.tracking import ReportTo
from dataladder.ladder.schedule import first_rung_fits


class DPOConfig(PromptOptions, LadderConfig, extra="forbid"):
    model: str = Field("tiny-arith", description="base policy")
    skill: str = Field("add", description="skill whose answers the pairs judge and the policy is scored on")
    format: str | None = Field(None, description="prompt format of the pairs and the target (default: the skill's "
                                                 "target format: exam for arithmetic, a JSONL skill's first)")
    train_sources: list[str] = Field(default_factory=lambda: ["near-miss"],
                                     description="pair sources: near-miss (the skill's plausible wrong answer), self")
    target: float = Field(0.9, gt=0, le=1, description="greedy accuracy of the policy to reach in the format")
    start: int = Field(20, ge=1, description="pairs in the first rung")
    seeds: int = Field(2, ge=1, le=1000, description="training seeds per rung (each draws its own nested pairs)")
    max_pairs: int = Field(2560, ge=1, description="budget: most pairs in a rung")
    saturation_delta: float = Field(0.02, gt=0, le=1, description="saturation: 10× more pairs gains less than this")
    eval_n: int = Field(200, ge=1, le=1_000_000, description="eval items per format at every rung")
    lora_r: int | None = Field(None, ge=1, le=4096, description="LoRA rank, 1 to 4,096 (None: full fine-tuning)")
    temperature: float = Field(1.0, gt=0, le=100, description="sampling temperature of the `self` source")
    prompts_file: str | None = Field(None, description="more train prompts for a JSONL skill (its line format)")
    hp: DPOHparams = Field(default_factory=DPOHparams, description="DPO hyperparameters")
    report_to: ReportTo = Field("none", description="experiment tracking of every training run and rung: none, "
                                                    "tensorboard, wandb, mlflow or trackio (TRL's report_to)")

    @model_validator(mode="after")
    def _budget(self):
        return first_rung_fits(self, "start", "max_pairs")


def check_config(cfg: DPOConfig) -> None:
    """Fail before any work: the format, the sources, train items to make pairs of."""
    from dataladder.data.pairs import source_name
    from dataladder.core.registry import did_you_mean
    from dataladder.skills.base import no_train_items

    sk = skill_of(cfg)
    if format_of(cfg) not in sk.formats:
        raise ValueError("--format: " + did_you_mean(f"{sk.name} format", format_of(cfg), list(sk.formats)))
    if not sk.items("train", 1, 0):
        raise ValueError(no_train_items(sk))
    if not cfg.train_sources:
        raise ValueError("--train-sources: at least one source of pairs")
    if twice := next((s for i, s in enumerate(cfg.train_sources) if s in cfg.train_sources[:i]), None):
        raise ValueError(f"--train-sources: source {twice} is given twice; give each once")
    for s in cfg.train_sources:
        if s not in ("near-miss", "self"):
            raise ValueError(f"--train-sources {s}: dpo builds pairs from near-miss or self")
        source_name(s, None, None)
    if "temperature" in cfg.model_fields_set and "self" not in cfg.train_sources:  # the one sampled source
        raise ValueError(f"--temperature {cfg.temperature:g} with --train-sources {','.join(cfg.train_sources)}: they "
                         "contradict (the temperature is the self source's sampling); drop one")


class Context:
    """A worker's DPO context: base policy, generator, eval items, the seeds' pair pools."""

    def __init__(self, cfg: DPOConfig):
        from dataladder.generate.hf import HFGenerator
        from dataladder.models.hub import load_model

        from dataladder.evals.probe import eval_items

        self.cfg, self.skill, self.fmt = cfg, skill_of(cfg), format_of(cfg)
        self.items = eval_items(self.skill, cfg.eval_n, 0)  # up to eval_n items of each format
        if not self.items.get(self.fmt):
            raise ValueError(f"skill {cfg.skill}: no eval items in the {self.fmt} format; mark some \"split\": "
                             "\"eval\", or pick another --format")
        self.model, self.tok = load_model(cfg.model)
        self.gen = HFGenerator(self.model, self.tok, cfg.gen_options())
        self.pools: dict[int, list[dict]] = {}
        self.on_train: Callable[[int, int], None] | None = None  # the executor's progress hook (executors/contexts.py)

    def pool(self, seed: int) -> list[dict]:
        """The seed's verified pairs in the target format; a rung of n pairs takes the first n (nested)."""
        from dataladder.data.pairs import build_pairs

        if seed not in self.pools:
            c = self.cfg
            self.pools[seed] = build_pairs(self.skill, c.max_pairs, c.train_sources, seed=1000 + seed, model=self.model,
                                           tokenizer=self.tok, fmt=self.fmt, split="train", temperature=c.temperature)
        return self.pools[seed]

    def evaluate(self, model) -> dict:
        from dataladder.evals.probe import score_formats

        gen = self.gen if model is self.model else self.gen.with_model(model)
        res = score_formats(gen, self.skill, self.items, list(self.skill.formats))[0]
        return {f: {"correct": r["correct"], "n": r["n"], "accuracy": r["accuracy"]} for f, r in res.items()}


def prepare(spec: str, cfg: DPOConfig) -> Context:
    return Context(cfg)


def run(ctx: Context, job: Job) -> dict:
    """One run of the `dpo` kind: the base policy's eval (with the size of the pair pool), or one rung."""
    from dataladder.train.dpo import train_dpo

    rc = job.rc
    if rc["kind"] == "dpo-base":
        return {"eval": ctx.evaluate(ctx.model), "pool": len(ctx.pool(0))}
    pairs = ctx.pool(rc["seed"])[: rc["n"]]
    with job.tracked() as kw:
        model, stats = train_dpo(ctx.model, ctx.tok, pairs, ctx.cfg.hp, rc["lora_r"], rc["seed"], on_step=ctx.on_train,
                                 tracking=kw, policy=ctx.gen.policy)
    t0 = time.perf_counter()
    return {"train": stats, "eval": ctx.evaluate(model), "eval_seconds": time.perf_counter() - t0}


def data_config(cfg: DPOConfig) -> dict:
    from dataladder.models.hub import model_fingerprint
    from dataladder.skills.spec import skill_key

    out = {"model": model_fingerprint(cfg.model), "skill": skill_key(cfg.skill, cfg.prompts_file),
           "format": format_of(cfg), "sources": cfg.train_sources, "max_pairs": cfg.max_pairs,
           "temperature": cfg.temperature, "eval_n": cfg.eval_n}
    if (prompts := cfg.prompt_key()) is not None:
        out["prompts"] = prompts
    return out


class DPOLadder(Ladder):
    """The policy's accuracy against DPO pairs (the `dpo` kind)."""

    kind, unit = "dpo", "pairs"

    def __init__(self, cfg: DPOConfig, base_eval: dict, pool: int, on_rung: Callable[[str], None] | None = None):
        self.data, self.fmt, self.base_eval = data_config(cfg), format_of(cfg), base_eval
        b = base_eval[self.fmt]
        rule = cfg.rule(target=cfg.target, start=cfg.start, budget=cfg.max_pairs, saturation_delta=cfg.saturation_delta,
                        available=pool)  # a short pool ends the ladder as data-exhausted, not budget-exhausted
        label = f"DPO {'full' if cfg.lora_r is None else f'lora r={cfg.lora_r}'}"
        super().__init__(label, cfg.model, cfg, rule, RungScore(0, b["correct"], b["n"]), on_rung)

    @property
    def name(self) -> str:
        return f"{Path(self.cfg.skill).name}-dpo-" + ("full" if self.cfg.lora_r is None else f"lora-r{self.cfg.lora_r}")

    def configs(self, n: int) -> list[dict]:
        c = self.cfg
        return [{"kind": "dpo", "data": self.data, "n": n, "seed": s, "lora_r": c.lora_r, "hp": c.hp.model_dump()}
                for s in range(c.seeds)]

    def score(self, rc: dict, result: dict) -> tuple[int, int]:
        r = result["eval"][self.fmt]
        return r["correct"], r["n"]

    def extra(self, rcs: list[dict], results: list[dict]) -> dict:
        forget = {f: sum(r["eval"][f]["accuracy"] for r in results) / len(results) - b["accuracy"]
                  for f, b in self.base_eval.items() if f != self.fmt}
        return {"forgetting": forget, "worst_forgetting": min(forget.values()) if forget else None,
                "preference_accuracy": [r["train"].get("reward_accuracy") for r in results],
                **train_stats(results)}

    def line(self, rung: dict) -> str:
        return f"{self.cfg.skill} {super().line(rung).replace(':', ' pairs:', 1)}"


def dpo(cfg: DPOConfig, output_dir: Path, on_rung: Callable[[str], None] | None = None,
        on_train: Callable[[int, int], None] | None = None,
        on_eval: Callable[[int], None] | None = None, executor=None) -> dict:
    """Climb the DPO pair-count ladder into `output_dir`; returns the dpo.json document (also written)."""
    from dataladder.ladder.driver import drive
    from dataladder.train.sizing import resolve_cfg

    check_config(cfg)
    cfg = resolve_cfg(cfg, "dpo")  # defaults by the base model's size (train/sizing.py)
    return drive(output_dir, [Job("dpo", cfg.model, cfg, {"kind": "dpo-base", "data": data_config(cfg)})],
                 ladders=lambda d: [DPOLadder(cfg, d.base["eval"], d.base["pool"], on_rung)],
                 describe=lambda d: {**d.body(cfg), "format": d.ladder.fmt, "base_formats": d.base["eval"],
                                     "metric": f"greedy accuracy of the DPO policy ({d.ladder.fmt} format)"},
                 document="dpo.json", plot=plot_dpo, executor=executor, on_train=on_train, on_eval=on_eval,
                 report_to=cfg.report_to)


def plot_dpo(doc: dict, path: Path) -> None:
    from dataladder.core.plot import log_axes, pyplot, save
    from dataladder.ladder.plot import draw_ladder

    fig, ax = pyplot().subplots(figsize=(6.5, 4.4))
    draw_ladder(ax, doc, "C0", doc["label"])
    ax.axhline(doc["base"]["accuracy"], color="gray", lw=1, label=f"base policy {doc['base']['accuracy']:.2f}")
    ax.axhline(doc["config"]["target"], color="k", ls="--", lw=1, label=f"target {doc['config']['target']:g}")
    log_axes(ax, "preference pairs (log scale)", f"greedy accuracy ({doc['format']} format)",
             f"DPO on {doc['skill']}: {Path(doc['model']).name}")
    save(fig, path)
