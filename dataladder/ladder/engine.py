"""The ladder engine: one loop for every kind of data (examples, reward pairs, DPO pairs, rollouts, demonstrations).

A **kind** is registered in `ladder/kinds.py` (or named by a module's dotted path); its module says what
one run is, on the worker side:

    def prepare(spec: str, cfg) -> context      # once per worker and config: load the model, build the data
    def run(ctx, job: Job) -> dict               # one run, a pure function of job.rc; returns its result

- The run store keys a run by `job.rc` alone: everything that changes a result (model fingerprint,
  data, format, eval size, hyperparameters, prompt options, seed, n) must be in `rc`; `cfg` only
  says how to compute it. `rc["kind"]` is a free tag inside the config (`dpo`, `dpo-base`), not
  the registered kind's name (`Job.kind`).
- A result is any JSON-able dict. The time budget reads `result["seconds"]`, else
  `result["train"]["seconds"] + result["eval_seconds"]` (override `Ladder.run_seconds`).
- The context may have `on_train(step, total)` / `on_eval(items)` attributes: the executor sets
  them to the progress bar. A kind that trains wraps its recipe in `with job.tracked() as kw:`
  and passes `tracking=kw` (experiment tracking); a kind that trains nothing needs no recipe.
- Prompts and scores come from the skill and the generator: `gen.prompt_for(skill, fmt, item)` →
  `Prompt`, `gen.greedy(prompts)`, `skill.score(completion, item).ok` (or `probe.score_formats`).

A **ladder** is one learning curve, on the driver side: a subclass of `Ladder` built from a
`Rule` (target, start, growth, budget, the data there is, delta, ...) and the base score, that says

    kind, unit                    # "sft", "examples"; "reward", "pairs"; "rl", "rollouts"; ...
    configs(n) -> [rc, ...]       # the run configs of the rung of size n (one per seed)
    score(rc, result) -> (correct, total)   # the fitted score of one finished run
    extra(rcs, results) -> dict   # optional: what else a rung records (forgetting, by source, ...)
    adjust(decision) -> Decision  # optional: a kind's own twist on the stop rule
    chained = True                # optional: each rung continues from the previous rung's run (RL)

The base score (the curve's starting point) is a run too: the driver runs one base job through
`run_jobs` first (dpo: `{"kind": "dpo-base", ...}`, which `run` tells apart), so it is stored
and resumed like the rest, and builds the ladder from it.

The engine does the rest, the same way for every kind: the schedule (`start`·`growth`^k,
`next_size`), get-or-run through the run store (`run_jobs`: finished runs are read, the rest go to
the executor, local or Ray, and each result is stored as it comes back, so a killed ladder resumes
without losing or repeating a run), the fit and the forecast after each rung from the third, the
stop rule (`forecast/stop.py`), the time budget charged in *stored* run seconds (a resumed ladder
stops where the uninterrupted one would), the progress line, the tracking metrics, and one
document per ladder (`Ladder.document()`):

    {"kind", "unit", "label", "base": {accuracy, correct, total, ci_low, ci_high}, "rungs": [rung, ...],
     "fit", "saturation", "stop": {"reason", ...}, "reached_at", "seconds"}
    rung: {"n", "accuracy", "ci_low", "ci_high", "correct", "total", "seeds": [{seed, accuracy, unsound?}],
           "seconds", "run_dirs", "forecast", ...the kind's extra, "unsound"?, "reasons"?}

Every rung is a sound measurement, or is said not to be: a result may carry `"soundness": {"sound", "reason",
"retried"}` (`ladder/soundness.py`: a diverged or collapsed run, retried once at a lower learning rate by a kind
that checks its runs; `Ladder.unsound` reads it, and a result without it is sound). A rung pools and fits its
sound seeds only; a rung with none is recorded with `"unsound": true` and its `reasons`, and left out of the
fit and the stop rule; two such rungs in a row, or one where the budget ends, stop the ladder as
`unstable-training` (`"why": "unstable training: <reason>"`), never a data verdict.

To add a kind: register it once in `ladder/kinds.py` (`register(Kind(...))`: its module, config, driver, unit,
document, budget field, ...); its module holds the config, an optional `check_config`, `prepare`/`run`, its
`Ladder` subclass and a driver that calls `ladder.driver.drive` (base jobs, ladders, `climb_ladders`, the document
written once; `ladder/icl.py` is the worked example). Everything else derives from the registry: the command and
its options, the plan step, the study's step and checks, compare's option and the report's section
(docs/extending.md). Workers import a kind's module by name, so nothing here imports a kind, and any kind
runs on every executor.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from dataladder.ladder.fit import fit_curve, forecast_block, forecast_text, saturation, summarize_fit
from dataladder.core.schedule import next_size
from dataladder.ladder.soundness import unsound_reason
from dataladder.forecast.stop import UNSTABLE, Decision, RungScore, decide, reached_at
from dataladder.core.store import RunStore
from dataladder.core.stats import wilson

def kind_module(kind: str):
    """The worker module of `kind`: a registered kind's (`ladder/kinds.py`), or a module's dotted path (a kind
    defined outside dataladder)."""
    from dataladder.ladder.kinds import KINDS

    k = KINDS.get(kind) if kind in KINDS else None
    return importlib.import_module((k.worker or k.module) if k else kind)


@dataclass(frozen=True)
class Job:
    """What an executor runs: run config `rc` of `kind` on base model `spec` under config `cfg`.
    `parent` is the run a chained rung continues from; `root` the run store's directory (a run may
    keep artifacts, such as weights, in its own run directory there)."""

    kind: str
    spec: str
    cfg: object
    rc: dict
    parent: dict | None = None
    root: str | None = None
    run_name: str | None = None  # for experiment tracking: <study>/<ladder>/n=<n>/seed=<s>
    tracking: object = None  # train.tracking.Tracking, or None

    @contextlib.contextmanager
    def tracked(self) -> Iterator[dict | None]:
        """The `tracking` kwargs of this run's training recipe, with the environment its backend reads:

            with job.tracked() as kw:
                model, stats = train_sft(..., tracking=kw)
        """
        if self.tracking is None or self.tracking.report_to == "none":
            yield None
            return
        with self.tracking.env(self.run_name):
            yield self.tracking.training_kwargs(self.run_name)

    # what an executor calls (`executors/contexts.py` keeps the prepared contexts warm between runs)
    def prepare(self) -> object:
        """The worker context of this run's kind, model and config: its kind module's `prepare(spec, cfg)`."""
        return kind_module(self.kind).prepare(self.spec, self.cfg)

    def run(self, ctx) -> dict:
        """This run on its prepared context: its kind module's `run(ctx, job)`."""
        return kind_module(self.kind).run(ctx, self)


