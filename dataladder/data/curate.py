"""Curation: a list of steps over records, each a generator, datatrove-style.

    dataladder curate data.jsonl --output-dir runs/curated --eval-skill add

or from Python: `curate("data.jsonl", "runs/curated", CurateConfig(eval_skills=["add"]))`.

Steps (`CurateConfig.steps`, any order after `validate`, which always runs first):

- `validate`: detect the format and convert to TRL (see `formats.py`); check `skill` resolves and
  `verifier` parses. A bad record stops the run with file, line and field, or with `skip_bad`
  is rejected as `bad_record:<field>`.
- `normalize`: every text (all turns) → Unicode NFKC, `\\r\\n` → `\\n`, runs of spaces and tabs →
  one space, no space at line ends, at most one blank line in a row, no leading or trailing
  newline. A text that started with whitespace keeps exactly one leading space (TRL joins
  prompt and completion, so `" 19"` must stay `" 19"`).
- `verify`: the completion (`completion`, `chosen`, or the last assistant turn) is checked by
  the record's `verifier` spec, else by its skill's verifier (`skill` field, else
  `CurateConfig.skill`). The reference answer is the record's `answer`; without one, a
  built-in arithmetic skill recomputes it from the prompt (the expression is parsed from
  `12+7=` or `What is 12 plus 7?`). A record with no verifier or no answer is counted as
  `unverified` and kept, or rejected as `unverifiable` with `require_verified`. Rejections
  carry the verifier's reason (`wrong_answer`, `no_number`, `mismatch`, ...).
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
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, Optional

from pydantic import BaseModel, Field

from dataladder.data.dedup import decontaminate, dedup, near_dedup
from dataladder.data.formats import completion_text, map_texts, prompt_text, read_raw, to_trl
from dataladder.errors import InputError

STEPS = ("validate", "normalize", "verify", "dedup", "near-dup", "decontaminate", "length")


class CurateConfig(BaseModel):
    """What `curate` does; each field is a `dataladder curate` option."""

    steps: list[str] = Field(list(STEPS), description="steps in order; validate always runs first")
    skill: Optional[str] = Field(None, description="skill of records without a 'skill' field (name or JSONL file)")
    digits: int = Field(2, description="max operand digits of the built-in arithmetic skills")
    skip_bad: bool = Field(False, description="reject bad records as bad_record:<field> instead of stopping")
    require_verified: bool = Field(False, description="reject records that cannot be verified")
    near_dup_threshold: float = Field(0.8, gt=0, le=1, description="Jaccard similarity at which records are near duplicates")
    shingle: int = Field(4, ge=1, description="character shingle size for near-dup")
    num_perm: int = Field(128, ge=16, description="MinHash permutations")
    eval_sets: list[str] = Field([], description="eval files (JSONL, JSON or Parquet, any format) to decontaminate against")
    eval_skills: list[str] = Field([], description="built-in skills whose eval partition is off limits")
    eval_n: int = Field(1000, ge=1, description="eval items per --eval-skill whose prompts are matched as text")
    ngram_overlap: float = Field(0.8, gt=0, le=1, description="share of an eval prompt's n-grams that makes a leak")
    max_df: int = Field(20, ge=1, description="n-grams in more eval prompts than this are template text")
    min_chars: int = Field(1, ge=0, description="min characters of prompt + completion")
    max_chars: Optional[int] = Field(None, description="max characters of prompt + completion")


@dataclass
class Doc:
    """One record on its way through the steps; `data` is what gets written."""

    data: dict
    line: int
    fmt: str = ""
    cache: dict = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        return prompt_text(self.data)

    @property
    def completion(self) -> str:
        return completion_text(self.data)


class Rejects:
    """The rejection sink: one `rejected.jsonl` line per rejected record and counts per reason."""

    def __init__(self, path: Path):
        self.f = path.open("w", encoding="utf-8")
        self.counts: Counter[str] = Counter()

    def __call__(self, doc: Doc | None, reason: str, step: str, detail: str | None = None, *, line: int | None = None,
                 record: object = None) -> None:
        self.counts[reason] += 1
        row = {"reason": reason, "step": step, "line": doc.line if doc else line, "detail": detail,
               "record": doc.data if doc else record}
        self.f.write(json.dumps(row, ensure_ascii=False) + "\n")


Reject = Callable[..., None]


# ---------------------------------------------------------------- text helpers

_HSPACE = re.compile(r"[^\S\n]+")


def normalize_text(text: str, keep_lead: bool = True) -> str:
    """NFKC, one space for runs of spaces/tabs, no line-end spaces, ≤ 1 blank line, no outer newlines."""
    lead = keep_lead and text[:1].isspace() and text.strip() != ""
    t = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    t = _HSPACE.sub(" ", t)
    t = "\n".join(line.strip(" ") for line in t.split("\n"))
    t = re.sub(r"\n{3,}", "\n\n", t).strip()
    return (" " + t) if lead and t else t


# ---------------------------------------------------------------- skills and arithmetic items

_WORD_OPS = [(re.compile(r"\bdivided\s+by\b"), "/"), (re.compile(r"\bplus\b"), "+"), (re.compile(r"\bminus\b"), "-"),
             (re.compile(r"\btimes\b"), "*"), (re.compile(r"[×x](?=\s*\d)"), "*"), (re.compile(r"÷"), "/")]
_EXPR = re.compile(r"\d+(?:\s*[-+*/]\s*\d+)+")
ARITH = ("add", "sub", "mul", "div", "mixed")


@lru_cache(maxsize=256)
def _skill(spec: str, digits: int):
    from dataladder.skills import resolve_skills

    skills = resolve_skills([spec], digits)
    if len(skills) != 1:
        raise ValueError(f"skill {spec!r}: names {len(skills)} skills; give one")
    return skills[0]


@lru_cache(maxsize=4096)  # verify and decontaminate ask about the same prompts
def recover_item(skill_name: str, prompt: str):
    """The arithmetic `Item` a prompt asks about (`12+7=`, `What is 12 plus 7?`), or None."""
    from dataladder.skills.arithmetic import OP_SYMBOL, _binary_item, _evaluate
    from dataladder.skills.base import Item

    if skill_name not in ARITH:
        return None
    text = prompt.lower()
    for pat, sym in _WORD_OPS:
        text = pat.sub(sym, text)
    m = _EXPR.search(text)
    if not m:
        return None
    expr = re.sub(r"\s+", "", m.group(0))
    nums = [int(x) for x in re.findall(r"\d+", expr)]
    ops = re.findall(r"[-+*/]", expr)
    if skill_name == "mixed":
        if "/" in ops or len(nums) < 3:
            return None
        return Item(skill="mixed", key=expr, answer=str(_evaluate(expr)), data={"operands": nums, "ops": ops})
    if len(nums) != 2 or ops[0] != OP_SYMBOL[skill_name] or (skill_name == "div" and nums[1] == 0):
        return None
    return _binary_item(skill_name, nums[0], nums[1])


def _doc_skill(doc: Doc, cfg: CurateConfig):
    name = doc.data.get("skill") or cfg.skill
    return _skill(name, cfg.digits) if name else None


# ---------------------------------------------------------------- steps

def validate(raws: Iterator[tuple[int, object]], reject: Reject, cfg: CurateConfig, file: str) -> Iterator[Doc]:
    """Raw records → TRL `Doc`s; bad ones raise InputError or, with skip_bad, are `bad_record:<field>`."""
    from dataladder.registry import UnknownName
    from dataladder.verify import get_verifier

    for line, raw in raws:
        try:
            fmt, rec = to_trl(raw, file, line)
            if "skill" in rec:
                try:
                    _skill(rec["skill"], cfg.digits)
                except (UnknownName, ValueError) as e:
                    raise InputError(str(e), file, line, "skill") from None
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
    """NFKC and whitespace policy (module docstring) on every text; never rejects."""
    for d in docs:
        d.data = map_texts(d.data, lambda _field, text: normalize_text(text))
        yield d


def verify(docs: Iterator[Doc], reject: Reject, cfg: CurateConfig) -> Iterator[Doc]:
    """Check each completion against its reference answer (module docstring for the rules)."""
    from dataladder.verify import get_verifier

    verifiers = lru_cache(maxsize=64)(get_verifier)
    for d in docs:
        completion = d.completion
        sk = _doc_skill(d, cfg)
        spec = d.data.get("verifier")
        fn = verifiers(spec) if spec else (sk.verify if sk else None)
        answer = d.data.get("answer")
        extra: dict = {}
        if answer is None and sk is not None:
            item = recover_item(sk.name, d.prompt)
            if item is not None:
                answer, extra = item.answer, item.data
        # regex and module:function verifiers may judge a completion without a reference answer
        needs_answer = not spec or spec.partition(":")[0] in ("exact", "numeric", "contains")
        if fn is None or not completion or (answer is None and needs_answer):
            if cfg.require_verified:
                reject(d, "unverifiable", "verify", "no verifier" if fn is None else "no answer")
                continue
            d.cache["unverified"] = True
            yield d
            continue
        v = fn(completion, answer if answer is not None else "", **extra)
        if v.ok:
            yield d
        else:
            reject(d, v.reason or "rejected", "verify", f"expected {answer!r}, got {completion!r}")


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
    from dataladder.registry import did_you_mean

    for s in steps:
        if s not in STEPS:
            raise ValueError("--steps: " + did_you_mean("step", s, list(STEPS)))
    return ["validate"] + [s for s in steps if s != "validate"]


def curate(input_path: str | Path, output_dir: str | Path, cfg: CurateConfig | None = None,
           on_record: Callable[[int], None] | None = None) -> dict:
    """Run the steps over `input_path`; write kept.jsonl, rejected.jsonl and stats.json; return the stats."""
    cfg = cfg or CurateConfig()
    steps = check_steps(cfg.steps)
    if cfg.skill:
        _skill(cfg.skill, cfg.digits)
    for name in cfg.eval_skills:
        _skill(name, cfg.digits)
    for p in cfg.eval_sets:
        if not Path(p).is_file():
            raise InputError("no such file", p, field="eval_set")
    input_path, out = Path(input_path), Path(output_dir)
    if not input_path.is_file():
        raise InputError("no such file", str(input_path))
    created = not out.exists()
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
        kept, unverified, formats = 0, 0, Counter()
        with paths["kept.jsonl"].open("w", encoding="utf-8") as f:
            for d in stream:
                f.write(json.dumps(d.data, ensure_ascii=False) + "\n")
                kept += 1
                unverified += d.cache.get("unverified", False)
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
            "dropped": dict(sorted(reject.counts.items())), "unverified_kept": unverified,
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
        if created and not any(out.iterdir()):
            out.rmdir()
        raise
    return stats
