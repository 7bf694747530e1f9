"""Curation: a list of steps over records, each a generator, datatrove-style.

    dataladder curate data.jsonl --output-dir runs/curated --eval-skill add

or from Python: `curate("data.jsonl", "runs/curated", CurateConfig(eval_skills=["add"]))`.

Steps (`CurateConfig.steps`, any order after `validate`, which always runs first):

- `validate`: detect the format and convert to TRL (see `formats.py`); check `skill` resolves and
  `verifier` parses. A bad record stops the run with file, line and field, or with `skip_bad`
  is rejected as `bad_record:<field>`.
- `normalize`: every text (all turns) → Unicode NFKC, `\\r\\n` → `\\n`, runs of spaces and tabs
  inside a line → one space, no space at line ends, at most one blank line in a row, no leading or
  trailing newline. Code is never touched inside: a line's leading indentation stays, fenced blocks
  (```` ``` ````) stay as written, and a record whose verifier (or skill) runs code (`python-tests`), or
  whose skill opts out (`tasks.jsonl:normalize=false`), is left as it is. A one-line text that
  started with whitespace keeps exactly one leading space (TRL joins prompt and completion, so
  `" 19"` must stay `" 19"`).
- `verify`: the completion (`completion`, `chosen`, or the last assistant turn) is checked by
  the record's `verifier` spec, else by its skill's verifier (`skill` field, else
  `CurateConfig.skill`; a user skill is named by its file, `tasks.jsonl:code`, or by its name
  when `--skill` / `--eval-skill` gave its file). The verifier gets the record's own fields
  (`tests`, `test_list`, `schema`, `entry_point`, ...). The reference answer is the record's
  `answer`; without one, the skill's `problem` hook finds the item the prompt asks about (an
  arithmetic expression in any wording, a JSONL item by its question) and lends its answer and
  fields. A record with no verifier or no answer is counted as
  `unverified` and kept, or rejected as `unverifiable` with `require_verified`; so is a record of a
  skill whose items disagree on the verifier (`per item (regex)`) when no item asks its prompt and
  it names no `verifier` of its own (`no_item_verifier`: another item's verifier never judges it).
  Rejections carry the verifier's reason (`wrong_answer`, `no_number`, `mismatch`, ...).
- `dedup`, `near-dup`, `decontaminate`: exact duplicates (`exact_duplicate`), MinHash LSH near
  duplicates (`near_duplicate`) and eval leaks against `eval_sets` and `eval_skills`
  (`eval_leak_exact`, `eval_leak_ngram`, `eval_leak_problem`); `dedup.py` has the rules.
- `length`: prompt + completion characters within [`min_chars`, `max_chars`]: `too_short`, `too_long`.

Outputs, written atomically into the output directory: `kept.jsonl` (TRL records),
`rejected.jsonl` (`{reason, step, line, detail, record}` a line) and `stats.json` (counts).
"""

from __future__ import annotations

import json
import os
import re
import time
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator


from dataladder.data.dedup import decontaminate, dedup, near_dedup
from dataladder.data.formats import map_texts, read_raw, to_trl
from dataladder.data.records import (STEPS, CurateConfig, Doc, Reject, Rejects, _doc_skill, _resolved,  # noqa: F401
                                     _resolved_at, _skill, prompt_of)
from dataladder.core.errors import InputError, not_a_file

# ---------------------------------------------------------------- text helpers

_HSPACE = re.compile(r"[^\S\n]+")
_FENCE = re.compile(r"(```[^\n]*\n.*?```)", re.S)


def normalize_text(text: str, keep_lead: bool = True) -> str:
    """NFKC, one space for runs of spaces/tabs inside a line, no line-end spaces, ≤ 1 blank line, no outer
    newlines; leading indentation and fenced code blocks are kept as written."""
    t = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = _FENCE.split(t)
    for i in range(0, len(parts), 2):  # outside fences
        lines = []
        for line in unicodedata.normalize("NFKC", parts[i]).split("\n"):
            body = line.lstrip(" \t")
            lines.append(line[: len(line) - len(body)] + _HSPACE.sub(" ", body).rstrip())
        parts[i] = "\n".join(lines)
    t = re.sub(r"\n{3,}", "\n\n", "".join(parts)).strip("\n").rstrip()
    if "\n" not in t:  # one line: TRL joins prompt and completion, so a leading space stays one space
        lead = keep_lead and t[:1].isspace() and t.strip() != ""
        t = t.strip()
        return (" " + t) if lead and t else t
    return t


