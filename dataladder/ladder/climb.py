"""`dataladder climb`: fine-tune on growing nested data until the stop rule says enough.

For each base model × skill × arm (full fine-tuning, or LoRA at each rank), rungs of
start·growth^k examples are trained for every seed, every skill and format is evaluated, the
learning curve is fitted and the stop rule consulted. Runs go through the run store, so a
rerun resumes. The driver writes `ladder.json` and `ladder.png`.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Literal

from pydantic import Field

from dataladder.generate import PromptOptions
from dataladder.ladder.fit import fit_curve, forecast_block, forecast_text, summarize_fit
from dataladder.ladder.schedule import next_size
from dataladder.ladder.stop import RungScore, decide, reached_at
from dataladder.ladder.store import RunStore
from dataladder.models.hub import model_fingerprint
from dataladder.probe import DATA_BANDS, diagnose, score_formats
from dataladder.results import write_json
from dataladder.stats import wilson
from dataladder.train.sft import SFTHparams, tokenize_records, train_sft


class ClimbConfig(PromptOptions, extra="forbid"):
    models: list[str] = Field(default_factory=lambda: ["tiny-arith"], description="base models, compared side by side")
    skills: list[str] = Field(default_factory=lambda: ["add"], description="skills to climb")
    target: float = Field(0.9, gt=0, le=1, description="accuracy to reach in the target format")
    target_format: str | None = Field(None, description="prompt format of the target (default: each skill's own: "
                                                         "exam for arithmetic, a JSONL skill's first format)")
    method: Literal["full", "lora"] = Field("full", description="full fine-tuning or LoRA")
    lora_ranks: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [1, 4, 16], description="LoRA ranks (method lora)")
    start: int = Field(20, ge=1, description="examples in the first rung")
    growth: float = Field(2.0, gt=1, description="each rung's size over the previous one's")
    seeds: int = Field(2, ge=1, description="training seeds per rung (each draws its own nested data)")
    max_examples: int = Field(5120, ge=1, description="budget: most examples in a rung")
    max_minutes: float | None = Field(None, gt=0, description="budget: wall time per skill and arm")
    delta: float = Field(0.01, ge=0, description="smallest gain per doubling worth paying for")
    eval_n: int = Field(200, ge=1, description="eval items per skill and format at every rung")
    eval_skills: list[str] | None = Field(None, description="skills evaluated at every rung besides the climbed ones "
                                                            "(forgetting); default: the built-in arithmetic skills when "
                                                            "a base is the shipped tiny-arith, else none")
    min_rungs: int = Field(4, ge=1, description="rungs before the fit may stop a climb")
    n_boot: int = Field(200, ge=1, description="posterior draws of the curve fit (at least 1,000 are used)")
    hp: SFTHparams = Field(default_factory=SFTHparams, description="training hyperparameters")
    train_file: str | None = Field(None, description="training records to draw rungs from: messages, TRL "
                                                     "(conversational) prompt/completion, Alpaca or ShareGPT, in "
                                                     "JSONL, JSON or Parquet (default: the skill's own verified generator)")

    def format_for(self, skill: str) -> str:
        """The target format of a climbed skill: `target_format`, else the skill's own."""
        return self.target_format or _skill(skill).target_format

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


ARITHMETIC = ["add", "sub", "mul", "div", "mixed"]


def default_eval_skills(models: list[str]) -> list[str]:
    """Arithmetic is the shipped model's world: evaluated by default only when a base model is tiny-arith."""
    return ARITHMETIC if "tiny-arith" in models else []


def _skill(name: str):
    from dataladder.skills import get_skill, resolve_skills

    skills = resolve_skills([name])
    return skills[0] if len(skills) == 1 else get_skill(name)  # several: get_skill says how to name one


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

    def pool(self, cfg: ClimbConfig, skill: str, seed: int) -> list[dict]:
        """Tokenized training rows for (skill, seed); a rung of size n takes the first n (nested). Prompts are
        rendered by the generator's chat policy, so training sees the prompt tokens evaluation sees."""
        if (skill, seed) not in self.pools:
            self.pools[(skill, seed)] = tokenize_records(self.tokenizer, pool_records(cfg, skill, seed), self.gen.policy)
        return self.pools[(skill, seed)]


