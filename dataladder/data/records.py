"""What the curation steps share (`curate.py` runs them, `dedup.py` holds the dedup and decontamination
rules): the config, a record on its way through the steps, the rejection sink, and the skill a record names."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

from pydantic import BaseModel, Field, model_validator

from dataladder.data.formats import completion_text, prompt_text

STEPS = ("validate", "normalize", "verify", "dedup", "near-dup", "decontaminate", "length")


class CurateConfig(BaseModel, allow_inf_nan=False):
    """What `curate` does; each field is a `dataladder curate` option."""

    steps: list[str] = Field(list(STEPS), description="steps in order; validate always runs first")
    skill: Optional[str] = Field(None, description="skill of records without a 'skill' field (name or JSONL file)")
    skip_bad: bool = Field(False, description="reject bad records as bad_record:<field> instead of stopping")
    require_verified: bool = Field(False, description="reject records that cannot be verified")
    near_dup_threshold: float = Field(0.8, gt=0, le=1, description="Jaccard similarity at which records are near duplicates")
    shingle: int = Field(4, ge=1, description="character shingle size for near-dup")
    num_perm: int = Field(128, ge=16, description="MinHash permutations")
    eval_sets: list[str] = Field([], description="eval files (JSONL, JSON or Parquet, any format) to decontaminate against")
    eval_skills: list[str] = Field([], description="skills whose eval items are off limits (built-in or JSONL)")
    eval_n: int = Field(1000, ge=1, description="eval items per --eval-skill whose prompts are matched as text")
    ngram_overlap: float = Field(0.8, gt=0, le=1, description="share of an eval prompt's n-grams that makes a leak")
    max_df: int = Field(20, ge=1, description="n-grams in more eval prompts than this are template text")
    min_chars: int = Field(1, ge=0, le=100_000_000, description="min characters of prompt + completion")
    max_chars: Optional[int] = Field(None, ge=1, le=100_000_000, description="max characters of prompt + completion")

    @model_validator(mode="after")
    def _lengths(self):
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError(f"max_chars (--max-chars) {self.max_chars} is below min_chars (--min-chars) "
                             f"{self.min_chars}: every record would be rejected")
        return self


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


# ---------------------------------------------------------------- skills

def _resolved(spec: str) -> tuple:
    """The skills of a spec, cached per spec and JSONL file version (records ask about the same few skills)."""
    from dataladder.skills.spec import jsonl_spec

    js = jsonl_spec(spec)
    st = js[0].stat() if js is not None and js[0].is_file() else None
    return _resolved_at(spec, (st.st_mtime_ns, st.st_size) if st else None)


@lru_cache(maxsize=256)
def _resolved_at(spec: str, _version: tuple | None) -> tuple:
    from dataladder.skills import resolve_skills

    return tuple(resolve_skills([spec]))


def _skill(spec: str, cfg: CurateConfig | None = None):
    """The skill a record or option names: a skill of `--skill` / `--eval-skill` by its name, else a spec."""
    for given in ([cfg.skill] if cfg and cfg.skill else []) + (list(cfg.eval_skills) if cfg else []):
        for sk in _resolved(given):
            if spec in (sk.name, sk.spec):
                return sk
    skills = _resolved(spec)
    if len(skills) != 1:
        raise ValueError(f"skill {spec!r}: names {len(skills)} skills; give one")
    return skills[0]


def _doc_skill(doc: Doc, cfg: CurateConfig):
    name = doc.data.get("skill") or cfg.skill
    return _skill(name, cfg) if name else None


def prompt_of(rec: dict) -> str | list:
    """A record's prompt as its skill's `problem` hook takes it: the turns before the answer, or the text."""
    if "messages" in rec:
        msgs = rec["messages"]
        return msgs[:-1] if msgs[-1]["role"] == "assistant" else msgs
    return rec["prompt"]
