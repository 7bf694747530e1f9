"""Verified synthetic examples for a skill, in TRL format, from a registered source.

    dataladder synth --skill mul --n 2000 --source template --output runs/synth/mul.jsonl
    dataladder synth --skill mul --n 500 --source self --model tiny-arith
    dataladder synth --skill mul --n 500 --source endpoint --endpoint-url http://127.0.0.1:8000/v1 --endpoint-model teacher

Sources (`SOURCES`, a registry with did-you-mean): `template` (the skill's own generator),
`self` (rejection sampling: k sampled completions per prompt from a local model, keep those the
verifier accepts) and `endpoint` (the same against any OpenAI-compatible chat-completions
server). Where the verifier checks only a shape (a JSON schema), an accepted sample must also agree
with its item's gold answer (`Skill.gold_verdict`), else it counts as `disagrees_with_gold`. Prompts
come only from the skill's train partition (a JSONL skill's `split: train` items, or its hash share; see `skills/jsonl.py`), and every record is checked with `Skill.is_eval` before
it is written, so no eval item is ever written. A sample verified in the write format (default the
skill's target format) is written as sampled (another valid program is another example); one
sampled in another format is written as the gold answer in the write format. The source's own
text stays in `provenance.sampled`, and the record carries what its verifier needs (`tests`, `schema`).

Sampled candidates are cached per prompt in `FILE.partial.jsonl` as they arrive, so an
interrupted run resumes without asking the model again; the output and `FILE.stats.json` are
written atomically at the end.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from dataladder.core.registry import Registry
from dataladder.skills import Item, Skill
from dataladder.skills.base import no_train_items
from dataladder.core.stats import wilson


@dataclass
class SynthConfig:
    skill: str
    n: int
    source: str = "template"
    model: str | None = None  # self: the sampled model
    k: int = 4  # completions per prompt (self, endpoint)
    temperature: float = 0.5
    top_p: float = 1.0
    sample_format: str | None = None  # default: native for self, the write format for endpoint
    write_format: str | None = None  # default: the skill's target format
    trl_format: str = "prompt-completion"  # or "messages"
    seed: int = 0
    max_candidates: int | None = None  # budget of sampled completions; default 20·n·k
    max_new_tokens: int | None = None  # default: the skill's (self), 64 (endpoint)
    batch_size: int = 128
    endpoint_url: str | None = None
    endpoint_model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    concurrency: int = 8  # parallel requests to the endpoint
    endpoint_timeout: float = 180.0  # seconds for all tries of one request together
    greedy_check: bool = True  # self: greedy accuracy on the same prompts, side by side
    prompts_file: str | None = None  # more train prompts for a JSONL skill (its line format; completion optional given answer or such a verifier)
    probe: str | None = None  # a probe.json: its eval-partition accuracy is shown next to the acceptance rate

    def __post_init__(self):
        if self.probe:  # read through the result validator at once: before any model, warning or progress line
            probe_accuracy(Path(self.probe), None, None)

    def public(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "api_key"}


class Source:
    """Candidates for a batch of items: `candidates(items, batch)` → one list of texts per item."""

    name = ""
    sample_format = ""
    k = 1
    chunk = 0  # prompts per call (and per cache write); 0: all at once

    def candidates(self, items: list[Item], batch: int) -> list[list[str]]:
        raise NotImplementedError

    def provenance(self) -> dict:
        return {}

    def finish(self, items: list[Item]) -> dict | None:
        """Extra measurements once sampling is done (self: greedy accuracy on the same prompts)."""
        return None


SOURCES: Registry[Callable[[SynthConfig, Skill], Source]] = Registry("source")


@SOURCES.register("template")
class TemplateSource(Source):
    """The skill's generator: one grounded completion per item, verified all the same."""

    name = "template"

    def __init__(self, cfg: SynthConfig, skill: Skill):
        self.skill, self.sample_format = skill, write_format(cfg, skill)

    def candidates(self, items, batch):
        f = self.skill.formats[self.sample_format]
        return [[g] if (g := f.completion(it)) is not None else [] for it in items]  # a prompts-file line may have none

    def provenance(self):
        return {"generator": self.skill.name}