def pool_records(cfg: ClimbConfig, skill: str, seed: int) -> list[dict]:
    """The prompt/completion records a climb of `skill` draws its nested rungs from, for one seed."""
    if cfg.train_file:
        return file_pool(cfg, skill, seed)
    sk = _skill(skill)
    tf = cfg.format_for(skill)
    fmt = sk.formats[tf]
    items = [it for it in sk.items("train", cfg.max_examples, 1000 + seed) if fmt.completion(it) is not None]
    bad = [it.key for it in items if not sk.score(fmt.completion(it), it).ok]
    if bad:  # grounding: every template item must pass the skill's own verifier
        raise ValueError(f"skill {skill}: {len(bad)} generated items fail verification, e.g. {bad[0]}")
    return [sk.example(tf, it) for it in items]


def file_pool(cfg: ClimbConfig, skill: str, seed: int) -> list[dict]:
    """The train file's records for `skill`, minus any that ask an eval item (the skill's `problem` hook, or the
    same turns as an eval prompt), shuffled by seed."""
    import random

    from dataladder.data.trainfile import names_skill, prompt_key, read_train_file

    sk = _skill(skill)
    evals = [sk.example(f, it) for it in sk.items("eval", cfg.eval_n, 0) for f in sk.formats]
    eval_prompts = {prompt_key(e["prompt"]) for e in evals}
    # evaluation in the chat template (conversational items, a `chat` format): raw train prompts get it too
    chat = [e for e in evals if not isinstance(e["prompt"], str) or e.get("chat")]
    path = Path(cfg.train_file)
    records = [{"prompt": r["prompt"], "completion": r["completion"], **({"chat": True} if chat else {})}
               for _, r in read_train_file(path)
               if names_skill(r["skill"], skill, sk) and prompt_key(r["prompt"]) not in eval_prompts
               and sk.eval_item_of(r["prompt"]) is None]
    random.Random(f"{path.name}:{seed}").shuffle(records)
    return records


def prepare(spec: str, cfg: ClimbConfig) -> Context:
    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model

    model, tok = load_model(spec)
    sets = {}
    for name in cfg.evaluated():
        sk = _skill(name)
        sets[name] = (sk, sk.items("eval", cfg.eval_n, 0))
    return Context(spec, model_fingerprint(spec), model, tok, HFGenerator(model, tok, cfg.gen_options()), sets, {})


def _eval_model(model, ctx: Context) -> dict:
    out = {}
    gen = ctx.gen if model is ctx.model else ctx.gen.with_model(model)
    for name, (sk, items) in ctx.eval_sets.items():
        res, _, _ = score_formats(gen, sk, items, list(sk.formats), on_batch=ctx.on_eval)
        out[name] = {f: {"correct": r["correct"], "n": r["n"], "accuracy": r["accuracy"]} for f, r in res.items()}
    return out


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


def execute(ctx: Context, cfg: ClimbConfig, rc: dict) -> dict:
    """One run, a pure function of `rc`: the base model's eval, or one rung trained and evaluated."""
    if rc["kind"] == "base-eval":
        return {"model": ctx.spec, "eval": _eval_model(ctx.model, ctx)}
    rows = ctx.pool(cfg, rc["skill"], rc["seed"])[: rc["n"]]
    model, stats = train_sft(ctx.model, ctx.tokenizer, rows, rc["method"], rc["lora_r"], cfg.hp, rc["seed"],
                             on_step=ctx.on_train)
    t0 = time.perf_counter()
    ev = _eval_model(model, ctx)
    return {"model": ctx.spec, "train": stats, "eval": ev, "eval_seconds": time.perf_counter() - t0}


class Contexts:
    """Prepared contexts by (model, climb config): what a long-lived worker keeps warm between runs."""

    def __init__(self, on_train: Callable[[int, int], None] | None = None,
                 on_eval: Callable[[int], None] | None = None):
        self._by_key: dict[tuple[str, str], Context] = {}
        self.on_train, self.on_eval = on_train, on_eval

    def get(self, spec: str, cfg: ClimbConfig) -> Context:
        key = (spec, cfg.model_dump_json())
        if key not in self._by_key:
            ctx = prepare(spec, cfg)
            ctx.on_train, ctx.on_eval = self.on_train, self.on_eval
            self._by_key[key] = ctx
        return self._by_key[key]

    def set_progress(self, on_train: Callable[[int, int], None] | None, on_eval: Callable[[int], None] | None) -> None:
        self.on_train, self.on_eval = on_train, on_eval
        for ctx in self._by_key.values():
            ctx.on_train, ctx.on_eval = on_train, on_eval

    def run(self, job: "Job") -> dict:
        return execute(self.get(job.spec, job.cfg), job.cfg, job.rc)


@dataclass(frozen=True)
class Job:
    """What an executor runs: the run config `rc` of base model `spec` under climb config `cfg`."""

    spec: str
    cfg: ClimbConfig
    rc: dict


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


