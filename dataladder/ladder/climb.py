"""`dataladder climb`: fine-tune on growing nested data until the stop rule says enough.

For each base model × skill × arm (full fine-tuning, or LoRA at each rank), rungs of
start·growth^k examples are trained for every seed, every skill and format is evaluated, the
learning curve is fitted and the stop rule consulted. Runs go through the run store, so a
rerun resumes. The driver writes `ladder.json` and `ladder.png`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Callable, Literal

from pydantic import Field, field_validator, model_validator

from dataladder.generate import PromptOptions
from dataladder.ladder.config import LadderConfig
from dataladder.ladder import soundness
from dataladder.ladder.engine import Job, Ladder, train_stats
from dataladder.forecast.stop import RungScore
from dataladder.core.store import RunStore, run_key
from dataladder.models.hub import model_fingerprint
from dataladder.evals.probe import DATA_BANDS, diagnose, eval_items, score_formats
from dataladder.train.sft import SFTHparams, tokenize_records, train_sft
from dataladder.train.sizing import resolve_for
from dataladder.train.tracking import ReportTo
from dataladder.ladder.schedule import first_rung_fits
from dataladder.ladder.climb_pool import check_sizes, file_pool, one_skill, pool_records
from dataladder.skills.arithmetic import ARITHMETIC


class ClimbConfig(PromptOptions, LadderConfig, extra="forbid"):
    models: list[str] = Field(default_factory=lambda: ["tiny-arith"], description="base models, compared side by side")
    skills: list[str] = Field(default_factory=lambda: ["add"], description="skills to climb")
    target: float = Field(0.9, gt=0, le=1, description="accuracy to reach in the target format")
    target_format: str | None = Field(None, description="prompt format of the target (default: each skill's own: "
                                                         "exam for arithmetic, a JSONL skill's first format)")
    method: Literal["full", "lora"] = Field("full", description="full fine-tuning or LoRA")
    lora_ranks: list[Annotated[int, Field(ge=1, le=4096)]] = Field(default_factory=lambda: [1, 4, 16],
                                                                  description="LoRA ranks (method lora), 1 to 4,096")
    start: int = Field(20, ge=1, description="examples in the first rung")
    seeds: int = Field(2, ge=1, le=1000, description="training seeds per rung (each draws its own nested data)")
    max_examples: int = Field(5120, ge=1, description="budget: most examples in a rung")
    max_minutes: float | None = Field(None, gt=0, description="budget: minutes of stored training and eval time per skill and arm (a resume counts finished runs)")
    eval_n: int = Field(200, ge=1, le=1_000_000, description="eval items per skill and format at every rung")
    eval_skills: list[str] | None = Field(None, description="skills evaluated at every rung besides the climbed ones "
                                                            "(forgetting); default: the built-in arithmetic skills when "
                                                            "a base is the shipped tiny-arith, else none")
    hp: SFTHparams = Field(default_factory=SFTHparams, description="training hyperparameters")
    report_to: ReportTo = Field("none", description="experiment tracking of every training run and rung: none, tensorboard, "
                                               "wandb, mlflow or trackio (TRL's report_to)")
    train_file: str | None = Field(None, description="training records to draw rungs from: messages, TRL "
                                                     "(conversational) prompt/completion, Alpaca or ShareGPT, in "
                                                     "JSONL, JSON or Parquet (default: the skill's own verified generator)")

    @model_validator(mode="after")
    def _budget(self):
        return first_rung_fits(self, "start", "max_examples")

    @field_validator("skills", "lora_ranks")
    @classmethod
    def _once_each(cls, v: list, info):
        if not v:
            raise ValueError(f"{info.field_name} is empty; give at least one")
        if dup := next((x for i, x in enumerate(v) if x in v[:i]), None):
            raise ValueError(f"{dup!r} is given twice in {info.field_name}")
        return v

    def format_for(self, skill: str) -> str:
        """The target format of a climbed skill: `target_format`, else the skill's own."""
        return self.target_format or one_skill(skill).target_format

    def evaluated(self) -> list[str]:
        """The skills evaluated at every rung: the climbed ones first, then the others (a JSONL file of several
        skills stands for each of them, as `file.jsonl:name`)."""
        from dataladder.skills.spec import jsonl_spec

        out = list(self.skills)
        for spec in self.eval_skills if self.eval_skills is not None else default_eval_skills(self.models):
            js = jsonl_spec(spec)
            if js is not None and js[1] is None:
                names = [s.name for s in _skills_of(spec)]
                out += [spec] if len(names) == 1 else [f"{spec}:{n}" for n in names]
            else:
                out.append(spec)
        return list(dict.fromkeys(out))




