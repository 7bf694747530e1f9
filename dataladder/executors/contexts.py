"""Prepared contexts by (kind, model, config): what a long-lived worker keeps warm between runs.

A job says how it is prepared and run (`ladder/engine.py`'s `Job`: `job.prepare()` builds its context,
`job.run(ctx)` runs it there); this cache only keeps the contexts and wires the progress hooks into them, so an
executor knows nothing of ladders or kinds.
"""

from __future__ import annotations

from typing import Callable


class Contexts:
    """Prepared contexts by (kind, model, config), the most recently used `KEEP` of them."""

    KEEP = 8

    def __init__(self, on_train: Callable[[int, int], None] | None = None,
                 on_eval: Callable[[int], None] | None = None):
        self._by_key: dict[tuple, object] = {}
        self.on_train, self.on_eval = on_train, on_eval

    def get(self, job) -> object:
        """The context of `job` (its `kind`, `spec` and `cfg`): prepared here on first use (`job.prepare()`)."""
        cfg = job.cfg
        key = (job.kind, job.spec, cfg.context_key() if hasattr(cfg, "context_key") else
               cfg.model_dump_json() if hasattr(cfg, "model_dump_json") else repr(cfg))
        if key not in self._by_key:
            if len(self._by_key) >= self.KEEP:  # a worker keeps the most recently prepared few warm
                del self._by_key[next(iter(self._by_key))]
            self._by_key[key] = job.prepare()
            self._wire(self._by_key[key])
        else:
            self._by_key[key] = self._by_key.pop(key)  # most recently used last
        return self._by_key[key]

    def _wire(self, ctx) -> None:
        for name in ("on_train", "on_eval"):
            if hasattr(ctx, name):
                setattr(ctx, name, getattr(self, name))

    def set_progress(self, on_train: Callable[[int, int], None] | None, on_eval: Callable[[int], None] | None) -> None:
        self.on_train, self.on_eval = on_train, on_eval
        for ctx in self._by_key.values():
            self._wire(ctx)

    def run(self, job) -> dict:
        return job.run(self.get(job))