# record fields that are not the verifier's input (the rest reach it as keywords: tests, schema, entry_point, ...)
_NOT_FIELDS = {"prompt", "completion", "messages", "chosen", "rejected", "skill", "answer", "verifier", "source",
               "provenance", "noise", "chat", "id", "format", "hard", "flipped", "key", "label"}


def record_fields(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in _NOT_FIELDS}


# ---------------------------------------------------------------- steps

def validate(raws: Iterator[tuple[int, object]], reject: Reject, cfg: CurateConfig, file: str) -> Iterator[Doc]:
    """Raw records → TRL `Doc`s; bad ones raise InputError or, with skip_bad, are `bad_record:<field>`."""
    from dataladder.core.registry import UnknownName
    from dataladder.skills.spec import jsonl_spec
    from dataladder.verify import get_verifier

    for line, raw in raws:
        try:
            fmt, rec = to_trl(raw, file, line)
            if "skill" in rec:
                try:
                    _skill(rec["skill"], cfg)
                except (UnknownName, ValueError, InputError) as e:
                    hint = "" if jsonl_spec(rec["skill"]) else \
                        " (a JSONL skill: give its file with --skill or --eval-skill, or name it file.jsonl:name)"
                    raise InputError(str(e) + hint, file, line, "skill") from None
            if "verifier" in rec:
                try:
                    get_verifier(rec["verifier"])
                except ValueError as e:
                    raise InputError(str(e), file, line, "verifier") from None
        except InputError as e:
            if not cfg.skip_bad:
                raise
            reject(None, f"bad_record:{e.field or 'record'}", "validate", e.message, line=line, record=_jsonable(raw))
            continue
        yield Doc(rec, line, fmt)


def _jsonable(raw: object) -> object:
    return str(raw) if not isinstance(raw, (dict, list)) else raw


def normalize(docs: Iterator[Doc], reject: Reject, cfg: CurateConfig) -> Iterator[Doc]:
    """NFKC and whitespace policy (module docstring) on every text; never rejects, never touches code."""
    for d in docs:
        sk = _doc_skill(d, cfg)
        runs_code = str(d.data.get("verifier") or (sk.verifier if sk else "")).startswith("python-tests")
        if not runs_code and (sk is None or sk.normalize):
            d.data = map_texts(d.data, lambda _field, text: normalize_text(text))
        yield d


def verify(docs: Iterator[Doc], reject: Reject, cfg: CurateConfig) -> Iterator[Doc]:
    """Check each completion against its reference answer (module docstring for the rules)."""
    from dataladder.verify import get_verifier

    verifiers = lru_cache(maxsize=64)(get_verifier)
    for d in docs:
        completion = d.completion
        sk = _doc_skill(d, cfg)
        item = sk.problem_of(prompt_of(d.data)) if sk is not None else None
        extra = {**(item.data if item is not None else {}), **record_fields(d.data)}
        spec = d.data.get("verifier") or (item.data.get("verifier") if item is not None else None)
        # a skill whose items disagree on the verifier has none for a prompt none of them asks: never item 0's
        no_item = spec is None and sk is not None and sk.per_item
        fn = None if no_item else verifiers(spec) if spec else (sk.verify if sk else None)
        answer = d.data.get("answer", item.answer if item is not None else None)
        # regex, code and schema verifiers judge a completion without a reference answer
        name = str(spec or (sk.verifier if sk else "")).partition(":")[0]
        needs_answer = name in ("exact", "exact-line", "numeric", "contains")
        if fn is None or not completion or (answer is None and needs_answer):
            why = "no_item_verifier" if no_item else "unverifiable"
            if cfg.require_verified:
                reject(d, why, "verify", f"no item of skill {sk.name} asks this prompt, and its items' verifiers "
                       f"differ ({sk.verifier}): give the record its own 'verifier'" if no_item else
                       "no verifier" if fn is None else "no answer")
                continue
            d.cache["unverified"] = why
            yield d
            continue
        v = fn(completion, answer if answer is not None else "", **extra)
        if v.ok:
            yield d
        else:
            reject(d, v.reason or "rejected", "verify", f"expected {answer!r}, got {completion!r}"[:300])


def length(docs: Iterator[Doc], reject: Reject, cfg: CurateConfig) -> Iterator[Doc]:
    """Keep records whose prompt + completion length lies in [min_chars, max_chars]."""
    for d in docs:
        n = len(d.prompt) + len(d.completion)
        if n < cfg.min_chars:
            reject(d, "too_short", "length", f"{n} < {cfg.min_chars} characters")
        elif cfg.max_chars is not None and n > cfg.max_chars:
            reject(d, "too_long", "length", f"{n} > {cfg.max_chars} characters")
        else:
            yield d


