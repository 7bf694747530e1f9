"""Preference pairs for a skill: a verified `chosen` answer and a refused `rejected` one per prompt.

    pairs = build_pairs("mul", 400, ["self", "near-miss"], model=model, tokenizer=tok, seed=0)

Each pair is `{"prompt", "chosen", "rejected", "skill", "source", "hard", "flipped", "key", "answer"}`
(TRL's preference columns plus where it came from). Sources of the rejected answer:

- `self`: the model's own wrong samples (`Generator.sample`); chosen is one of its accepted samples
  for the same prompt when it has one, else the gold completion;
- `other:<name>`: another local causal LM's wrong samples (`other_model`), chosen as for `self`;
- `endpoint:<model>`: an OpenAI-compatible server's wrong completions (`endpoint`, an `EndpointGenerator`);
- `near-miss`: the skill's `wrong` hook, a wrong answer of the answer's own type that the verifier
  refuses (arithmetic: off by one, figures swapped, off by a few; JSON: one value edited; code and
  text: one operator, constant or character changed; else another item's answer); chosen is the
  gold completion.

Every pair is checked before anything else happens to it: the skill's verifier accepts chosen
and refuses rejected, or the pair is not made. `hard` marks near misses (`skills.text.is_near`:
a number within max(2, 10%) of a numeric answer or its figures reordered; a one-token edit of any
other answer); far-off, malformed or unrelated answers are easy. `flip_share` then swaps chosen
and rejected in that share of the pairs (label noise), marking them `flipped`. Prompts come from the skill's train partition, split by a hash of the
problem into a `train` slice (80%) and a disjoint `heldout` slice (20%); eval items never appear. A finite
(JSONL) skill holds out exactly 20% of its train problems, the lowest hashes, at least one, given 5 or more.
"""

from __future__ import annotations

import hashlib
import math
import random
from pathlib import Path

from dataladder.generate import Generator
from dataladder.skills import Item, Skill
from dataladder.skills.text import is_near

HELDOUT_SHARE = 0.2  # share of the train partition's problems kept for held-out pairs
SPLITS = ("train", "heldout")
SAMPLES_PER_PROMPT = 4  # model samples per prompt for `self` / `other` / `endpoint`


