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
- `dedup`: exact duplicates of prompt + completion text (after normalize, if it ran); the first
  is kept, the others are `exact_duplicate`.
- `near-dup`: MinHash LSH on character shingles of a signature text (NFKC, casefolded, words
  and math symbols only) of prompt + completion; candidates are confirmed by exact Jaccard ≥
  `near_dup_threshold` and by carrying the same numbers in the same order (`12+7=19` and
  `12+8=20` differ in one character, but are different problems). The first of each cluster
  is kept; the others are `near_duplicate`.
- `decontaminate`: against eval prompts from `eval_sets` (files in any format) and
  `eval_skills` (each built-in skill's first `eval_n` eval items in all formats):
  `eval_leak_exact` when the prompt's signature equals an eval prompt's;
  `eval_leak_ngram` when the record holds ≥ `ngram_overlap` of some eval prompt's word n-grams,
  n = min(13, max(3, tokens // 2)) sized by that eval prompt (n-grams shared by more than
  `max_df` eval prompts are templates and never start a match); `eval_leak_problem` when a
  built-in arithmetic item (the record's skill or any eval skill) parsed from the prompt lies
  in the skill's eval partition, whatever its wording or operand order.
- `length`: prompt + completion characters within [`min_chars`, `max_chars`]: `too_short`, `too_long`.

Outputs, written atomically into the output directory: `kept.jsonl` (TRL records),
`rejected.jsonl` (`{reason, step, line, detail, record}` a line) and `stats.json` (counts).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import unicodedata
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
from pydantic import BaseModel, Field

from dataladder.data.formats import completion_text, map_texts, prompt_text, read_raw, read_trl, to_trl
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
_TOKEN = re.compile(r"\w+|[+\-*/=<>%^]")
_NUM = re.compile(r"\d+")


def normalize_text(text: str, keep_lead: bool = True) -> str:
    """NFKC, one space for runs of spaces/tabs, no line-end spaces, ≤ 1 blank line, no outer newlines."""
    lead = keep_lead and text[:1].isspace() and text.strip() != ""
    t = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    t = _HSPACE.sub(" ", t)
    t = "\n".join(line.strip(" ") for line in t.split("\n"))
    t = re.sub(r"\n{3,}", "\n\n", t).strip()
    return (" " + t) if lead and t else t


def tokens(text: str) -> list[str]:
    """Signature tokens: casefolded words and math symbols of the NFKC text (punctuation dropped)."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def signature(text: str) -> str:
    return " ".join(tokens(text))


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
    nums = [int(x) for x in _NUM.findall(expr)]
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


def _text_key(d: Doc) -> str:
    rej = d.data.get("rejected")
    return d.prompt + "\x1f" + d.completion + ("\x1f" + json.dumps(rej) if rej is not None else "")


def dedup(docs: Iterator[Doc], reject: Reject, cfg: CurateConfig) -> Iterator[Doc]:
    """Drop exact duplicates of prompt + completion; keep the first."""
    seen: dict[bytes, int] = {}
    for d in docs:
        k = hashlib.blake2b(_text_key(d).encode(), digest_size=16).digest()
        if k in seen:
            reject(d, "exact_duplicate", "dedup", f"same as line {seen[k]}")
            continue
        seen[k] = d.line
        yield d


class MinHasher:
    """Vectorised MinHash over CRC32 shingle hashes (multiply-shift hashing, one row per permutation)."""

    def __init__(self, num_perm: int, shingle: int, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, 2**63, num_perm, dtype=np.uint64) | np.uint64(1)
        self.b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)
        self.k = shingle

    def shingles(self, text: str) -> np.ndarray:
        k = self.k
        grams = {text[i:i + k] for i in range(max(1, len(text) - k + 1))}
        return np.unique(np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64, count=len(grams)))

    def signatures(self, sets: list[np.ndarray]) -> np.ndarray:
        """(len(sets), num_perm) uint32 MinHash signatures."""
        flat = np.concatenate(sets)
        starts = np.cumsum([0] + [len(s) for s in sets[:-1]])
        h = np.empty((len(self.a), len(flat)), dtype=np.uint64)  # one contiguous row per permutation
        with np.errstate(over="ignore"):  # arithmetic mod 2^64 is the point
            np.multiply(self.a[:, None], flat[None, :], out=h)
            h += self.b[:, None]
            h >>= np.uint64(32)
        return np.minimum.reduceat(h, starts, axis=1).T.astype(np.uint32)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


class BandIndex:
    """MinHash LSH: signatures cut into b bands of r rows (datasketch's optimal b, r for the threshold);
    records sharing a band (and their numbers) are candidates. Band keys are hashed with numpy per chunk,
    so a lookup is one dict access per band (datasketch's `MinHashLSH` costs ~0.5 ms a record here)."""

    def __init__(self, threshold: float, num_perm: int, seed: int = 2):
        from datasketch.lsh import _optimal_param

        self.b, self.r = _optimal_param(threshold, num_perm, 0.5, 0.5)
        self.mult = np.random.default_rng(seed).integers(1, 2**63, self.r, dtype=np.uint64) | np.uint64(1)
        self.tables: list[dict[int, list[int]]] = [{} for _ in range(self.b)]

    def keys(self, sigs: np.ndarray, salt: np.ndarray) -> list[list[int]]:
        """Band keys (n, b) for signatures `sigs` (n, num_perm); `salt` (n,) separates records that must not meet."""
        bands = sigs[:, : self.b * self.r].reshape(len(sigs), self.b, self.r).astype(np.uint64)
        with np.errstate(over="ignore"):
            return ((bands * self.mult).sum(axis=2) ^ salt[:, None]).tolist()

    def query(self, keys: list[int]) -> list[int]:
        out: list[int] = []
        for table, k in zip(self.tables, keys):
            out.extend(table.get(k, ()))
        return list(dict.fromkeys(out))

    def insert(self, keys: list[int], ident: int) -> None:
        for table, k in zip(self.tables, keys):
            table.setdefault(k, []).append(ident)


def near_dedup(docs: Iterator[Doc], reject: Reject, cfg: CurateConfig, chunk: int = 2048) -> Iterator[Doc]:
    """MinHash LSH near-duplicate removal; keeps the first of each cluster (module docstring)."""
    hasher = MinHasher(cfg.num_perm, cfg.shingle)
    # retrieve at a lower threshold than we confirm at: banding misses some pairs just above its threshold
    index = BandIndex(max(0.05, cfg.near_dup_threshold - 0.15), cfg.num_perm)
    kept: list[tuple[np.ndarray, int]] = []
    buf: list[Doc] = []

    def flush() -> Iterator[Doc]:
        texts = [signature(d.prompt + " " + d.completion) for d in buf]
        sets = [hasher.shingles(t) for t in texts]
        salt = np.array([zlib.crc32(",".join(_NUM.findall(t)).encode()) for t in texts], dtype=np.uint64)
        keys = index.keys(hasher.signatures(sets), salt << np.uint64(32))
        for i, d in enumerate(buf):
            match = next((kept[c][1] for c in index.query(keys[i])
                          if jaccard(kept[c][0], sets[i]) >= cfg.near_dup_threshold), None)
            if match is not None:
                reject(d, "near_duplicate", "near-dup", f"near line {match}")
                continue
            index.insert(keys[i], len(kept))
            kept.append((sets[i], d.line))
            yield d
        buf.clear()

    for d in docs:
        buf.append(d)
        if len(buf) >= chunk:
            yield from flush()
    if buf:
        yield from flush()


def ngram_n(n_tokens: int) -> int:
    """n for an item of `n_tokens` tokens: half its length, between 3 and 13 (never above its length)."""
    return max(1, min(n_tokens, 13, max(3, n_tokens // 2)))


class EvalIndex:
    """Eval prompts, indexed for normalized exact match and n-gram overlap."""

    def __init__(self, prompts: list[str], max_df: int):
        self.exact: dict[str, int] = {}
        self.grams: list[set[tuple]] = []
        self.prompts = prompts
        postings: dict[int, dict[tuple, list[int]]] = defaultdict(lambda: defaultdict(list))
        for i, p in enumerate(prompts):
            toks = tokens(p)
            self.exact.setdefault(" ".join(toks), i)
            n = ngram_n(len(toks))
            g = {tuple(toks[j:j + n]) for j in range(len(toks) - n + 1)}
            self.grams.append(g)
            for gram in g:
                postings[n][gram].append(i)
        # n-grams in many eval prompts are template text ("question what is"): they never start a match
        self.postings = {n: {g: ids for g, ids in p.items() if len(ids) <= max_df} for n, p in postings.items()}

    def match(self, prompt: str, text: str, overlap: float) -> tuple[str, int] | None:
        """('exact' | 'ngram', eval index) of the first eval prompt this record leaks, or None."""
        i = self.exact.get(signature(prompt))
        if i is not None:
            return "exact", i
        toks = tokens(text)
        for n, post in self.postings.items():
            mine = {tuple(toks[j:j + n]) for j in range(len(toks) - n + 1)}
            cands = {e for g in mine for e in post.get(g, ())}
            for e in sorted(cands):
                if len(self.grams[e] & mine) >= overlap * len(self.grams[e]):
                    return "ngram", e
        return None


def eval_prompts(cfg: CurateConfig) -> list[str]:
    """The eval prompts of `eval_sets` and of each `eval_skills` skill's first `eval_n` items, all formats."""
    prompts: list[str] = []
    for path in cfg.eval_sets:
        prompts.extend(prompt_text(rec) for _, rec in read_trl(path))
    for name in cfg.eval_skills:
        sk = _skill(name, cfg.digits)
        items = sk.items("eval", cfg.eval_n, 0)
        for f in sk.formats.values():
            prompts.extend(f.prompt(it) for it in items)
    return prompts


def decontaminate(docs: Iterator[Doc], reject: Reject, cfg: CurateConfig) -> Iterator[Doc]:
    """Drop records that leak eval items: exact, n-gram overlap, or the same arithmetic problem."""
    index = EvalIndex(eval_prompts(cfg), cfg.max_df)
    builtin_evals = [_skill(n, cfg.digits) for n in cfg.eval_skills if n in ARITH]
    for d in docs:
        prompt = d.prompt
        hit = index.match(prompt, prompt + "\n" + d.completion, cfg.ngram_overlap) if index.prompts else None
        if hit:
            reject(d, f"eval_leak_{hit[0]}", "decontaminate", f"eval prompt {index.prompts[hit[1]]!r}")
            continue
        sk = _doc_skill(d, cfg)
        leaked = None
        for s in ([sk] if sk is not None and sk.name in ARITH else []) + builtin_evals:
            it = recover_item(s.name, prompt)
            if it is not None and s.is_eval(it):
                leaked = f"{s.name} eval item {it.key}"
                break
        if leaked:
            reject(d, "eval_leak_problem", "decontaminate", leaked)
            continue
        yield d


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
