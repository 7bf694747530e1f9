"""The local executor (default): runs one after another in this process, imports and data kept warm."""

from __future__ import annotations

from typing import Callable, Iterator

from dataladder.executors.contexts import Contexts


class LocalExecutor:
    name = "local"

    def __init__(self):
        self.contexts = Contexts()

    def set_progress(self, on_train: Callable[[int, int], None] | None, on_eval: Callable[[int], None] | None) -> None:
        self.contexts.set_progress(on_train, on_eval)

    def run(self, jobs: list) -> Iterator[tuple[int, dict]]:
        """(index, result) for each job, in order."""
        for i, job in enumerate(jobs):
            yield i, self.contexts.run(job)
