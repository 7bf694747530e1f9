"""How long a climb will take, said before its first rung: arithmetic on the plan and the model's size.

    est = estimate_climb(cfg)            # a ClimbConfig; reads parameter counts (meta device) and eval sets
    print(est.line())                    # one line; over an hour it names the options that cut it

No model is run. The time of a run is its training sequences (`hp.steps_for(n)` × batch size) times the seconds
one sequence takes, plus its eval items (each evaluated skill and format, up to `eval_n` each) times the seconds
one greedy item takes. Those two rates come from figures measured on 2 CPU cores shared with other work, at two
model sizes, and are interpolated between them (log-log in parameters) and scaled linearly beyond:

- tiny-arith (1,062,528 parameters): a 20-example rung (60 steps of 16 sequences) trained in ~7 s, full or LoRA
  (0.0073 s a sequence, per-run set-up included); greedy eval ~400 items/s.
- SmolLM2-135M (134,515,008 parameters): LoRA ~0.45 s a training sequence (10 steps of 8 in ~36 s), full
  fine-tuning about twice that (`bench/RESULTS.md`, the learning-rate table); greedy eval ~5 items/s.

A GPU, an idle machine or long sequences move the truth far from these figures: it is an order of magnitude,
said as one. `seconds` assumes every rung up to the budget is climbed; `min_seconds` only the `min_rungs` the
stop rule waits for (a climb that reaches its target or flattens early costs about that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# (parameters, seconds per LoRA training sequence, seconds per greedy eval item), measured (module docstring)
FIGURES = ((1_062_528, 0.0073, 1 / 400), (134_515_008, 0.45, 1 / 5))
FULL_FACTOR_FROM = 30_000_000  # from this size full fine-tuning costs FULL_FACTOR × LoRA (tiny models: the same)
FULL_FACTOR = 2.0
HOUR = 3600.0


def _scaled(params: int, col: int) -> float:
    """The figure in column `col` of FIGURES at `params`: log-log between the two sizes, linear beyond them."""
    (p0, *a), (p1, *b) = FIGURES
    y0, y1 = a[col - 1], b[col - 1]
    if params <= p0:
        return y0 * params / p0
    if params >= p1:
        return y1 * params / p1
    k = math.log(y1 / y0) / math.log(p1 / p0)
    return y0 * (params / p0) ** k


def seconds_per_sequence(params: int, method: str = "lora") -> float:
    s = _scaled(params, 1)
    return s * FULL_FACTOR if method == "full" and params >= FULL_FACTOR_FROM else s


def seconds_per_item(params: int) -> float:
    return _scaled(params, 2)


@dataclass(frozen=True)
class Estimate:
    seconds: float  # every rung up to the budget
    min_seconds: float  # the first `min_rungs` rungs only
    eval_seconds: float  # the part of `seconds` that is greedy eval (the rest is training)
    min_eval_seconds: float  # the same part of `min_seconds`
    runs: int  # training runs, every rung (seeds × ranks × skills × models per rung)
    rungs: int  # the most rungs of one arm
    steps: tuple[int, int]  # fewest and most optimizer steps of a run
    batch_size: int
    eval_items: int  # greedy items scored per run
    params: tuple[int, ...]
    cuts: tuple[str, ...]  # options that shorten this plan

    def line(self) -> str:
        p = ", ".join(f"{x / 1e6:.3g}M" for x in self.params)
        steps = f"{self.steps[0]:,}" if self.steps[0] == self.steps[1] else f"{self.steps[0]:,}–{self.steps[1]:,}"
        out = (f"estimate: up to {_human(self.seconds)} (about {_human(self.min_seconds)} if the climb stops at its "
               f"first chance): {self.runs:,} training runs over ≤ {self.rungs} rungs, {steps} steps of "
               f"{self.batch_size} sequences each, {self.eval_items:,} eval items per run; from CPU figures measured "
               f"on 2 shared cores (tiny-arith, SmolLM2-135M: {FIGURES[1][1]:g} s a LoRA training sequence, "
               f"{1 / FIGURES[1][2]:g} eval items/s) scaled to {p} parameters, so an order of magnitude")
        if self.seconds > HOUR:
            out += ". Over an hour: " + (", ".join(self.cuts) + " cut it" if self.cuts else "a smaller plan cuts it")
        return out


def _human(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    return f"{s / HOUR:.1f} h"


def estimate(params: list[int], hps: list, method: str, ranks: int, seeds: int, rungs: list[list[int]],
             eval_items: int, min_rungs: int, max_minutes: float | None = None, eval_n: int = 0) -> Estimate:
    """Seconds of a climb: per model (`params[i]`, resolved hyperparameters `hps[i]`), per skill (its rung sizes
    `rungs[j]`) and LoRA rank, `seeds` runs a rung, each training `hp.steps_for(n)` × batch sequences and scoring
    `eval_items`; plus each model's base eval. `max_minutes` caps an arm's stored time (the climb's time budget)."""
    total = low = ev = low_ev = 0.0
    runs = 0
    steps = []
    for p, hp in zip(params, hps):
        spp, spi = seconds_per_sequence(p, method), seconds_per_item(p)
        total += eval_items * spi  # the base model's eval
        low += eval_items * spi
        ev += eval_items * spi
        low_ev += eval_items * spi
        for sizes in rungs:
            per = [seeds * (hp.steps_for(n) * hp.batch_size * spp + eval_items * spi) for n in sizes]
            steps += [hp.steps_for(n) for n in sizes]
            cap = max_minutes * 60 if max_minutes else math.inf
            all_, first = ranks * min(sum(per), cap), ranks * min(sum(per[:min_rungs]), cap)
            total += all_
            low += first
            eval_share = seeds * eval_items * spi / (sum(per) / len(per)) if per else 0.0  # eval's share of a rung
            ev += all_ * eval_share
            low_ev += first * eval_share
            runs += ranks * seeds * len(sizes)
    hp0 = hps[0]
    cuts = []
    if seeds > 1:
        cuts.append("--seeds 1")
    if method == "lora" and ranks > 1:
        cuts.append("--lora-ranks 8")
    if eval_n > 50:
        cuts.append("--eval-n 50")
    cuts.append("--budget (fewer examples or minutes per arm, e.g. 640 or 30m)")
    if any(hp.steps_for(s[0]) == hp.min_steps and hp.min_steps > 5 for hp in hps for s in rungs if s):
        cuts.append(f"--hp min_steps={max(1, hp0.min_steps // 2)} (small rungs train at least {hp0.min_steps} steps)")
    return Estimate(total, low, ev, low_ev, runs, max((len(s) for s in rungs), default=0), (min(steps, default=0),
                    max(steps, default=0)), hp0.batch_size, eval_items, tuple(params), tuple(cuts))


def estimate_climb(cfg, pools: dict[str, int] | None = None) -> Estimate | None:
    """The estimate of a `ClimbConfig` (None where a model's size cannot be read). `pools`: each skill's train
    records (the climb's own count; drawn here when not given), which cap its rungs."""
    from dataladder.ladder.climb_pool import one_skill, pool_records
    from dataladder.core.schedule import sizes
    from dataladder.evals.probe import eval_items
    from dataladder.train.sizing import param_count, resolve_cfg

    params = [param_count(m) for m in cfg.models]
    if any(p is None for p in params):
        return None
    hps = [resolve_cfg(cfg, "sft", m).hp for m in cfg.models]
    pools = pools if pools is not None else {s: len(pool_records(cfg, s, 0)) for s in cfg.skills}
    rungs = [sizes(cfg.start, cfg.growth, max(cfg.start, min(cfg.max_examples, pools.get(s, cfg.max_examples))))
             for s in cfg.skills]
    n_eval = sum(len(its) for name in cfg.evaluated() for its in eval_items(one_skill(name), cfg.eval_n, 0).values())
    ranks = len(cfg.lora_ranks) if cfg.method == "lora" else 1
    return estimate(params, hps, cfg.method, ranks, cfg.seeds, rungs, n_eval, cfg.min_rungs, cfg.max_minutes,
                    cfg.eval_n)


def remeasured_line(cfg, pools: dict[str, int], bases: list[dict]) -> str | None:
    """The estimate again once the base models' evals ran here: the eval part re-priced by this machine's measured
    greedy seconds per item on these very items (their lengths included); the training part stays the figure's,
    since no step has run yet (None where no base eval timed anything)."""
    est = estimate_climb(cfg, pools)
    secs = [b.get("eval_seconds") for b in bases]
    if est is None or not est.eval_items or not all(secs):
        return None
    factor = sum(s / (est.eval_items * seconds_per_item(p)) for s, p in zip(secs, est.params)) / len(secs)
    rate = est.eval_items * len(secs) / sum(secs)
    up = est.seconds + est.eval_seconds * (factor - 1)
    low = est.min_seconds + est.min_eval_seconds * (factor - 1)
    return (f"re-estimate with the base eval's measured speed ({rate:.3g} items/s, {factor:.2g}× the figure's time "
            f"an item; training still at the figure's): up to {_human(up)}, about {_human(low)} if the climb stops "
            "at its first chance")