@SOURCES.register("self")
class SelfSource(Source):
    """Rejection sampling from a local model: k sampled completions per prompt."""

    name = "self"

    def __init__(self, cfg: SynthConfig, skill: Skill):
        if not cfg.model:
            raise ValueError("--source self needs --model (e.g. tiny-arith or a model directory)")
        if cfg.temperature <= 0:
            raise ValueError(f"--temperature {cfg.temperature}: sampling needs a temperature > 0")
        self.cfg, self.skill, self.k = cfg, skill, cfg.k
        self.chunk = 4 * max(1, cfg.batch_size // cfg.k)
        self.sample_format = cfg.sample_format or skill.native_format
        check_format(skill, self.sample_format, "--sample-format")
        self._gen = None

    def _load(self):
        if self._gen is None:
            from dataladder.generate import GenOptions
            from dataladder.generate.hf import HFGenerator
            from dataladder.models.hub import load_model

            model, tok = load_model(self.cfg.model)
            self._gen = HFGenerator(model, tok, GenOptions(max_new_tokens=self.cfg.max_new_tokens),
                                      self.cfg.batch_size)
        return self._gen

    def _prompts(self, gen, items):
        return [gen.prompt_for(self.skill, self.sample_format, it) for it in items]

    def candidates(self, items, batch):
        gen = self._load()
        return gen.sample(self._prompts(gen, items), self.k, self.cfg.temperature, self.cfg.top_p,
                          seed=self.cfg.seed * 100_003 + batch)

    def provenance(self):
        return {"model": self.cfg.model, "sample_format": self.sample_format, "temperature": self.cfg.temperature,
                "top_p": self.cfg.top_p, "k": self.k}

    def finish(self, items):
        if not self.cfg.greedy_check or not items:
            return None
        gen = self._load()
        completions = gen.greedy(self._prompts(gen, items))
        correct = sum(self.skill.score(c, it).ok and self.skill.gold_verdict(c, it).ok
                      for c, it in zip(completions, items))
        lo, hi = wilson(correct, len(items))
        return {"greedy": {"format": self.sample_format, "accuracy": correct / len(items), "ci_low": lo,
                           "ci_high": hi, "correct": correct, "n": len(items)}}


@SOURCES.register("endpoint")
class EndpointSource(Source):
    """Any OpenAI-compatible chat-completions server: each prompt as one user message, n = k."""

    name = "endpoint"

    def __init__(self, cfg: SynthConfig, skill: Skill):
        from dataladder.generate import GenOptions, make_generator

        self.cfg, self.skill, self.k = cfg, skill, cfg.k
        self.chunk = 4 * max(1, cfg.concurrency)
        self.sample_format = cfg.sample_format or write_format(cfg, skill)
        check_format(skill, self.sample_format, "--sample-format")
        self.gen = make_generator(GenOptions(
            backend="endpoint", endpoint_url=cfg.endpoint_url, endpoint_model=cfg.endpoint_model,
            api_key=cfg.api_key, concurrency=max(1, cfg.concurrency), max_new_tokens=cfg.max_new_tokens or 64,
            endpoint_timeout=cfg.endpoint_timeout))

    def candidates(self, items, batch):
        prompts = [self.gen.prompt_for(self.skill, self.sample_format, it) for it in items]
        return self.gen.sample(prompts, self.k, self.cfg.temperature, self.cfg.top_p, seed=self.cfg.seed * 100_003 + batch)

    def provenance(self):
        return {"endpoint_url": self.cfg.endpoint_url, "model": self.cfg.endpoint_model,
                "sample_format": self.sample_format, "temperature": self.cfg.temperature, "top_p": self.cfg.top_p,
                "k": self.k}


def write_format(cfg: SynthConfig, skill: Skill) -> str:
    fmt = cfg.write_format or skill.target_format
    check_format(skill, fmt, "--write-format")
    return fmt


def check_format(skill: Skill, fmt: str, option: str) -> None:
    if fmt not in skill.formats:
        from dataladder.core.registry import did_you_mean

        raise ValueError(f"{option}: " + did_you_mean(f"{skill.name} format", fmt, list(skill.formats)))


@dataclass
class Tally:
    """What happened to every candidate; becomes FILE.stats.json."""

    prompts: int = 0
    candidates: int = 0
    accepted: int = 0
    rejected: Counter = field(default_factory=Counter)
    duplicates: int = 0
    eval_skipped: int = 0
    surplus: int = 0  # accepted, new, but beyond --n
    per_prompt: list[int] = field(default_factory=list)  # accepted samples of each prompt

    def acceptance(self, k: int) -> dict:
        rate = self.accepted / self.candidates if self.candidates else 0.0
        lo, hi = wilson(self.accepted, self.candidates)
        # The k samples of one prompt are correlated (an item the model knows is usually right in
        # every sample), so the samples are not independent: Kish's design effect from the
        # between-prompt spread gives the effective count for an interval that accounts for it.
        m = len(self.per_prompt)
        deff = 1.0
        if k > 1 and m > 1 and 0 < rate < 1:
            share = [a / k for a in self.per_prompt]
            var_cluster = sum((s - rate) ** 2 for s in share) / (m - 1) / m
            deff = min(float(k), max(1.0, var_cluster / (rate * (1 - rate) / (m * k))))
        n_eff = self.candidates / deff
        plo, phi = wilson(rate * n_eff, n_eff) if self.candidates else (0.0, 1.0)
        pass_k = sum(a > 0 for a in self.per_prompt)
        return {"acceptance_rate": rate, "ci_low": lo, "ci_high": hi, "design_effect": deff,
                "effective_n": n_eff, "prompt_ci_low": plo, "prompt_ci_high": phi,
                "pass_at_k": pass_k / m if m else 0.0, "prompts_with_an_accepted_sample": pass_k}


def prepare(cfg: SynthConfig):
    """Every check of `cfg` that needs no model (the skill, its formats, the source's options, the --probe file):
    (skill, write format, source, the probe's accuracy); the CLI calls it before the first model load."""
    from dataladder.skills.spec import train_skill

    if cfg.n <= 0:
        raise ValueError(f"--n {cfg.n}: must be a positive number of examples")
    if cfg.k <= 0:
        raise ValueError(f"--k {cfg.k}: must be at least 1")
    if cfg.temperature < 0:
        raise ValueError(f"--temperature {cfg.temperature}: must be >= 0")
    if cfg.trl_format not in ("prompt-completion", "messages"):
        raise ValueError(f"--trl-format {cfg.trl_format!r}: expected 'prompt-completion' or 'messages'")
    skill = train_skill(cfg.skill, cfg.prompts_file)
    if not skill.items("train", 1, cfg.seed):
        raise ValueError(no_train_items(skill))
    wfmt = write_format(cfg, skill)
    src = SOURCES.get(cfg.source)(cfg, skill)
    probe_ref = probe_accuracy(Path(cfg.probe), skill.name, src.sample_format) if cfg.probe else None
    return skill, wfmt, src, probe_ref


def synthesize(cfg: SynthConfig, cache: Path | None = None,
               on_progress: Callable[[int, int], None] | None = None) -> tuple[list[dict], dict]:
    """Draw train prompts, get candidates from the source, verify and dedup until `n` records are kept.

    Returns (records, stats). `cache` (a JSONL path) keeps every prompt's candidates so a rerun
    with the same config resumes without sampling them again.
    """
    skill, wfmt, src, probe_ref = prepare(cfg)
    k = src.k
    budget = cfg.max_candidates if cfg.max_candidates is not None else 20 * cfg.n * k
    if budget < k:
        raise ValueError(f"--max-candidates {budget}: must allow at least one prompt (k = {k})")
    cached = _read_cache(cache, cfg) if cache else {}
    cache_f = None  # opened with the first new candidates, so a run that fails at once leaves no file

    t0 = time.perf_counter()
    tally, records, seen, used = Tally(), [], set(), []
    drawn, batch, stopped = 0, 0, "n-reached"
    try:
        while len(records) < cfg.n:
            room = (budget - tally.candidates) // k
            if room <= 0:
                stopped = "max-candidates"
                break
            need = cfg.n - len(records)
            if src.name == "template":
                want = need
            else:  # enough prompts for the records still needed at the yield seen so far
                yield_ = (len(records) + 1) / (tally.prompts + 1)
                want = max(32, math.ceil(1.1 * need / max(yield_, 0.05)))
            want = min(want, room, 4096)
            try:
                items = skill.items("train", drawn + want, cfg.seed)[drawn:]
            except ValueError:
                items = []
            if not items:
                stopped = "train-partition-exhausted"
                break
            drawn += len(items)
            fresh = []
            for it in items:
                if skill.is_eval(it):  # the partition guarantees this never happens; check anyway
                    tally.eval_skipped += 1
                else:
                    fresh.append(it)
            todo = [it for it in fresh if it.key not in cached]
            for c in range(0, len(todo), src.chunk or len(todo)):  # cache each chunk as it arrives
                part = todo[c : c + (src.chunk or len(todo))]
                got = src.candidates(part, batch)
                batch += 1
                if cache and cache_f is None:
                    cache_f = _open_cache(cache, cfg, cached)
                for it, texts in zip(part, got):
                    cached[it.key] = texts
                    if cache_f:
                        cache_f.write(json.dumps({"key": it.key, "texts": texts}) + "\n")
                if cache_f:
                    cache_f.flush()
            for it in fresh:
                _keep(skill, wfmt, src, cfg, it, cached[it.key], tally, records, seen)
                used.append(it)
            if on_progress:
                on_progress(min(len(records), cfg.n), cfg.n)
    finally:
        if cache_f:
            cache_f.close()
    tally.surplus = max(0, len(records) - cfg.n)
    records = records[: cfg.n]
    extra = src.finish(used) or {}
    if probe_ref:
        extra["probe"] = probe_ref
    stats = {
        "skill": skill.name, "source": src.name, "write_format": wfmt, "sample_format": src.sample_format,
        "trl_format": cfg.trl_format, "requested": cfg.n, "written": len(records), "stopped": stopped,
        "prompts": tally.prompts, "candidates": tally.candidates, "accepted": tally.accepted,
        **tally.acceptance(k), "rejected": dict(tally.rejected), "duplicates": tally.duplicates,
        "eval_skipped": tally.eval_skipped, "surplus": tally.surplus, "max_candidates": budget,
        "seconds": time.perf_counter() - t0, **extra, "provenance": src.provenance(), "config": cfg.public(),
    }
    return records, stats


def _keep(skill: Skill, wfmt: str, src: Source, cfg: SynthConfig, it: Item, texts: list[str], tally: Tally,
          records: list[dict], seen: set) -> None:
    """Verify one prompt's candidates; keep each accepted one that is not a duplicate."""
    tally.prompts += 1
    ok_here = 0
    f = skill.formats[wfmt]
    for text in texts:
        tally.candidates += 1
        v = skill.score(text, it)
        if v.ok:  # a shape check (a schema) passes a wrong name or city: the item's gold answer decides those
            v = skill.gold_verdict(text, it)
        if not v.ok:
            tally.rejected[v.reason or "rejected"] += 1
            continue
        tally.accepted += 1
        ok_here += 1
        # Sampled in the write format: the verified sample itself (another valid program is another example).
        # Otherwise the verified answer in the write format; the source's own words stay in provenance.
        ex = skill.example(wfmt, it)
        prompt = ex["prompt"]
        completion = text if src.sample_format == wfmt and src.name != "template" else f.completion(it)
        key = (json.dumps(prompt), completion)
        if key in seen:
            tally.duplicates += 1
            continue
        seen.add(key)
        turns = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
        # TRL's conversational prompt-completion: a message-list prompt takes a message-list completion
        answer = [{"role": "assistant", "content": completion}] if isinstance(prompt, list) else completion
        rec = {"prompt": prompt, "completion": answer} if cfg.trl_format == "prompt-completion" else {
            "messages": [*turns, {"role": "assistant", "content": completion.strip()}]}
        rec.update({"skill": skill.spec or skill.name, "answer": it.answer, **skill.fields(it), "source": src.name,
                    "provenance": {"key": it.key, "write_format": wfmt, **src.provenance(), "sampled": text}})
        records.append(rec)
    tally.per_prompt.append(ok_here)


def probe_accuracy(path: Path, skill: str | None, fmt: str | None) -> dict:
    """The probe's eval-partition accuracy of `skill` in `fmt` ({} without a skill), from a probe.json read through
    the result validator (as report reads it: types, ranges, NaN, each named by its field path)."""
    from dataladder.core.errors import InputError
    from dataladder.core.results import read_result

    doc, keys = read_result(path, need=("skills",), rerun="rerun `dataladder probe`"), ("accuracy", "ci_low",
                                                                                          "ci_high", "n", "correct")
    r = (doc["skills"].get(skill) or {}).get("formats", {}).get(fmt) if skill else {}
    if skill and (not isinstance(r, dict) or any(not isinstance(r.get(k), (int, float)) for k in keys)):
        raise InputError(f"has no accuracy for skill {skill!r} in format {fmt!r}", str(path), None,
                         f"skills.{skill}.formats.{fmt}")
    return {"model": doc.get("model"), "format": fmt, "split": "eval", **{k: r[k] for k in keys}} if skill else {}


def write_synth(records: list[dict], stats: dict, output: Path, stats_path: Path | None = None) -> Path:
    """Write the records (JSONL) and the stats (JSON) atomically; returns the stats path."""
    stats_path = stats_path or output.with_suffix(".stats.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    stats_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    tmp.replace(output)
    tmp = stats_path.with_name(stats_path.name + ".tmp")
    tmp.write_text(json.dumps({**stats, "output": str(output)}, indent=2))
    tmp.replace(stats_path)
    return stats_path


def cache_path(output: Path) -> Path:
    return output.with_name(output.stem + ".partial.jsonl")


def _config_hash(cfg: SynthConfig) -> str:
    """What determines the candidates of a prompt: not --n or the budget (they decide how many), nor where
    the teacher is served (a restarted server on another port is the same teacher)."""
    keep = {k: v for k, v in cfg.public().items() if k not in ("n", "max_candidates", "write_format", "trl_format",
                                                             "greedy_check", "concurrency", "batch_size",
                                                             "endpoint_url", "probe", "endpoint_timeout")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def _read_cache(path: Path, cfg: SynthConfig) -> dict[str, list[str]]:
    if not path.is_file():
        return {}
    out: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as f:
        lines = f.read().splitlines()
    try:
        header = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        header = {}
    if not isinstance(header, dict) or header.get("config") != _config_hash(cfg):
        return {}  # another config's cache: start afresh (it is overwritten)
    for raw in lines[1:]:
        try:
            row = json.loads(raw)
        except json.JSONDecodeError:  # a line cut by the interruption
            break
        out[row["key"]] = row["texts"]
    return out


def _open_cache(path: Path, cfg: SynthConfig, kept: dict[str, list[str]]):
    """Start the cache with this config's hash and what it already holds (drops a line cut mid-write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    f = path.open("w", encoding="utf-8")
    f.write(json.dumps({"config": _config_hash(cfg)}) + "\n")
    for key, texts in kept.items():
        f.write(json.dumps({"key": key, "texts": texts}) + "\n")
    return f


def run_synth(cfg: SynthConfig, output: Path, stats_path: Path | None = None,
              on_progress: Callable[[int, int], None] | None = None) -> dict:
    """synthesize → write output and stats atomically → drop the resume cache. Returns the stats."""
    cache = cache_path(output) if cfg.source != "template" else None
    records, stats = synthesize(cfg, cache, on_progress)
    stats["stats_path"] = str(write_synth(records, stats, output, stats_path))
    if cache and cache.exists():
        cache.unlink()
    return stats
