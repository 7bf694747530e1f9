"""Noise on purpose: a copy of a dataset with wrong answers, unverified synthetic items or duplicates.

    noisy = corrupt(records, wrong_share=0.3, seed=0)

Each corrupted record keeps its prompt, gets a plausible wrong answer of its own type from its
skill's `wrong` hook (arithmetic: a number off by one, figures swapped or off by a few; JSON: one
value edited, same layout; code and text: one operator, constant or character changed; or another
record's answer), checked to be refused by the skill's verifier with the record's fields (`tests`,
`schema`), and carries `noise: {"kind": "wrong_answer", "original": ...}` so an experiment can tell
the arms apart and count what it injected. The skill is the record's `skill` field, looked up among
the skills given (`skill=`, e.g. every skill of a JSONL file) by name, else as a spec; a record
without one takes the single skill given; a record with neither gets the nearest edit its own `verifier` refuses, or, without one, the nearest edit.
`add_noise` adds the other kinds (`dataladder corrupt` on the command line):

    noisy = add_noise(records, wrong_share=0.1, unverified_share=0.1, duplicate_share=0.1, seed=0)
"""

from __future__ import annotations

import random

from dataladder.skills import Item, Skill


def _skill_of(rec: dict, skills: "Skill | list[Skill] | None") -> Skill | None:
    """The record's skill: its `skill` field among `skills` (by name or spec) or as a spec, else the one given."""
    given = [] if skills is None else [skills] if isinstance(skills, Skill) else list(skills)
    name = rec.get("skill")
    if not name:
        return given[0] if len(given) == 1 else None
    for sk in given:
        if name in (sk.name, sk.spec):
            return sk
    from dataladder.data.curate import _skill
    from dataladder.core.errors import InputError
    from dataladder.core.registry import UnknownName

    try:
        return _skill(name)
    except (UnknownName, ValueError, InputError):  # an unknown name: the record's own verifier, if any, decides
        return given[0] if len(given) == 1 else None


def record_item(rec: dict, skill: Skill | None) -> Item:
    """The item a record answers: found by its skill's `problem` hook, with the record's answer and fields."""
    from dataladder.data.curate import prompt_of, record_fields

    found = skill.problem_of(prompt_of(rec)) if skill is not None else None
    data = {**(found.data if found is not None else {}), **record_fields(rec)}
    if rec.get("verifier"):
        data["verifier"] = rec["verifier"]
    answer = rec.get("answer", found.answer if found is not None else _answer_text(rec).strip())
    return Item(skill=skill.name if skill else "", key=str(prompt_of(rec)), answer=str(answer), data=data)


def wrong_for_record(rec: dict, rng: random.Random, others: list[str] = (),
                     skill: "Skill | list[Skill] | None" = None) -> str | None:
    """A wrong answer for `rec` its verifier refuses (module docstring), or None when none was found."""
    from dataladder.skills.text import wrong_candidates
    from dataladder.verify import get_verifier

    gold = _answer_text(rec)
    sk = _skill_of(rec, skill)
    item = record_item(rec, sk)
    if sk is not None:
        return sk.wrong_for(item, gold, rng, others)
    cands = wrong_candidates(gold, rng, list(others))
    if not rec.get("verifier"):
        return next((c for c in cands if c.strip() and c != gold), None)
    check = get_verifier(rec["verifier"])
    return next((c for i, c in enumerate(cands) if i < 40 and c.strip() and c != gold
                 and not check(c, item.answer, **item.data).ok), None)


def corrupt(records: list[dict], wrong_share: float, seed: int = 0, skill: "Skill | list[Skill] | None" = None) -> list[dict]:
    """A copy of `records` in which round(wrong_share·len) chosen items have wrong answers (a record for which
    no refused wrong answer exists, e.g. a verifier that accepts anything, stays clean)."""
    rng = random.Random(seed)
    out = [dict(r) for r in records]
    others = [_answer_text(r) for r in records]
    for i in rng.sample(range(len(out)), round(wrong_share * len(out))):
        r = out[i]
        text = _answer_text(r)  # the completion, or the last assistant turn of `messages`
        bad = wrong_for_record(r, rng, others, skill)
        if bad is not None:
            out[i] = {**_with_answer(r, bad), "noise": {"kind": "wrong_answer", "original": text}}
    return out


