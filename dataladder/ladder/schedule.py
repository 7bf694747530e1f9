"""A ladder config's budget check. The rung sizes themselves (`next_size`, `sizes`) are `core/schedule.py`'s."""

from __future__ import annotations


def first_rung_fits(cfg, start: str, cap: str):
    """A pydantic `model_validator(mode="after")` body: the budget `cap` holds the first rung `start`."""
    if getattr(cfg, cap) < getattr(cfg, start):
        opt = lambda k: f"{k} (--{'budget' if k.startswith('max_') else k.replace('_', '-')})"  # noqa: E731  key, option
        raise ValueError(f"{opt(cap)} {getattr(cfg, cap)} is below {opt(start)} {getattr(cfg, start)}: the budget "
                         "must hold the first rung")
    return cfg