class Arm:
    """One base model × skill × (full | LoRA rank): its rungs, fit and stop decision, advanced rung by rung.

    The driver asks every unfinished arm for its next rung's run configs, runs them all (the
    executor decides where), and hands each arm its results; so the runs of all arms and seeds
    of one rung are independent and can run concurrently.
    """

    def __init__(self, spec: str, fingerprint: str, cfg: ClimbConfig, skill: str, lora_r: int | None, base: dict,
                 pool_size: int, on_rung: Callable[[str], None] | None = None):
        self.spec, self.fingerprint, self.cfg, self.skill, self.lora_r = spec, fingerprint, cfg, skill, lora_r
        self.base, self.pool_size, self.on_rung = base, pool_size, on_rung
        self.tf = tf = cfg.format_for(skill)
        b = base[skill][tf] if skill in base else None
        self.base_score = RungScore(0, b["correct"], b["n"]) if b else RungScore(0, 0, 1)
        per_format = dict(base.get(skill, {}))
        self.diagnosis = diagnose(per_format, tf, 0.8, 0.15)[0] if per_format else "missing"
        self.min_examples = min(DATA_BANDS[self.diagnosis]["low"], cfg.max_examples // 4)
        self.label = "full" if lora_r is None else f"lora r={lora_r}"
        self.rungs: list[dict] = []
        self.scores: list[RungScore] = []
        self.points: list[tuple[int, int, int]] = []
        self.n = min(cfg.start, pool_size)
        self.seconds = 0.0  # training + eval time of this arm's runs (the max_minutes budget)
        self.fit = self.decision = None
        self.done = False

    def configs(self) -> list[dict]:
        """The run configs of the current rung, one per seed."""
        cfg = self.cfg
        return [rung_config(self.fingerprint, cfg, self.skill, self.lora_r, self.n, s) for s in range(cfg.seeds)]

    def absorb(self, configs: list[dict], results: list[dict], run_dirs: list[str]) -> None:
        """Record the current rung's results, refit, consult the stop rule and move to the next rung."""
        cfg, skill, tf, n = self.cfg, self.skill, self.tf, self.n
        evals = [r["eval"] for r in results]
        correct = sum(e[skill][tf]["correct"] for e in evals)
        total = sum(e[skill][tf]["n"] for e in evals)
        lo, hi = wilson(correct, total)
        forget = _forgetting(evals, self.base, skill, tf)
        self.seconds += sum(r["train"]["seconds"] + r["eval_seconds"] for r in results)
        self.rungs.append({
            "n": n, "accuracy": correct / total, "ci_low": lo, "ci_high": hi, "correct": correct, "total": total,
            "seeds": [{"seed": rc["seed"], "accuracy": e[skill][tf]["accuracy"]} for rc, e in zip(configs, evals)],
            "forgetting": forget, "mean_forgetting": sum(forget.values()) / len(forget) if forget else None,
            "worst_forgetting": min(forget.values()) if forget else None,
            "train_seconds": sum(r["train"]["seconds"] for r in results),
            "eval_seconds": sum(r["eval_seconds"] for r in results),
            "flops": sum(r["train"]["flops"] for r in results),
            "train_loss": [r["train"]["train_loss"] for r in results],
            "run_dirs": run_dirs,
        })
        self.scores.append(RungScore(n, correct, total))
        self.points += [(n, e[skill][tf]["correct"], e[skill][tf]["n"]) for e in evals]
        self.fit = fit_curve(self.points, cfg.target, cfg.n_boot, seed=len(self.rungs)) if len(self.rungs) >= 3 else None
        self.rungs[-1]["forecast"] = forecast_block(self.fit, n)  # the early answer to "how much data"
        nxt = next_size(n, cfg.growth)
        time_left = (cfg.max_minutes * 60 - self.seconds) if cfg.max_minutes else math.inf
        self.decision = decide(self.scores, self.base_score, self.fit, cfg.target, nxt,
                               min(cfg.max_examples, self.pool_size), time_left, cfg.delta, cfg.min_rungs,
                               self.min_examples)
        if self.decision.reason == "budget-exhausted" and nxt > self.pool_size and self.pool_size < cfg.max_examples:
            self.decision.reason = "data-exhausted"  # the training data ran out before the budget
            self.decision.detail["why"] = f"next rung {nxt} > the {self.pool_size} training examples there are"
        if self.on_rung:
            self.on_rung(f"{skill} {self.label} n={n}: {correct / total:.3f} [{lo:.3f}, {hi:.3f}]"
                         + forecast_text(self.rungs[-1]["forecast"], cfg.target)
                         + (f" → stop: {self.decision.reason}" if self.decision.stop else ""))
        self.done = self.decision.stop
        self.n = nxt

    def summary(self) -> dict:
        hit = reached_at(self.scores, self.cfg.target)
        b = self.base_score
        return {"model": self.spec, "skill": self.skill, "target_format": self.tf, "method": self.cfg.method,
                "lora_r": self.lora_r,
                "label": self.label, "diagnosis": self.diagnosis, "min_examples": self.min_examples,
                "base": {"accuracy": b.accuracy, "correct": b.correct, "total": b.total},
                "rungs": self.rungs, "fit": summarize_fit(self.fit, self.rungs[-1]["n"], self.cfg.max_examples),
                "stop": {"reason": self.decision.reason, **self.decision.detail},
                "reached_at": self.scores[hit].n if hit is not None else None}


def check_formats(cfg: ClimbConfig) -> None:
    """Every climbed skill has the target format (a did-you-mean error before any work)."""
    from dataladder.registry import did_you_mean

    for skill in cfg.skills:
        formats = list(_skill(skill).formats)
        if cfg.format_for(skill) not in formats:
            raise ValueError("--target-format: " + did_you_mean(f"format of skill {skill}", cfg.format_for(skill), formats))


def run_jobs(jobs: list[Job], store: RunStore, executor) -> list[dict]:
    """Results for `jobs` in order: finished ones from the store, the rest through the executor.

    The driver is the only writer: each result is stored as soon as the executor hands it back,
    so an interruption loses at most the runs in flight, and a rerun repeats none that finished.
    """
    results: list[dict | None] = [store.get(j.rc) for j in jobs]
    todo = [i for i, r in enumerate(results) if r is None]
    for k, result in executor.run([jobs[i] for i in todo]):
        results[todo[k]] = store.put(jobs[todo[k]].rc, result)
    return results  # type: ignore[return-value]


def climb(cfg: ClimbConfig, output_dir: Path, executor=None, on_rung: Callable[[str], None] | None = None,
          on_train: Callable[[int, int], None] | None = None, on_eval: Callable[[int], None] | None = None) -> dict:
    """Run every arm of `cfg` into `output_dir`; returns the ladder.json document (also written).

    All arms advance together, one rung at a time: the runs of a rung (seeds × LoRA ranks ×
    skills × models) go to the executor as one batch, which runs them in this process (`local`)
    or concurrently on Ray workers (`ray`).
    """
    from dataladder.executors.local import LocalExecutor

    check_formats(cfg)
    executor = executor or LocalExecutor()
    executor.set_progress(on_train, on_eval)
    store = RunStore(output_dir)
    t0 = time.perf_counter()
    ranks = cfg.lora_ranks if cfg.method == "lora" else [None]
    sizes = {skill: len(pool_records(cfg, skill, 0)) for skill in cfg.skills}  # before any model is loaded
    for skill, size in sizes.items():
        if size == 0 and not cfg.train_file:
            from dataladder.skills.base import no_train_items

            raise ValueError(no_train_items(_skill(skill)))
        if size == 0:
            raise ValueError(f"--train-file {cfg.train_file}: no training records for skill {skill} (records name "
                             "their skill in 'skill'; those whose prompt asks an eval item are dropped)")
    fingerprints = {spec: model_fingerprint(spec) for spec in cfg.models}
    bases = run_jobs([Job(spec, cfg, base_config(fingerprints[spec], cfg)) for spec in cfg.models], store, executor)
    arms = []
    for spec, base in zip(cfg.models, bases):
        for skill in cfg.skills:
            arms += [Arm(spec, fingerprints[spec], cfg, skill, r, base["eval"], sizes[skill], on_rung) for r in ranks]
    while active := [a for a in arms if not a.done]:
        batch = [(a, a.configs()) for a in active]
        jobs = [Job(a.spec, cfg, rc) for a, rcs in batch for rc in rcs]
        results = iter(run_jobs(jobs, store, executor))
        for a, rcs in batch:
            a.absorb(rcs, [next(results) for _ in rcs], [str(store.path(rc).relative_to(store.root)) for rc in rcs])
    arm_docs = [a.summary() for a in arms]
    from dataladder.ladder.recommend import recommend

    doc = {"config": cfg.model_dump(), "arms": arm_docs, "recommendations": recommend(arm_docs, cfg.target),
           "seconds": time.perf_counter() - t0, "executor": getattr(executor, "name", "local")}
    write_json(output_dir / "ladder.json", doc)
    from dataladder.ladder.plot import plot_ladder

    plot_ladder(doc, output_dir / "ladder.png")
    return doc
