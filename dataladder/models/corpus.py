"""The generated pretraining corpus: arithmetic facts in several free-text styles.

Only the train partition of each skill is used, and no style resembles the `exam` probe format
(no "Question:"/"What is"), so the probe measures whether post-training teaches that format.
"""

from __future__ import annotations

import random
from typing import Iterator

from dataladder.skills.arithmetic import OP_SYMBOL, random_item
from dataladder.skills.base import Item

NOUN = {"add": "sum", "sub": "difference", "mul": "product", "div": "whole quotient"}


def render(it: Item, rng: random.Random) -> str:
    """One line of pretraining text for `it`: the native form half the time, else another style."""
    r = rng.random()
    if r < 0.5:
        return f"{it.key}={it.answer}"
    spaced = it.key
    for sym in "+-*/":
        spaced = spaced.replace(sym, f" {sym} ")
    if r < 0.7:
        return f"{spaced} = {it.answer}"
    if r < 0.85 or it.skill not in OP_SYMBOL:
        return f"Q: {it.key}=? A: {it.answer}"
    a, b = it.data["operands"]
    return f"The {NOUN[it.skill]} of {a} and {b} is {it.answer}."


def lines(mixture: dict[str, float], digits: int, rng: random.Random) -> Iterator[str]:
    names = list(mixture)
    weights = [mixture[n] for n in names]
    while True:
        name = rng.choices(names, weights)[0]
        yield render(random_item(name, rng, digits, "train"), rng)


def batch_texts(gen: Iterator[str], batch_size: int, n_chars: int) -> list[str]:
    """`batch_size` texts of exactly `n_chars` characters, whole lines joined by newlines."""
    out = []
    for _ in range(batch_size):
        buf = ""
        while len(buf) < n_chars:
            buf += next(gen) + "\n"
        out.append(buf[:n_chars])
    return out