def _share(skill: Skill, key: str) -> float:
    h = hashlib.blake2b(f"pairs:{skill.name}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def slice_of(skill: Skill, item: Item) -> str:
    """`train` or `heldout`: a fixed hash of the problem (`Skill.key_of`: a*b and b*a land together). A finite
    skill holds out exactly its HELDOUT_SHARE of train problems, those of lowest hash (`heldout_keys`)."""
    if skill.finite:
        return "heldout" if skill.key_of(item) in heldout_keys(skill) else "train"
    return "heldout" if _share(skill, skill.key_of(item)) < HELDOUT_SHARE else "train"


MIN_PROBLEMS = math.ceil(1 / HELDOUT_SHARE)  # a finite skill's train problems needed to hold one out


def heldout_keys(skill: Skill, pool: list[Item] | None = None) -> set[str]:
    """A finite skill's held-out problems: round(HELDOUT_SHARE·n) (at least one) of its n train problems, those of
    lowest hash, so the split is stable and never a matter of luck; none below MIN_PROBLEMS."""
    pool = skill.items("train", 1 << 30, 0) if pool is None else pool
    keys = sorted({skill.key_of(it) for it in pool if not skill.is_eval(it)}, key=lambda k: (_share(skill, k), k))
    if len(keys) < MIN_PROBLEMS:
        return set()
    return set(keys[: max(1, round(HELDOUT_SHARE * len(keys)))])


def is_hard(rejected: str, answer: str) -> bool:
    """A near miss of the gold `answer` (`skills.text.is_near`)."""
    return is_near(rejected, answer)


def source_name(source: str, other_model=None, endpoint=None) -> str:
    """The recorded name of a source: `self`, `near-miss`, `other:<name>` or `endpoint:<model>`."""
    if source == "other":
        if other_model is None:
            raise ValueError("source 'other' needs another model (--other-model PATH)")
        return f"other:{_model_name(other_model)}"
    if source == "endpoint":
        if endpoint is None:
            raise ValueError("source 'endpoint' needs --endpoint-url and --endpoint-model")
        return f"endpoint:{endpoint.options.endpoint_model}"
    if source not in ("self", "near-miss"):
        raise ValueError(f"unknown pair source {source!r}; expected self, near-miss, other or endpoint")
    return source


def _model_name(other) -> str:
    if isinstance(other, (str, Path)):
        return Path(str(other)).name or str(other)
    model = other[0] if isinstance(other, tuple) else other
    return Path(getattr(model.config, "_name_or_path", "") or "model").name or "model"


def _items(skill: Skill, split: str, n: int, seed: int) -> list[Item]:
    """Up to `n` distinct items of the train partition's `split` slice, deterministic per seed. A finite skill
    with too few train problems to hold any out raises for `heldout`, saying how many it has and needs."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if skill.finite:  # every train item, its held-out share fixed (a draw of a few might hold none out)
        pool = [it for it in skill.items("train", 1 << 30, seed) if not skill.is_eval(it)]
        held = heldout_keys(skill, pool)
        if split == "heldout" and not held:
            n_keys = len({skill.key_of(it) for it in pool})
            raise ValueError(f"skill {skill.name}: {n_keys} train problems are too few for held-out pairs: holding "
                             f"out {HELDOUT_SHARE:.0%} needs at least {MIN_PROBLEMS}; add train items (--prompts-file, "
                             "or `split: train` lines)")
        return [it for it in pool if (skill.key_of(it) in held) == (split == "heldout")][:n]
    want = max(8, int(n / (HELDOUT_SHARE if split == "heldout" else 1 - HELDOUT_SHARE) * 1.2))
    exhausted = False
    while True:
        try:
            pool = skill.items("train", want, seed)
        except ValueError:  # a small problem space: take what exists
            want, exhausted = int(want * 0.7), True
            if want < 1:
                return []
            continue
        picked = [it for it in pool if slice_of(skill, it) == split and not skill.is_eval(it)]
        if len(picked) >= n or exhausted or want > 50 * n:
            return picked[:n]
        want *= 2


def _load_other(other_model):
    if isinstance(other_model, (str, Path)):
        from dataladder.models.hub import load_model

        return load_model(str(other_model))
    if isinstance(other_model, tuple):
        return other_model
    raise ValueError("other_model must be a path or a (model, tokenizer) pair")


def _near_miss_pairs(skill: Skill, fmt: str, items: list[Item], want: int, hard_only: bool, seed: int) -> list[dict]:
    f = skill.formats[fmt]
    rng = random.Random(f"near-miss:{skill.name}:{seed}")
    others = [c for it in items[:200] if (c := f.completion(it)) is not None]
    out = []
    for it in items:
        if len(out) >= want:
            break
        chosen = f.completion(it)
        if chosen is None:  # a prompt without a gold answer (a prompts file): no rule-made pair
            continue
        rejected = None
        for _ in range(20):  # a wrong answer may land far (arithmetic: off by up to 20): redraw for hard_only
            rejected = skill.wrong_for(it, chosen, rng, others)
            if rejected is None or not hard_only or is_hard(rejected, _gold(skill, fmt, it)):
                break
        if rejected is not None:
            out.append(_pair(skill, fmt, it, chosen, rejected, "near-miss"))
    return out


def _gold(skill: Skill, fmt: str, it: Item) -> str:
    """What a rejected answer is compared with for `hard`: the answer of a number, else the gold completion."""
    numeric = it.data.get("verifier", skill.verifier).startswith("numeric")  # a per-item verifier first
    return it.answer if numeric else skill.formats[fmt].completion(it)


def _sampled_pairs(skill: Skill, fmt: str, items: list[Item], want: int, hard_only: bool, gen: Generator,
                   name: str, temperature: float, seed: int, batch: int = 256) -> list[dict]:
    f = skill.formats[fmt]
    out = []
    for s in range(0, len(items), batch):
        if len(out) >= want:
            break
        chunk = items[s : s + batch]
        samples = gen.sample([gen.prompt_for(skill, fmt, it) for it in chunk], SAMPLES_PER_PROMPT, temperature,
                             seed=seed)
        for it, texts in zip(chunk, samples):
            good = [t for t in texts if skill.score(t, it).ok and skill.gold_verdict(t, it).ok]  # JSON: the gold one
            bad = [t for t in texts if not skill.score(t, it).ok and t.strip()]
            bad = [t for t in bad if is_hard(t, _gold(skill, fmt, it))] if hard_only else bad
            if not bad or not good and f.completion(it) is None:
                continue  # every sample right (or no usable wrong one), or no right answer at all: no pair
            out.append(_pair(skill, fmt, it, good[0] if good else f.completion(it), bad[0], name))
            if len(out) >= want:
                break
    return out


def _pair(skill: Skill, fmt: str, it: Item, chosen: str, rejected: str, source: str) -> dict:
    return {"prompt": skill.example(fmt, it)["prompt"], "chosen": chosen, "rejected": rejected, "skill": skill.name,
            "source": source, "hard": is_hard(rejected, _gold(skill, fmt, it)), "flipped": False, "key": it.key,
            "answer": it.answer, **skill.fields(it)}


def verify_pair(skill: Skill, pair: dict, item: Item) -> None:
    """Raise unless the verifier accepts chosen and refuses rejected (checked before any flip)."""
    if not skill.score(pair["chosen"], item).ok:
        raise ValueError(f"skill {skill.name}: chosen {pair['chosen']!r} for {item.key} fails its verifier")
    if skill.score(pair["rejected"], item).ok:
        raise ValueError(f"skill {skill.name}: rejected {pair['rejected']!r} for {item.key} passes its verifier")


def flip(pairs: list[dict], share: float, seed: int = 0) -> list[dict]:
    """Label noise: swap chosen and rejected in round(share·len) pairs, marked `flipped`."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"flip_share must be between 0 and 1, not {share}")
    out = [dict(p) for p in pairs]
    for i in random.Random(f"flip:{seed}").sample(range(len(out)), round(share * len(out))):
        p = out[i]
        out[i] = {**p, "chosen": p["rejected"], "rejected": p["chosen"], "flipped": True}
    return out


def build_pairs(skill, n: int, sources: list[str], seed: int = 0, model=None, tokenizer=None, other_model=None,
                endpoint=None, hard_only: bool = False, flip_share: float = 0.0, split: str = "train",
                fmt: str | None = None, temperature: float = 1.0) -> list[dict]:
    """Up to `n` verified pairs for `skill` (a Skill or a built-in name), shared evenly among `sources`
    and interleaved, so any prefix has the same mix. A source that cannot fill its share (a model
    that is never wrong) gives fewer; the others are not padded. Deterministic per seed."""
    if isinstance(skill, str):
        from dataladder.skills import resolve_skills

        skill = resolve_skills([skill])[0]
    fmt = fmt or skill.native_format
    if fmt not in skill.formats:
        raise ValueError(f"skill {skill.name} has no format {fmt!r}; it has {', '.join(skill.formats)}")
    if not sources:
        raise ValueError("no pair sources given")
    names = [source_name(s, other_model, endpoint) for s in sources]
    shares = [n // len(sources) + (i < n % len(sources)) for i in range(len(sources))]
    # model sources make no pair where every sample is right: keep three prompts per wanted pair
    items = _items(skill, split, max(shares) * (3 if set(sources) - {"near-miss"} else 1) + 50, seed)
    by_key = {it.key: it for it in items}
    per_source = []
    for j, (src, name, want) in enumerate(zip(sources, names, shares)):
        off = (j * len(items)) // len(sources)  # each source starts at its own offset in the prompts
        rot = items[off:] + items[:off]
        if src == "near-miss":
            got = _near_miss_pairs(skill, fmt, rot, want, hard_only, seed)
        else:
            from dataladder.generate.hf import HFGenerator

            if src == "self":
                if model is None or tokenizer is None:
                    raise ValueError("source 'self' needs the model and its tokenizer")
                gen = HFGenerator(model, tokenizer)
            elif src == "other":
                gen = HFGenerator(*_load_other(other_model))
            else:
                gen = endpoint  # an EndpointGenerator
            got = _sampled_pairs(skill, fmt, rot, want, hard_only, gen, name, temperature, seed)
        for p in got:
            verify_pair(skill, p, by_key[p["key"]])
        if hard_only:
            got = [p for p in got if p["hard"]]
        per_source.append(got)
    pairs = [p for group in _interleave(per_source) for p in group]
    return flip(pairs, flip_share, seed) if flip_share else pairs


def _interleave(lists: list[list[dict]]):
    for i in range(max((len(x) for x in lists), default=0)):
        yield [x[i] for x in lists if i < len(x)]


def verifier_labels(skill, items: list[Item], completions: list[str]) -> list[bool]:
    """The skill's verdict on each completion of its item: the label a verifier gives a rollout."""
    if isinstance(skill, str):
        from dataladder.skills import resolve_skills

        skill = resolve_skills([skill])[0]
    if len(items) != len(completions):
        raise ValueError(f"verifier_labels: {len(items)} items but {len(completions)} completions")
    return [skill.score(c, it).ok for it, c in zip(items, completions)]
