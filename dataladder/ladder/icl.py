"""`dataladder icl`: fine-tune or few-shot? Greedy accuracy with k demonstrations in the prompt, k = 1, 2, 4…

    dataladder icl --skill add                       # tiny-arith, add in its target (exam) format
    dataladder icl --model ./my-model --skill tasks.jsonl:code --max-shots 16
    icl: {skill: add, max_shots: 32}                 # the plan step

Nothing is trained. A rung of k shows the first k of a seed's nested draw of the skill's *train* items (never an
eval item) before every eval item and scores greedy accuracy in the target format; the base is the 0-shot score
(the probe's own prompt). Prompts render through the generation layer (`k_shot`): a conversation (chat template,
conversational items) gets the demonstrations as earlier user/assistant turns, the QA frame as earlier
Question/Answer blocks, raw text as the same formatted text with its answer, each ended by its first stop string
(arithmetic: a newline). Fit, forecast, stop rule, budget, resume, executors and the document are the engine's
(`ladder/engine.py`); this module is the `icl` kind (`prepare`/`run`, `ICLLadder`) and its driver. Writes `icl.json`
and `icl.png`: set its curve (demonstrations) beside `climb`'s (training examples) to see which needs less data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pydantic import Field, model_validator

from dataladder.forecast.stop import RungScore
from dataladder.generate import PromptOptions
from dataladder.ladder.config import LadderConfig, format_of, skill_of
from dataladder.generate.chat import Prompt, qa_text
from dataladder.ladder.engine import Job, Ladder
from dataladder.ladder.schedule import first_rung_fits


class ICLConfig(PromptOptions, LadderConfig, extra="forbid"):
    model: str = Field("tiny-arith", description="the model prompted (never trained)")
    skill: str = Field("add", description="skill whose train items are the demonstrations and eval items the test")
    format: str | None = Field(None, description="prompt format of demonstrations and test (default: the skill's "
                                                 "target format: exam for arithmetic, a JSONL skill's first)")
    target: float = Field(0.9, gt=0, le=1, description="greedy accuracy to reach in the format")
    start: int = Field(1, ge=1, description="demonstrations in the first rung")
    seeds: int = Field(2, ge=1, le=1000, description="independent draws of the demonstrations per rung (each nested)")
    max_shots: int = Field(64, ge=1, le=4096, description="budget: most demonstrations in a prompt (at most 4,096: "
                                                        "no context holds more)")
    saturation_delta: float = Field(0.02, gt=0, le=1, description="saturation: 10× more demonstrations gains less than this")
    eval_n: int = Field(200, ge=1, le=1_000_000, description="eval items scored at every rung")
    prompts_file: str | None = Field(None, description="more train items for a JSONL skill (its line format), "
                                                       "to draw demonstrations from")

    @model_validator(mode="after")
    def _budget(self):
        return first_rung_fits(self, "start", "max_shots")


def train_pool(skill, fmt: str, n: int, seed: int) -> list:
    """Up to `n` train items of `fmt` with a gold answer, in the seed's order (a rung of k takes the first k)."""
    f = skill.formats[fmt]
    drawn = skill.items("train", 1 << 30 if skill.finite else n, seed)
    return [it for it in drawn if it.data.get("format", fmt) == fmt and f.completion(it) is not None][:n]


def check_config(cfg: ICLConfig) -> None:
    """Fail before any model loads: the skill, the format, train items in it to show."""
    from dataladder.core.registry import did_you_mean
    from dataladder.skills.base import no_train_items

    sk = skill_of(cfg)
    if format_of(cfg) not in sk.formats:
        raise ValueError("--format: " + did_you_mean(f"{sk.name} format", format_of(cfg), list(sk.formats)))
    if not sk.items("train", 1, 0):
        raise ValueError(no_train_items(sk))
    if not train_pool(sk, format_of(cfg), 1, 1000):
        raise ValueError(f"--format {format_of(cfg)}: skill {sk.name} has no train items with a gold answer in it "
                         "to show as demonstrations")


def _turns(gen, skill, fmt: str, item, p: Prompt) -> list[dict]:
    """The conversation `p` renders (its system turn included): its messages, or the QA frame's turns."""
    if p.messages is not None:
        return list(p.messages)
    msgs = list(item.data.get("messages") or [{"role": "user", "content": skill.formats[fmt].prompt(item)}])
    sys = gen.policy.system_prompt
    return ([{"role": "system", "content": sys}] if sys and msgs[0]["role"] != "system" else []) + msgs


