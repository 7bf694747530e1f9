"""Duplicates and eval leaks: the `dedup`, `near-dup` and `decontaminate` steps of curation.

    dataladder curate data.jsonl --steps dedup,near-dup,decontaminate --eval-skill add

or one step on its own over `Doc`s (see `curate.py`): `near_dedup(docs, reject, CurateConfig())`.

- `dedup`: exact duplicates of prompt + completion text (after normalize, if it ran); the first
  is kept, the others are `exact_duplicate`.
- `near-dup`: MinHash LSH on character shingles of a signature text (NFKC, casefolded, words
  and math symbols only) of prompt + completion; candidates are confirmed by exact Jaccard ≥
  `near_dup_threshold` and by carrying the same numbers in the same order (`12+7=19` and
  `12+8=20` differ in one character, but are different problems). The first of each cluster
  is kept; the others are `near_duplicate`.
- `decontaminate`: against eval prompts from `eval_sets` (files in any format) and
  `eval_skills` (each skill's first `eval_n` eval items in all formats, built-in or JSONL):
  `eval_leak_exact` when the prompt's signature equals an eval prompt's;
  `eval_leak_ngram` when the record holds ≥ `ngram_overlap` of some eval prompt's word n-grams,
  n = min(13, max(3, tokens // 2)) sized by that eval prompt (n-grams shared by more than
  `max_df` eval prompts are templates and never start a match); `eval_leak_problem` when the
  `problem` hook of the record's skill or of any eval skill finds an eval item in the prompt: an
  arithmetic problem whatever its wording or operand order; a JSONL item's question raw, as
  messages, or rendered in a chat template by hand (`skills.text.text_key`).

The near-dup number guard is general, not arithmetic's: two texts that carry different numbers (in
order) never count as near duplicates (`add_3` and `add_4`, `12+7=19` and `12+8=20`).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import zlib
from collections import defaultdict
from typing import TYPE_CHECKING, Iterator

import numpy as np

from dataladder.data.formats import prompt_text, read_trl

if TYPE_CHECKING:
    from dataladder.data.records import CurateConfig, Doc, Reject


# ---------------------------------------------------------------- signature text

_TOKEN = re.compile(r"\w+|[+\-*/=<>%^]")
_NUM = re.compile(r"\d+")


def tokens(text: str) -> list[str]:
    """Signature tokens: casefolded words and math symbols of the NFKC text (punctuation dropped)."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def signature(text: str) -> str:
    return " ".join(tokens(text))


# ---------------------------------------------------------------- exact duplicates

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


# ---------------------------------------------------------------- near duplicates

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


# ---------------------------------------------------------------- eval leaks

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
    from dataladder.data.records import _resolved

    prompts: list[str] = []
    for path in cfg.eval_sets:
        prompts.extend(prompt_text(rec) for _, rec in read_trl(path))
    for name in cfg.eval_skills:
        for sk in _resolved(name):
            items = sk.items("eval", cfg.eval_n, 0)
            for f in sk.formats.values():
                prompts.extend(f.prompt(it) for it in items)
    return prompts


def decontaminate(docs: Iterator[Doc], reject: Reject, cfg: CurateConfig) -> Iterator[Doc]:
    """Drop records that leak eval items: exact, n-gram overlap, or the same arithmetic problem."""
    from dataladder.data.records import _doc_skill, _resolved, prompt_of

    index = EvalIndex(eval_prompts(cfg), cfg.max_df)
    eval_skills = [sk for n in cfg.eval_skills for sk in _resolved(n)]
    for d in docs:
        prompt = d.prompt
        hit = index.match(prompt, prompt + "\n" + d.completion, cfg.ngram_overlap) if index.prompts else None
        if hit:
            reject(d, f"eval_leak_{hit[0]}", "decontaminate", f"eval prompt {index.prompts[hit[1]]!r}")
            continue
        sk = _doc_skill(d, cfg)
        leaked = None
        for s in ([sk] if sk is not None else []) + eval_skills:
            it = s.eval_item_of(prompt_of(d.data))
            if it is not None:
                leaked = f"{s.name} eval item {it.key}"[:200]
                break
        if leaked:
            reject(d, "eval_leak_problem", "decontaminate", leaked)
            continue
        yield d
