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
WORD = {"add": "plus", "sub": "minus", "mul": "times", "div": "divided by"}
VERB = {"add": "Add {a} and {b}", "sub": "Subtract {b} from {a}", "mul": "Multiply {a} by {b}",
        "div": "Divide {a} by {b}, rounding down,"}

# Styles for a binary item; the native form is drawn with weight NATIVE_SHARE, the rest evenly.
# Many wrappers (labels, line breaks, words) make the skill format-invariant, as in real
# pretraining text; none of them is the exam wrapper ("Question: What is …?\nAnswer:").
STYLES = [
    "{a} {s} {b} = {c}",
    "Q: {a}{s}{b}=? A: {c}",
    "The {noun} of {a} and {b} is {c}.",
    "{a} {word} {b} equals {c}.",
    "{verb} to get {c}.",
    "Problem: {a}{s}{b}\nSolution: {c}",
    "Input: {a} {s} {b}\nOutput: {c}",
    "Calculate {a}{s}{b}. Result: {c}",
    "{a}{s}{b} gives {c}",
]
NATIVE_SHARE = 0.35


def render(it: Item, rng: random.Random) -> str:
    """One example of pretraining text for `it`: the native form or another style."""
    if rng.random() < NATIVE_SHARE:
        return f"{it.key}={it.answer}"
    if it.skill not in OP_SYMBOL:  # expressions: symbolic styles only
        return rng.choice([f"Q: {it.key}=? A: {it.answer}", f"Problem: {it.key}\nSolution: {it.answer}"])
    a, b = it.data["operands"]
    style = rng.choice(STYLES)
    return style.format(a=a, b=b, c=it.answer, s=OP_SYMBOL[it.skill], noun=NOUN[it.skill], word=WORD[it.skill],
                        verb=VERB[it.skill].format(a=a, b=b))


def examples(mixture: dict[str, float], digits: int, rng: random.Random) -> Iterator[tuple[Item, str]]:
    """(item, text) pairs drawn by the skill mixture, from each skill's train partition only."""
    names = list(mixture)
    weights = [mixture[n] for n in names]
    while True:
        name = rng.choices(names, weights)[0]
        it = random_item(name, rng, digits, "train")
        yield it, render(it, rng)


def lines(mixture: dict[str, float], digits: int, rng: random.Random) -> Iterator[str]:
    for _, text in examples(mixture, digits, rng):
        yield text


def batch_texts(gen: Iterator[str], batch_size: int, n_chars: int) -> list[str]:
    """`batch_size` texts of exactly `n_chars` characters, whole lines joined by newlines."""
    out = []
    for _ in range(batch_size):
        buf = ""
        while len(buf) < n_chars:
            buf += next(gen) + "\n"
        out.append(buf[:n_chars])
    return out
