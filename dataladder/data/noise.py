"""Noise on purpose: a copy of a dataset with wrong answers, unverified synthetic items or duplicates.

    noisy = corrupt(records, wrong_share=0.3, seed=0)

Each corrupted record keeps its prompt, gets a plausible wrong numeric answer (off by one,
digits swapped, or off by a random small amount) and carries `noise: {"kind": "wrong_answer",
"original": ...}` so an experiment can tell the arms apart and count what it injected.
`add_noise` adds the other kinds (`dataladder corrupt` on the command line):

    noisy = add_noise(records, wrong_share=0.1, unverified_share=0.1, duplicate_share=0.1, seed=0)
"""

from __future__ import annotations

import random

from dataladder.verify.core import parse_number


def wrong_answer(answer: str, rng: random.Random) -> str:
    """A plausible but wrong integer answer for a numeric `answer`."""
    value = parse_number(answer)
    v = int(value) if value is not None else 0
    kind = rng.random()
    if kind < 0.4:
        w = v + rng.choice([-1, 1])
    elif kind < 0.7 and len(str(abs(v))) >= 2:
        d = list(str(abs(v)))
        i = rng.randrange(len(d) - 1)
        d[i], d[i + 1] = d[i + 1], d[i]
        w = int("".join(d)) * (1 if v >= 0 else -1)
    else:
        w = v + rng.choice([-1, 1]) * rng.randint(2, 20)
    return str(w if w != v else v + 1)


def corrupt(records: list[dict], wrong_share: float, seed: int = 0) -> list[dict]:
    """A copy of `records` in which round(wrong_share·len) chosen items have wrong answers."""
    rng = random.Random(seed)
    out = [dict(r) for r in records]
    for i in rng.sample(range(len(out)), round(wrong_share * len(out))):
        r = out[i]
        text = _answer_text(r)  # the completion, or the last assistant turn of `messages`
        lead = text[: len(text) - len(text.lstrip())]
        bad = wrong_answer(text, rng)
        out[i] = {**_with_answer(r, lead + bad), "noise": {"kind": "wrong_answer", "original": text}}
    return out


NOISE_KINDS = ("wrong_answer", "unverified", "duplicate")


def _answer_text(rec: dict) -> str:
    if "messages" in rec:
        return rec["messages"][-1]["content"]
    return rec["completion"] if isinstance(rec.get("completion"), str) else rec.get("chosen", "")


def _with_answer(rec: dict, text: str) -> dict:
    if "messages" in rec:
        return {**rec, "messages": [*rec["messages"][:-1], {**rec["messages"][-1], "content": text}]}
    return {**rec, ("completion" if isinstance(rec.get("completion"), str) else "chosen"): text}


def add_noise(records: list[dict], wrong_share: float = 0.0, unverified_share: float = 0.0,
              duplicate_share: float = 0.0, seed: int = 0, synthetic_error: float = 0.5) -> list[dict]:
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
        raise ValueError(f"noise shares add up to {sum(k.values())} items, more than the {n} records")
    if k["duplicate"] and k["duplicate"] >= n - k["wrong_answer"] - k["unverified"]:
        raise ValueError("--duplicate-share leaves no clean items to duplicate")
    out = corrupt(records, wrong_share, seed) if k["wrong_answer"] else [dict(r) for r in records]
    rng = random.Random(f"{seed}:noise")
    free = [i for i, r in enumerate(out) if "noise" not in r]
    rng.shuffle(free)
    unverified, dup_slots, clean = free[: k["unverified"]], free[k["unverified"]: k["unverified"] + k["duplicate"]], \
        free[k["unverified"] + k["duplicate"]:]
    for i in unverified:
        r = out[i]
        text = _answer_text(r)
        correct = rng.random() >= synthetic_error
        lead = text[: len(text) - len(text.lstrip())]
        new = text if correct else lead + wrong_answer(text, rng)
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