def default_eval_skills(models: list[str]) -> list[str]:
    """Arithmetic is the shipped model's world: evaluated by default only when a base model is tiny-arith."""
    return list(ARITHMETIC) if "tiny-arith" in models else []


def _skills_of(spec: str) -> list:
    from dataladder.skills import resolve_skills

    return resolve_skills([spec])


@dataclass
class Context:
    """What every rung of one base model shares, prepared once: model, tokenizer, generator, eval items, pools."""

    spec: str
    fingerprint: str
    model: object
    tokenizer: object
    gen: object  # the base model's Generator; a rung evaluates through gen.with_model(its weights)
    eval_sets: dict  # skill name → (Skill, items)
    pools: dict  # (skill, seed) → tokenized rows
    on_train: Callable[[int, int], None] | None = None  # progress: (step, total steps)
    on_eval: Callable[[int], None] | None = None  # progress: items scored
    base_eval: dict | None = None  # the base model's eval, kept when this context ran the base-eval job
    base_targets: dict = field(default_factory=dict)  # (skill, format) → (correct, n) of the base model

    def base_target(self, skill: str, fmt: str) -> tuple[int, int]:
        """The base model's (correct, n) on `skill` in `fmt`: from the base-eval run this context ran, else scored
        once here (a context that read the base eval from the store, or a Ray worker that did not run it)."""
        if fmt in (self.base_eval or {}).get(skill, {}):
            return self.base_eval[skill][fmt]["correct"], self.base_eval[skill][fmt]["n"]
        if (skill, fmt) not in self.base_targets:
            sk, items = self.eval_sets[skill]
            res, _, _ = score_formats(self.gen, sk, items, [fmt])
            self.base_targets[(skill, fmt)] = (res[fmt]["correct"], res[fmt]["n"]) if fmt in res else (0, 0)
        return self.base_targets[(skill, fmt)]

    def pool(self, cfg: ClimbConfig, skill: str, seed: int) -> list[dict]:
        """Tokenized training rows for (skill, seed); a rung of size n takes the first n (nested). Prompts are
        rendered by the generator's chat policy, so training sees the prompt tokens evaluation sees."""
        if (skill, seed) not in self.pools:
            self.pools[(skill, seed)] = tokenize_records(self.tokenizer, pool_records(cfg, skill, seed), self.gen.policy)
        return self.pools[(skill, seed)]


def prepare(spec: str, cfg: ClimbConfig) -> Context:
    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model

    sets = {}
    for name in cfg.evaluated():
        sk = one_skill(name)
        sets[name] = (sk, eval_items(sk, cfg.eval_n, 0))  # up to eval_n items of each format
        if name in cfg.skills and not sets[name][1].get(tf := cfg.format_for(name)):
            raise ValueError(f"skill {name}: no eval items in its target format {tf} (formats with eval items: "
                             f"{', '.join(f for f, its in sets[name][1].items() if its) or 'none'}); mark some "
                             f"{tf} items \"split\": \"eval\", or pick another --target-format")
    model, tok = load_model(spec)
    return Context(spec, model_fingerprint(spec), model, tok, HFGenerator(model, tok, cfg.gen_options()), sets, {})


def _eval_model(model, ctx: Context) -> tuple[dict, list[dict]]:
    """Every eval skill and format of `model`: (the scores by skill and format, the first few samples of each)."""
    out, kept = {}, []
    gen = ctx.gen if model is ctx.model else ctx.gen.with_model(model)
    for name, (sk, items) in ctx.eval_sets.items():
        res, samples, _ = score_formats(gen, sk, items, list(sk.formats), on_batch=ctx.on_eval)
        out[name] = {f: {"correct": r["correct"], "n": r["n"], "accuracy": r["accuracy"],
                         "lenient_correct": r["lenient"]["correct"]} for f, r in res.items()}
        kept += soundness.keep_samples([{**x, "skill": name} for x in samples])
    return out, kept