def k_shot(gen, skill, fmt: str, item, demos: list) -> Prompt:
    """The prompt of `item` in `fmt` with `demos` (train items) shown first, through the generator's own prompts:
    a conversation gets them as earlier user/assistant turns (after its system turn), the QA frame as earlier
    Question/Answer blocks, raw text as each demo's prompt + gold answer + its first stop string (else a blank
    line). The query's stop strings and token budget are kept."""
    f, query = skill.formats[fmt], gen.prompt_for(skill, fmt, item)
    if not demos:
        return query
    shown = [(d, gen.prompt_for(skill, fmt, d), f.completion(d)) for d in demos]
    if query.messages is not None or query.qa:
        q = _turns(gen, skill, fmt, item, query)
        head = q[:1] if q[0]["role"] == "system" else []
        turns = [t for d, p, gold in shown for t in [m for m in _turns(gen, skill, fmt, d, p) if m["role"] != "system"]
                 + [{"role": "assistant", "content": gold}]]
        msgs = head + turns + q[len(head):]
        if query.messages is not None:
            return replace(query, messages=tuple(msgs))
        if qa_text(q) == query.text:  # the frame as `qa_text` writes it: earlier turns are earlier blocks
            return replace(query, text=qa_text(msgs))
        return replace(query, text="".join(f"{p.text} {gold}\n\n" for _, p, gold in shown) + query.text)
    return replace(query, text="".join(p.text + gold + (p.stop[0] if p.stop else "\n\n") for _, p, gold in shown)
                   + query.text)


class Context:
    """A worker's ICL context: the model, its generator, the eval items, the seeds' demonstration pools."""

    def __init__(self, cfg: ICLConfig):
        from dataladder.evals.probe import eval_items
        from dataladder.generate.hf import HFGenerator
        from dataladder.models.hub import load_model

        self.cfg, self.skill, self.fmt = cfg, skill_of(cfg), format_of(cfg)
        self.items = eval_items(self.skill, cfg.eval_n, 0, [self.fmt])[self.fmt]
        if not self.items:
            raise ValueError(f"skill {cfg.skill}: no eval items in the {self.fmt} format; mark some \"split\": "
                             "\"eval\", or pick another --format")
        self.model, self.tok = load_model(cfg.model)
        self.gen = HFGenerator(self.model, self.tok, cfg.gen_options())
        self.context = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        self.pools: dict[int, list] = {}
        self.on_eval: Callable[[int], None] | None = None  # the executor's progress hook (engine.Contexts)

    def pool(self, seed: int) -> list:
        if seed not in self.pools:
            self.pools[seed] = train_pool(self.skill, self.fmt, self.cfg.max_shots, 1000 + seed)
        return self.pools[seed]

    def evaluate(self, demos: list) -> dict:
        t0 = time.perf_counter()
        prompts = [k_shot(self.gen, self.skill, self.fmt, it, demos) for it in self.items]
        outs = self.gen.greedy(prompts, self.on_eval)
        verdicts = [self.skill.score(c, it) for c, it in zip(outs, self.items)]
        correct = sum(v.ok for v in verdicts)
        lenient = sum(self.skill.score_lenient(c, it, strict=v).ok for c, it, v in zip(outs, self.items, verdicts))
        lengths = [self.gen.count_tokens(self.gen.render_text(p)) for p in prompts]
        return {"eval": {self.fmt: {"correct": correct, "n": len(self.items), "accuracy": correct / len(self.items),
                                    "lenient_correct": lenient}},
                "prompt_tokens": sum(lengths) / len(lengths), "max_prompt_tokens": max(lengths),
                "seconds": time.perf_counter() - t0}


def prepare(spec: str, cfg: ICLConfig) -> Context:
    return Context(cfg)


def run(ctx: Context, job: Job) -> dict:
    """One run of the `icl` kind: the 0-shot eval (with the pool's size and the model's context), or one rung."""
    rc = job.rc
    if rc["kind"] == "icl-base":
        return {**ctx.evaluate([]), "pool": len(ctx.pool(0)), "context": ctx.context}
    out = ctx.evaluate(ctx.pool(rc["seed"])[: rc["n"]])
    if ctx.context and out["max_prompt_tokens"] + (ctx.gen.options.max_new_tokens or 0) > ctx.context:
        # past the positions the model was trained on, a score measures the truncation, not the demonstrations
        out["soundness"] = {"sound": False, "retried": False, "reason": f"prompts of up to {out['max_prompt_tokens']} "
                            f"tokens exceed the model's {ctx.context}-token context"}
    return out


