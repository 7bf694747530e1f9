"""Interval math: Wilson score intervals for accuracies."""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for `correct` successes out of `n` (95% by default); (0, 1) when n=0."""
    if n <= 0:
        return 0.0, 1.0
    p = correct / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # clamp so rounding never puts the point estimate outside its own interval
    return max(0.0, min(p, center - half)), min(1.0, max(p, center + half))