def eval_config(cfg: ClimbConfig) -> dict:
    from dataladder.skills.spec import jsonl_spec

    skills = cfg.evaluated()
    out = {"skills": skills, "n": cfg.eval_n, "seed": 0}
    files = {s: hashlib.sha256(js[0].read_bytes()).hexdigest()[:16] for s in skills if (js := jsonl_spec(s))}
    if files:  # a JSONL skill is its file's content: an edited item is another eval
        out["files"] = files
    if (prompts := cfg.prompt_key()) is not None:  # chat template, system prompt, stops: other prompts, other runs
        out["prompts"] = prompts
    return out


def base_config(fingerprint: str, cfg: ClimbConfig) -> dict:
    return {"kind": "base-eval", "model": fingerprint, "eval": eval_config(cfg)}


def rung_config(fingerprint: str, cfg: ClimbConfig, skill: str, lora_r: int | None, n: int, seed: int) -> dict:
    return {"kind": "sft", "model": fingerprint, "skill": skill,
            "target_format": cfg.format_for(skill), "data": data_id(cfg), "method": cfg.method, "lora_r": lora_r,
            "n": n, "seed": seed, "hp": cfg.hp.model_dump(), "eval": eval_config(cfg)}


def data_id(cfg: ClimbConfig) -> str:
    if not cfg.train_file:
        return "template"
    path = Path(cfg.train_file)  # the name seeds the rungs' shuffle, the content is the data: both are the run's
    return f"file:{path.name}:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def execute(ctx: Context, cfg: ClimbConfig, rc: dict, tracking: dict | None = None, run_dir: Path | None = None) -> dict:
    """One run, a pure function of `rc`: the base model's eval, or one rung trained and evaluated, and checked
    (`ladder/soundness.py`: a diverged or collapsed run is trained once more at a quarter of the learning rate,
    same seed). `tracking`: the recipe's experiment-tracking kwargs, which change nothing it computes;
    `run_dir`: where the run keeps its first eval samples of each skill and format (`samples.jsonl`)."""
    if rc["kind"] == "base-eval":
        t0 = time.perf_counter()
        ctx.base_eval, samples = _eval_model(ctx.model, ctx)
        return {"model": ctx.spec, "eval": ctx.base_eval, "eval_seconds": time.perf_counter() - t0,
                **soundness.write_samples(run_dir, samples)}
    rows = ctx.pool(cfg, rc["skill"], rc["seed"])[: rc["n"]]
    hp = resolve_for(cfg.hp, "sft", ctx.model)
    lr_field = "learning_rate_lora" if rc["method"] == "lora" else "learning_rate_full"
    kept: list[list[dict]] = []

    def attempt(lr: float) -> dict:  # the retry is tracked as <run>/retry
        kw = {**tracking, "run_name": tracking["run_name"] + "/retry"} if lr != getattr(hp, lr_field) and \
            "run_name" in (tracking or {}) else tracking
        model, stats = train_sft(ctx.model, ctx.tokenizer, rows, rc["method"], rc["lora_r"],
                                 hp.model_copy(update={lr_field: lr}), rc["seed"], on_step=ctx.on_train, tracking=kw)
        t0 = time.perf_counter()
        ev, samples = _eval_model(model, ctx)
        kept.append(samples)
        return {"model": ctx.spec, "train": stats, "eval": ev, "eval_seconds": time.perf_counter() - t0}

    skill, tf = rc["skill"], rc["target_format"]
    result = soundness.retry_once(attempt, lambda r: soundness.run_instability(
        r["train"], r["eval"].get(skill, {}).get(tf), lambda: ctx.base_target(skill, tf)), getattr(hp, lr_field))
    return {**result, **soundness.write_samples(run_dir, kept[-1])}


def run(ctx: Context, job) -> dict:
    """The engine's entry point on a worker (`ladder/engine.py`)."""
    with job.tracked() as kw:
        return execute(ctx, job.cfg, job.rc, kw, RunStore(job.root).path(job.rc) if job.root else None)


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