def data_config(cfg: ICLConfig) -> dict:
    from dataladder.models.hub import model_fingerprint
    from dataladder.skills.spec import skill_key

    out = {"model": model_fingerprint(cfg.model), "skill": skill_key(cfg.skill, cfg.prompts_file),
           "format": format_of(cfg), "max_shots": cfg.max_shots, "eval_n": cfg.eval_n}
    if (prompts := cfg.prompt_key()) is not None:
        out["prompts"] = prompts
    return out


class ICLLadder(Ladder):
    """Greedy accuracy against the demonstrations in the prompt (the `icl` kind)."""

    kind, unit = "icl", "demonstrations"

    def __init__(self, cfg: ICLConfig, base: dict, on_rung: Callable[[str], None] | None = None):
        self.data, self.fmt, self.context = data_config(cfg), format_of(cfg), base.get("context")
        b = base["eval"][self.fmt]
        rule = cfg.rule(target=cfg.target, start=cfg.start, budget=cfg.max_shots, saturation_delta=cfg.saturation_delta,
                        available=base["pool"])  # a short train split ends the ladder as data-exhausted
        super().__init__(f"ICL {self.fmt}", cfg.model, cfg, rule, RungScore(0, b["correct"], b["n"]), on_rung)

    @property
    def name(self) -> str:
        return f"{Path(self.cfg.skill).name}-icl"

    def configs(self, n: int) -> list[dict]:
        return [{"kind": "icl", "data": self.data, "n": n, "seed": s} for s in range(self.cfg.seeds)]

    def score(self, rc: dict, result: dict) -> tuple[int, int]:
        r = result["eval"][self.fmt]
        return r["correct"], r["n"]

    def extra(self, rcs: list[dict], results: list[dict]) -> dict:
        longest = max(r["max_prompt_tokens"] for r in results)
        return {"prompt_tokens": sum(r["prompt_tokens"] for r in results) / len(results), "max_prompt_tokens": longest,
                "over_context": bool(self.context and longest > self.context)}

    def line(self, rung: dict) -> str:
        over = f", past the model's {self.context}-token context" if rung.get("over_context") else ""
        return (f"{self.cfg.skill} {super().line(rung).replace(':', ' demonstrations:', 1)}"
                f" ({rung['prompt_tokens']:.0f} prompt tokens{over})")


def icl(cfg: ICLConfig, output_dir: Path, on_rung: Callable[[str], None] | None = None,
        on_train: Callable[[int, int], None] | None = None,
        on_eval: Callable[[int], None] | None = None, executor=None) -> dict:
    """Climb the demonstration-count ladder into `output_dir`; returns the icl.json document (also written)."""
    from dataladder.ladder.driver import drive

    check_config(cfg)
    return drive(output_dir, [Job("icl", cfg.model, cfg, {"kind": "icl-base", "data": data_config(cfg)})],
                 ladders=lambda d: [ICLLadder(cfg, d.base, on_rung)],
                 describe=lambda d: {**d.body(cfg), "format": d.ladder.fmt, "context_tokens": d.ladder.context,
                                     "metric": "greedy accuracy with k demonstrations in the prompt "
                                               f"({d.ladder.fmt} format)"},
                 document="icl.json", plot=plot_icl, executor=executor, on_train=on_train, on_eval=on_eval)


def plot_icl(doc: dict, path: Path) -> None:
    from dataladder.core.plot import log_axes, pyplot, save
    from dataladder.ladder.plot import draw_ladder

    fig, ax = pyplot().subplots(figsize=(6.5, 4.4))
    draw_ladder(ax, doc, "C2", doc["label"])
    ax.axhline(doc["base"]["accuracy"], color="gray", lw=1, label=f"0-shot {doc['base']['accuracy']:.2f}")
    ax.axhline(doc["config"]["target"], color="k", ls="--", lw=1, label=f"target {doc['config']['target']:g}")
    log_axes(ax, "demonstrations in the prompt (log scale)", f"greedy accuracy ({doc['format']} format)",
             f"In-context learning on {doc['skill']}: {Path(doc['model']).name}")
    save(fig, path)