def run_jobs(jobs: list[Job], store: RunStore, executor) -> list[dict]:
    """Results for `jobs` in order: finished ones from the store, the rest through the executor.

    The driver is the only writer of results: each is stored as soon as the executor hands it
    back, so an interruption loses at most the runs in flight and a rerun repeats none that finished.
    """
    results: list[dict | None] = [store.get(j.rc) for j in jobs]
    todo = [i for i, r in enumerate(results) if r is None]
    for k, result in executor.run([jobs[i] for i in todo]):
        results[todo[k]] = store.put(jobs[todo[k]].rc, result)
    return results  # type: ignore[return-value]


def train_stats(results: list[dict]) -> dict:
    """What a rung of training runs records of their recipes' stats (`result["train"]`, `result["eval_seconds"]`)."""
    return {"train_seconds": sum(r["train"]["seconds"] for r in results),
            "eval_seconds": sum(r["eval_seconds"] for r in results),
            "flops": sum(r["train"]["flops"] for r in results),
            "train_loss": [r["train"]["train_loss"] for r in results]}


def adaptive_size(forecast: dict | None, n: int, grown: int, cap: float) -> int:
    """The next rung of an adaptive ladder: where the forecast's median reaches the target, at least n + 1, at most
    4n and the budget `cap`; the grown size (`grown`, n × growth) before the third rung or when the median is
    unreachable or behind us."""
    median = ((forecast or {}).get("n_target") or {}).get("median")
    if median is None or median <= n:
        return grown
    return int(max(n + 1, min(math.ceil(median), 4 * n, max(cap, n + 1))))


@dataclass(kw_only=True)
class Rule:
    """A ladder's schedule, budget and stop rule (see `forecast/stop.py`), built by keyword."""

    target: float
    start: int
    growth: float
    budget: int  # most units in a rung (the user's budget)
    available: float = math.inf  # units there are (a finite pool): the budget the rule can spend
    delta: float = 0.01  # smallest gain per doubling worth paying for
    min_rungs: int = 4
    min_size: int = 0  # the fit may stop the ladder only from this size on
    max_minutes: float | None = None  # budget in stored run seconds
    n_boot: int = 200
    saturation_delta: float = 0.02  # saturation: 10× more gains less than this
    adaptive: bool = False  # the next rung where the forecast's median reaches the target (≤ 4× the last), not ×growth


