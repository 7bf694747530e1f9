"""Rung sizes: start small, grow geometrically; training sets are nested prefixes of one pool."""

from __future__ import annotations


def next_size(n: int, growth: float) -> int:
    return max(n + 1, int(round(n * growth)))


def sizes(start: int, growth: float, max_examples: int) -> list[int]:
    out = [start]
    while next_size(out[-1], growth) <= max_examples:
        out.append(next_size(out[-1], growth))
    return out


def first_rung_fits(cfg, start: str, cap: str):
    """A pydantic `model_validator(mode="after")` body: the budget `cap` holds the first rung `start`."""
    if getattr(cfg, cap) < getattr(cfg, start):
        opt = lambda k: f"{k} (--{k.replace('_', '-')})"  # noqa: E731  the plan key and the option
        raise ValueError(f"{opt(cap)} {getattr(cfg, cap)} is below {opt(start)} {getattr(cfg, start)}: the budget "
                         "must hold the first rung")
    return cfg
