"""Noise on purpose: a copy of a dataset with a given share of wrong answers, recorded per item.

    noisy = corrupt(records, wrong_share=0.3, seed=0)

Each corrupted record keeps its prompt, gets a plausible wrong numeric answer (off by one,
digits swapped, or off by a random small amount) and carries `noise: {"kind": "wrong_answer",
"original": ...}` so an experiment can tell the arms apart and count what it injected.
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
        lead = r["completion"][: len(r["completion"]) - len(r["completion"].lstrip())]
        bad = wrong_answer(r["completion"], rng)
        out[i] = {**r, "completion": lead + bad, "noise": {"kind": "wrong_answer", "original": r["completion"]}}
    return out