@dataclass
class Ladder:
    """One learning curve advanced rung by rung by `climb_ladders`; subclasses say what a run is."""

    label: str
    spec: str  # the base model (a worker prepares one context per model and config)
    cfg: object  # the config its worker context is prepared from
    rule: Rule
    base: RungScore
    on_rung: Callable[[str], None] | None = None
    tracking: object = None  # train.tracking.Tracking: the ladder's own metrics per rung
    kind = ""
    unit = "examples"
    chained = False  # each rung continues from the previous rung's run
    rungs: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    points: list = field(default_factory=list)
    seconds: float = 0.0
    fit: object = None
    decision: Decision | None = None
    done: bool = False
    n: int = 0
    _parent: dict | None = None

    def __post_init__(self):
        self.n = int(min(self.rule.start, self.rule.available))

    # what a kind says
    def configs(self, n: int) -> list[dict]:
        raise NotImplementedError

    def score(self, rc: dict, result: dict) -> tuple[int, int]:
        raise NotImplementedError

    def extra(self, rcs: list[dict], results: list[dict]) -> dict:
        return {}

    def run_seconds(self, result: dict) -> float:
        """Seconds a stored run took (the time budget), from its result."""
        if "seconds" in result:
            return float(result["seconds"])
        return float(result.get("train", {}).get("seconds", 0.0)) + float(result.get("eval_seconds", 0.0))

    def next_size(self, n: int) -> int:
        return next_size(n, self.rule.growth)

    def adjust(self, decision: Decision) -> Decision:
        return decision

    def line(self, rung: dict) -> str:
        return f"{self.label} n={rung['n']:,}: {rung['accuracy']:.3f} [{rung['ci_low']:.3f}, {rung['ci_high']:.3f}]"

    # what the engine does
    @property
    def name(self) -> str:
        """The ladder's name in experiment tracking (unique within a study)."""
        return self.label.replace(": ", "-").replace(" ", "-")

    def worker_config(self, rc: dict, root: str) -> object:
        """What a worker prepares its context from for run `rc`: the ladder's config, unless a kind's rungs each
        need their own (rm-policy: each size's reward model)."""
        return self.cfg

    def jobs(self, root: str) -> list[Job]:
        study = Path(root).name
        return [Job(self.kind, self.spec, self.worker_config(rc, root), rc, self._parent if self.chained else None, root,
                    f"{study}/{self.name}/n={self.n}/seed={rc.get('seed', 0)}", self.tracking)
                for rc in self.configs(self.n)]

    def absorb(self, jobs: list[Job], results: list[dict], store: RunStore) -> None:
        """Record the current rung, refit, consult the stop rule, move to the next rung. Unsound runs
        (`unsound`) are recorded but neither fitted nor scored: a rung uses its sound seeds, and a rung with
        none is marked `unsound` and may stop the ladder as `unstable-training` (`_unstable`)."""
        rule, n = self.rule, self.n
        rcs = [j.rc for j in jobs]
        why = [self.unsound(rc, r) for rc, r in zip(rcs, results)]
        scored = [self.score(rc, r) for rc, r in zip(rcs, results)]
        sound = [i for i, w in enumerate(why) if w is None]
        shown = sound or range(len(rcs))  # a rung with no sound run still shows what it measured
        correct, total = sum(scored[i][0] for i in shown), sum(scored[i][1] for i in shown)
        lo, hi = wilson(correct, total)
        secs = sum(self.run_seconds(r) for r in results)
        self.seconds += secs
        rung = {"n": n, "accuracy": correct / total if total else 0.0, "ci_low": lo, "ci_high": hi,
                "correct": correct, "total": total,
                "seeds": [{"seed": rc.get("seed"), "accuracy": c / t if t else 0.0, **({"unsound": w} if w else {})}
                          for rc, (c, t), w in zip(rcs, scored, why)],
                "seconds": secs, "run_dirs": [str(store.path(rc).relative_to(store.root)) for rc in rcs]}
        rung.update(self.extra(rcs, results))
        self.rungs.append(rung)
        nxt = self.next_size(n)
        spend = min(rule.budget, rule.available)
        time_left = rule.max_minutes * 60 - self.seconds if rule.max_minutes else math.inf
        if sound:
            self.scores.append(RungScore(n, correct, total))
            self.points += [(n, *scored[i]) for i in sound]
            self.fit = fit_curve(self.points, rule.target, rule.n_boot, seed=len(self.rungs)) \
                if len(self.scores) >= 3 else None
            rung["forecast"] = forecast_block(self.fit, n)  # the early answer to "how much data"
            if rule.adaptive and type(self).next_size is Ladder.next_size:  # a kind's own schedule stays its own
                nxt = adaptive_size(rung["forecast"], n, nxt, min(spend, rule.budget))
            d = decide(self.scores, self.base, self.fit, rule.target, nxt, spend, time_left, rule.delta,
                       rule.min_rungs, rule.min_size)
            if d.reason == "budget-exhausted" and nxt > rule.available and rule.available < rule.budget:
                d.reason = "data-exhausted"  # the data ran out before the budget
                d.detail["why"] = f"next rung {nxt:,} > the {rule.available:,.0f} {self.unit} there are"
            self.decision = d = self.adjust(d)
        else:
            rung.update(unsound=True, reasons=[w for w in why if w])
            rung["forecast"] = None  # nothing new was measured
            self.decision = d = self._unstable(rung, nxt, spend, time_left)
        if self.on_rung:
            self.on_rung(self.line(rung) + forecast_text(rung["forecast"], rule.target)
                         + (f" (unsound: {'; '.join(rung['reasons'])})" if rung.get("unsound") else "")
                         + (f" → stop: {d.reason}" if d.stop else ""))
        if self.tracking is not None:
            fc = (rung["forecast"] or {}).get("n_target") or {}
            self.tracking.log_rung(self.tracking.group, n, {"accuracy": rung["accuracy"], "ci_low": lo, "ci_high": hi,
                                                   "forecast_n_target": fc.get("median"),
                                                   "forecast_n_target_lo80": fc.get("lo80"),
                                                   "forecast_n_target_hi80": fc.get("hi80")})
        self.done = d.stop
        self._parent = rcs[0]
        self.n = nxt

    def unsound(self, rc: dict, result: dict) -> str | None:
        """Why a finished run is no sound measurement of its data (None: it is): its `soundness` block, written
        by a kind that checks its runs (`ladder/soundness.py`); a result without one counts as sound."""
        return unsound_reason(result)

    def _unstable(self, rung: dict, nxt: int, spend: float, time_left: float) -> Decision:
        """The decision after a rung with no sound run: the data was not measured, so no data verdict. Two such
        rungs in a row, or one where the budget ends, stop the ladder as `unstable-training`; else it goes on."""
        rule, streak = self.rule, []
        for r in reversed(self.rungs):
            if not r.get("unsound"):
                break
            streak.append(r["n"])
        last = nxt > spend or time_left <= 0
        detail = {"n": rung["n"], "accuracy": rung["accuracy"],
                  "why": "unstable training: " + "; ".join(dict.fromkeys(rung["reasons"])),
                  "unsound_rungs": streak[::-1],
                  "rule": {"target": rule.target, "delta": rule.delta, "min_rungs": rule.min_rungs,
                           "min_examples": rule.min_size, "max_examples": spend, "next_n": nxt,
                           "time_left_s": time_left if math.isfinite(time_left) else None}}
        if len(streak) >= 2 or last:
            return Decision(True, UNSTABLE, detail)
        return Decision(False, None, detail)

    def saturation(self) -> dict | None:
        return saturation(self.fit, self.rule.saturation_delta, self.rungs[0]["n"], self.rungs[-1]["n"]) \
            if self.fit is not None else None

    def document(self) -> dict:
        """The common ladder document (see the module docstring)."""
        hit = reached_at(self.scores, self.rule.target)
        b = self.base
        return {"kind": self.kind, "unit": self.unit, "label": self.label,
                "base": {"accuracy": b.accuracy, "correct": b.correct, "total": b.total,
                         **dict(zip(("ci_low", "ci_high"), wilson(b.correct, b.total)))},
                "rungs": self.rungs, "fit": summarize_fit(self.fit, self.rungs[-1]["n"], self.rule.budget),
                "saturation": self.saturation(),
                "stop": {"reason": self.decision.reason, **self.decision.detail},
                "reached_at": self.scores[hit].n if hit is not None else None, "seconds": self.seconds}


def climb_ladders(ladders: list[Ladder], store: RunStore, executor, report_to: str = "none") -> list[Ladder]:
    """Advance every ladder until its stop rule says enough. All unfinished ladders advance together,
    one rung at a time: the runs of a rung (seeds × ladders) go to the executor as one batch, which
    runs them in this process or concurrently on Ray workers. `report_to` (a `train.tracking` backend)
    names each training run `<study>/<ladder>/n=<n>/seed=<s>`, groups it by ladder, and logs every
    rung's score, interval and forecast as the ladder's own metrics."""
    root = str(store.root)
    if report_to != "none":
        from dataladder.train.tracking import Tracking

        for lad in ladders:
            lad.tracking = Tracking(report_to, root=str(store.root / "tracking"), group=f"{Path(root).name}/{lad.name}")
    while active := [lad for lad in ladders if not lad.done]:
        batch = [(lad, lad.jobs(root)) for lad in active]
        results = iter(run_jobs([j for _, js in batch for j in js], store, executor))
        for lad, js in batch:
            lad.absorb(js, [next(results) for _ in js], store)
    return ladders