class SFTLadder(Ladder):
    """One base model × skill × (full | LoRA rank): supervised examples (the `sft` kind)."""

    kind, unit = "sft", "examples"

    def __init__(self, spec: str, fingerprint: str, cfg: ClimbConfig, skill: str, lora_r: int | None, base: dict,
                 pool_size: int, on_rung: Callable[[str], None] | None = None):
        self.fingerprint, self.skill, self.lora_r, self.base_eval = fingerprint, skill, lora_r, base
        self.tf = tf = cfg.format_for(skill)
        b = base[skill][tf] if skill in base else None
        per_format = dict(base.get(skill, {}))
        self.diagnosis = diagnose(per_format, tf, 0.8, 0.15)[0] if per_format else "missing"
        self.min_examples = min(DATA_BANDS[self.diagnosis]["low"], cfg.max_examples // 4)
        self.arm = "full" if lora_r is None else f"lora r={lora_r}"
        rule = cfg.rule(target=cfg.target, start=cfg.start, budget=cfg.max_examples, available=pool_size,
                        min_size=self.min_examples)
        super().__init__(self.arm, spec, cfg, rule, RungScore(0, b["correct"], b["n"]) if b else RungScore(0, 0, 1),
                         on_rung)

    @property
    def name(self) -> str:
        """add-full, tasks.jsonl:code-lora-r4 (with the model's name when a climb compares several)."""
        arm = self.arm.replace(" r=", "-r")
        model = f"{Path(self.spec).name}-" if len(self.cfg.models) > 1 else ""
        return f"{model}{Path(self.skill).name}-{arm}"

    def configs(self, n: int) -> list[dict]:
        cfg = self.cfg
        return [rung_config(self.fingerprint, cfg, self.skill, self.lora_r, n, s) for s in range(cfg.seeds)]

    def score(self, rc: dict, result: dict) -> tuple[int, int]:
        r = result["eval"][self.skill][self.tf]
        return r["correct"], r["n"]

    def extra(self, rcs: list[dict], results: list[dict]) -> dict:
        sound = [r for rc, r in zip(rcs, results) if self.unsound(rc, r) is None]
        forget = _forgetting([r["eval"] for r in sound or results], self.base_eval, self.skill, self.tf)
        retried = [{"seed": rc["seed"], **r["soundness"]["retried"]} for rc, r in zip(rcs, results)
                   if (r.get("soundness") or {}).get("retried")]
        return {"forgetting": forget, "mean_forgetting": sum(forget.values()) / len(forget) if forget else None,
                "worst_forgetting": min(forget.values()) if forget else None,
                **train_stats(results),
                "samples": [f"runs/{run_key(rc)}/{r['samples_file']}" for rc, r in zip(rcs, results) if r.get("samples_file")],
                **({"retried": retried} if retried else {})}

    def line(self, rung: dict) -> str:
        return f"{self.skill} {super().line(rung)}"

    def document(self) -> dict:
        return {"model": self.spec, "skill": self.skill, "target_format": self.tf, "method": self.cfg.method,
                "lora_r": self.lora_r, "diagnosis": self.diagnosis, "min_examples": self.min_examples,
                "hparams": self.cfg.hp.model_dump(),
                **super().document()}


def check_formats(cfg: ClimbConfig) -> None:
    """Every climbed skill has the target format (a did-you-mean error before any work), and train items unless
    a train file supplies the records."""
    from dataladder.core.registry import did_you_mean
    from dataladder.skills.base import no_train_items

    for skill in cfg.skills:
        sk = one_skill(skill)
        formats = list(sk.formats)
        if cfg.format_for(skill) not in formats:
            raise ValueError("--target-format: " + did_you_mean(f"format of skill {skill}", cfg.format_for(skill), formats))
        if cfg.train_file is None and not sk.items("train", 1, 0):
            raise ValueError(no_train_items(sk))


class ClimbStep(ClimbConfig, extra="forbid"):
    """A plan's climb (`climbs:` takes a list): a named ladder, on the plan's model unless it names its own."""

    name: str = Field(description="the ladder's name (its folder under climbs/: letters, digits, '.', '_', '-')",
                      pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    models: list[str] = Field(default_factory=list, description="base models (default: the plan's model)")


def check_config(cfg: ClimbConfig) -> None:
    """Before any model loads: no contradiction, every skill resolves (one each), the train file's every record."""
    from dataladder.core.errors import for_option, not_a_file
    from dataladder.skills import get_skill, resolve_skills

    if cfg.method == "full" and "lora_ranks" in cfg.model_fields_set:  # given (a plan step passes what it sets)
        raise ValueError("--method full with --lora-ranks: they contradict (LoRA ranks are for --method lora); drop one")
    if (lr := "learning_rate_" + ("lora" if cfg.method == "full" else "full")) in cfg.hp.model_fields_set:  # unused
        raise ValueError(f"--method {cfg.method} with --hp {lr}=: they contradict (that rate is another method's); drop one")
    if twice := next((m for i, m in enumerate(cfg.models) if m in cfg.models[:i]), None):
        raise ValueError(f"--model {twice} is given twice; give each base once")
    with for_option("--skill"):
        for s in cfg.skills:
            get_skill(s)  # did-you-mean, one skill each (file.jsonl:name)
    with for_option("--eval-skill"):
        resolve_skills(cfg.eval_skills or [])
    if cfg.train_file and (why := not_a_file(cfg.train_file)):
        raise ValueError(f"--train-file {cfg.train_file}: {why}")
    check_formats(cfg)
    if cfg.train_file:  # every record checked (file:line:field), and some for every skill: before the estimate
        check_sizes(cfg, {skill: len(file_pool(cfg, skill, 0)) for skill in cfg.skills})


def climb(cfg: ClimbConfig, output_dir: Path, executor=None, on_rung: Callable[[str], None] | None = None,
          on_train: Callable[[int, int], None] | None = None, on_eval: Callable[[int], None] | None = None) -> dict:
    """Run every arm of `cfg` into `output_dir`; returns the ladder.json document (also written).

    All arms advance together, one rung at a time: the runs of a rung (seeds × LoRA ranks ×
    skills × models) go to the executor as one batch, which runs them in this process (`local`)
    or concurrently on Ray workers (`ray`).
    """
    from dataladder.ladder.driver import drive
    from dataladder.ladder.estimate import estimate_climb, remeasured_line
    from dataladder.ladder.plot import plot_ladder
    from dataladder.ladder.recommend import recommend
    from dataladder.train.sizing import resolve_cfg

    check_formats(cfg)
    ranks = cfg.lora_ranks if cfg.method == "lora" else [None]
    sizes = {skill: len(pool_records(cfg, skill, 0)) for skill in cfg.skills}  # before any model is loaded
    check_sizes(cfg, sizes)
    fingerprints = {spec: model_fingerprint(spec) for spec in cfg.models}
    cfgs = {spec: resolve_cfg(cfg, "sft", spec) for spec in cfg.models}  # defaults by each model's size

    def ladders(d) -> list[SFTLadder]:  # an arm per model × skill × rank, from the model's base eval
        if on_rung and (line := remeasured_line(cfg, sizes, d.bases)) is not None:  # the machine's own speed
            on_rung(line)
        return [SFTLadder(spec, fingerprints[spec], cfgs[spec], skill, r, base["eval"], sizes[skill], on_rung)
                for spec, base in zip(cfg.models, d.bases) for skill in cfg.skills for r in ranks]

    def describe(d) -> dict:
        arms = [a.document() for a in d.ladders]
        return {"config": (cfgs[cfg.models[0]] if len(cfgs) == 1 else cfg).model_dump(), "arms": arms,
                "recommendations": recommend(arms, cfg.target),
                "estimate_seconds": est.seconds if (est := estimate_climb(cfg, sizes)) else None}  # what climb printed

    bases = [Job("sft", spec, cfgs[spec], base_config(fingerprints[spec], cfg)) for spec in cfg.models]
    return drive(output_dir, bases, ladders=ladders, describe=describe, document="ladder.json", plot=plot_ladder,
                 executor=executor, on_train=on_train, on_eval=on_eval, report_to=cfg.report_to)
