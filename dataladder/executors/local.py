"""The local executor: runs one after another in this process (imports and data stay warm)."""

from __future__ import annotations

from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class LocalExecutor:
    name = "local"

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> list[R]:
        return [fn(t) for t in tasks]
