"""Rung sizes: start small, grow geometrically; training sets are nested prefixes of one pool.

The ladder engine climbs these sizes and `dataladder fit` (`forecast/points.py`) recomputes a ladder's next one."""

from __future__ import annotations


def next_size(n: int, growth: float) -> int:
    return max(n + 1, int(round(n * growth)))


def sizes(start: int, growth: float, max_examples: int) -> list[int]:
    out = [start]
    while next_size(out[-1], growth) <= max_examples:
        out.append(next_size(out[-1], growth))
    return out