NOISE_KINDS = ("wrong_answer", "unverified", "duplicate")


def _answer_text(rec: dict) -> str:
    """The answer: the last assistant turn of `messages`, `completion` (text or a conversational list), `chosen`."""
    if "messages" in rec:
        return rec["messages"][-1]["content"]
    field = "completion" if "completion" in rec else "chosen"
    value = rec.get(field, "")
    return value[-1]["content"] if isinstance(value, list) else value


def _with_answer(rec: dict, text: str) -> dict:
    if "messages" in rec:
        return {**rec, "messages": [*rec["messages"][:-1], {**rec["messages"][-1], "content": text}]}
    field = "completion" if "completion" in rec else "chosen"
    value = rec.get(field)
    return {**rec, field: [*value[:-1], {**value[-1], "content": text}] if isinstance(value, list) else text}


def add_noise(records: list[dict], wrong_share: float = 0.0, unverified_share: float = 0.0,
              duplicate_share: float = 0.0, seed: int = 0, synthetic_error: float = 0.5,
              skill: "Skill | list[Skill] | None" = None) -> list[dict]:
    """A copy of `records` with three kinds of noise on disjoint items, each marked in `noise`:

    - `wrong_answer`: round(wrong_share·n) items get a plausible wrong answer (as `corrupt`, same
      items and values for the same seed).
    - `unverified`: round(unverified_share·n) items become unverified synthetic items: their
      `answer` field is dropped and their answer is replaced by what an unchecked generator would
      write, wrong with probability `synthetic_error` (`noise.correct` says which).
    - `duplicate`: round(duplicate_share·n) items are replaced by exact copies of other, clean
      items (`noise.of` is the source's index), so the dataset keeps its size.
    """
    n = len(records)
    k = {kind: round(share * n) for kind, share in
         (("wrong_answer", wrong_share), ("unverified", unverified_share), ("duplicate", duplicate_share))}
    if sum(k.values()) > n or any(v < 0 for v in k.values()):
        raise ValueError(f"--wrong-share, --unverified-share and --duplicate-share add up to {sum(k.values())} items, "
                         f"more than the {n} records")
    if k["duplicate"] and k["duplicate"] >= n - k["wrong_answer"] - k["unverified"]:
        raise ValueError("--duplicate-share leaves no clean items to duplicate")
    out = corrupt(records, wrong_share, seed, skill) if k["wrong_answer"] else [dict(r) for r in records]
    others = [_answer_text(r) for r in records]
    rng = random.Random(f"{seed}:noise")
    free = [i for i, r in enumerate(out) if "noise" not in r]
    rng.shuffle(free)
    unverified, dup_slots, clean = free[: k["unverified"]], free[k["unverified"]: k["unverified"] + k["duplicate"]], \
        free[k["unverified"] + k["duplicate"]:]
    for i in unverified:
        r = out[i]
        text = _answer_text(r)
        correct = rng.random() >= synthetic_error
        new = text if correct else wrong_for_record(r, rng, others, skill)
        correct = correct or new is None
        new = text if new is None else new
        r = {key: v for key, v in r.items() if key != "answer"}
        out[i] = {**_with_answer(r, new), "noise": {"kind": "unverified", "correct": correct, "original": text}}
    for i in dup_slots:
        j = rng.choice(clean)
        out[i] = {**out[j], "noise": {"kind": "duplicate", "of": j}}
    return out


def noise_counts(records: list[dict]) -> dict[str, int]:
    """Items per noise kind (and `clean`)."""
    counts = {kind: 0 for kind in ("clean", *NOISE_KINDS)}
    for r in records:
        counts[r["noise"]["kind"] if "noise" in r else "clean"] += 1
    return counts