STEP_FNS = {"normalize": normalize, "verify": verify, "dedup": dedup, "near-dup": near_dedup,
            "decontaminate": decontaminate, "length": length}


# ---------------------------------------------------------------- the pipeline

class _Timed:
    """Wrap a generator; `seconds` is the time spent inside it and its upstream (inclusive)."""

    def __init__(self, gen: Iterator, counter: list[int]):
        self.gen, self.seconds, self.count = gen, 0.0, counter

    def __iter__(self):
        while True:
            t = time.perf_counter()
            try:
                x = next(self.gen)
            except StopIteration:
                self.seconds += time.perf_counter() - t
                return
            self.seconds += time.perf_counter() - t
            self.count[0] += 1
            yield x


def check_steps(steps: list[str]) -> list[str]:
    from dataladder.core.registry import did_you_mean

    if not steps:
        raise ValueError(f"--steps: name at least one step ({', '.join(STEPS)})")
    for i, s in enumerate(steps):
        if s not in STEPS:
            raise ValueError("--steps: " + did_you_mean("step", s, list(STEPS)))
        if s in steps[:i]:
            raise ValueError(f"--steps: {s!r} is given twice")
    return ["validate"] + [s for s in steps if s != "validate"]


def curate(input_path: str | Path, output_dir: str | Path, cfg: CurateConfig | None = None,
           on_record: Callable[[int], None] | None = None) -> dict:
    """Run the steps over `input_path`; write kept.jsonl, rejected.jsonl and stats.json; return the stats."""
    cfg = cfg or CurateConfig()
    steps = check_steps(cfg.steps)
    for name in ([cfg.skill] if cfg.skill else []) + list(cfg.eval_skills):
        _resolved(name)
    for p in cfg.eval_sets:
        if why := not_a_file(p):
            raise InputError(f"--eval-set {p}: {why}")  # the option that named it (a plan's curate takes none)
    input_path, out = Path(input_path), Path(output_dir)
    if why := not_a_file(input_path):
        raise InputError(why, str(input_path))
    created = [d for d in (out, *out.parents) if not d.exists()]  # removed again, deepest first, if refused
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.tmp" for name in ("kept.jsonl", "rejected.jsonl")}
    t0 = time.perf_counter()
    try:
        reject = Rejects(paths["rejected.jsonl"])
        counts = [[0] for _ in steps]
        n_in = [0]

        def source():
            for x in read_raw(input_path):
                n_in[0] += 1
                yield x

        stages: list[_Timed] = []
        stream = _Timed(validate(source(), reject, cfg, str(input_path)), counts[0])
        stages.append(stream)
        for i, s in enumerate(steps[1:], 1):
            stream = _Timed(STEP_FNS[s](iter(stream), reject, cfg), counts[i])
            stages.append(stream)
        kept, unverified, formats = 0, Counter(), Counter()
        with paths["kept.jsonl"].open("w", encoding="utf-8") as f:
            for d in stream:
                f.write(json.dumps(d.data, ensure_ascii=False) + "\n")
                kept += 1
                if d.cache.get("unverified"):
                    unverified[d.cache["unverified"]] += 1
                formats[d.fmt] += 1
                if on_record and kept % 1000 == 0:
                    on_record(n_in[0])
        reject.f.close()
        seconds = time.perf_counter() - t0
        prev_in, prev_s = n_in[0], 0.0
        per_step = {}
        for s, st, c in zip(steps, stages, counts):
            per_step[s] = {"in": prev_in, "out": c[0], "dropped": prev_in - c[0], "seconds": round(st.seconds - prev_s, 4)}
            prev_in, prev_s = c[0], st.seconds
        stats = {
            "input": str(input_path), "in": n_in[0], "kept": kept, "rejected": sum(reject.counts.values()),
            "dropped": dict(sorted(reject.counts.items())), "unverified_kept": sum(unverified.values()),
            "unverified_reasons": dict(sorted(unverified.items())),
            "kept_formats": dict(formats), "steps": per_step, "seconds": round(seconds, 3),
            "records_per_second": round(n_in[0] / seconds, 1) if seconds > 0 else None,
            "config": cfg.model_dump(),
        }
        stats_tmp = out / "stats.json.tmp"
        stats_tmp.write_text(json.dumps(stats, indent=2))
        for name, tmp in paths.items():
            os.replace(tmp, out / name)
        os.replace(stats_tmp, out / "stats.json")
    except BaseException:
        if "reject" in locals():
            reject.f.close()
        for tmp in [*paths.values(), out / "stats.json.tmp"]:
            tmp.unlink(missing_ok=True)
        for d in created:
            if any(d.iterdir()):
                break
            d.rmdir()
        raise
    return stats
