"""The driver every kind shares (climb, prefs, rl, dpo, rm-policy, icl, and a new kind): base runs, ladders,
document, figure.

    doc = drive(output_dir, [Job("dpo", cfg.model, cfg, {"kind": "dpo-base", "data": data_config(cfg)})],
                ladders=lambda d: [DPOLadder(cfg, d.base["eval"], d.base["pool"], on_rung)],
                describe=lambda d: {**d.body(cfg), "format": d.ladder.fmt, "metric": ...},
                document="dpo.json", plot=plot_dpo, executor=executor, on_train=on_train, on_eval=on_eval)

In order, every hook taking the `Drive` record `d` (the run store, the executor, and what came before):

1. the base jobs (none: rl; one: dpo, prefs, icl, rm-policy's ceiling; one per model: climb) go through the
   run store like every rung (`run_jobs`), so they are stored and resumed: `d.bases` (`d.base` if one);
2. `before(d)`: what a kind does before its ladders, kept as `d.prep` (rl: the policy loaded, the zero-signal
   checks, the cold start, the filter);
3. `ladders(d)`: the ladders, built from the base results (`d.ladders`, `d.ladder` if one), which the engine
   climbs together (`climb_ladders`);
4. `describe(d)`: the document's body, the config and the ladders' `Ladder.document()` and what the kind
   adds (`d.body(cfg)`: a one-ladder kind's config, model, skill and ladder document); the driver adds the
   executor;
5. `after(doc, d)`: what a kind adds besides its runs, before the write (prefs: its reward model; rl: the
   last weights scored in every format);
6. the seconds (over the ladder's own) and the peak memory (`memory=False`: rm-policy's document has none);
   the document is written whole (`write_json`) and drawn (`plot`);
7. `written(doc, d)`: what may only follow the write (rl prunes earlier rungs' weights: a kill in between
   never loses the document).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

from dataladder.core import runtime
from dataladder.core.results import write_json
from dataladder.core.store import RunStore
from dataladder.ladder.engine import Job, Ladder, climb_ladders, run_jobs


@dataclasses.dataclass
class Drive:
    """What a kind's hooks see: the run store, the executor, the base results, the pre-work, the ladders."""

    store: RunStore
    executor: object
    bases: list[dict] = dataclasses.field(default_factory=list)
    prep: object = None  # what `before` returned
    ladders: list[Ladder] = dataclasses.field(default_factory=list)

    @property
    def base(self) -> dict:
        """The one base result (a kind with one base job)."""
        base, = self.bases
        return base

    @property
    def ladder(self) -> Ladder:
        """The one ladder (a one-ladder kind)."""
        lad, = self.ladders
        return lad

    def body(self, cfg) -> dict:
        """A one-ladder kind's document body: its config, model and skill, and the ladder's document."""
        return {"config": cfg.model_dump(), "model": cfg.model, "skill": cfg.skill, **self.ladder.document()}


def drive(output_dir: Path, base: list[Job], *, ladders: Callable[[Drive], list[Ladder]],
          describe: Callable[[Drive], dict], document: str, plot: Callable[[dict, Path], None],
          executor=None, on_train: Callable[[int, int], None] | None = None,
          on_eval: Callable[[int], None] | None = None, report_to: str = "none",
          before: Callable[[Drive], object] | None = None, after: Callable[[dict, Drive], dict] | None = None,
          written: Callable[[dict, Drive], None] | None = None, memory: bool = True) -> dict:
    """Run the base jobs, climb the ladders, write and draw the document into `output_dir`; returns the document.
    `base`: the jobs without `root` (the driver sets it to the run store's)."""
    from dataladder.executors.local import LocalExecutor

    t0 = time.perf_counter()
    output_dir = Path(output_dir)
    executor = executor or LocalExecutor()
    executor.set_progress(on_train, on_eval)
    d = Drive(RunStore(output_dir), executor)
    d.bases = run_jobs([dataclasses.replace(j, root=str(d.store.root)) for j in base], d.store, executor)
    d.prep = before(d) if before is not None else None
    d.ladders = ladders(d)
    climb_ladders(d.ladders, d.store, executor, report_to)
    doc = {**describe(d), "executor": getattr(executor, "name", "local")}
    if after is not None:
        doc.update(after(doc, d))
    doc["seconds"] = time.perf_counter() - t0
    if memory:
        doc["peak_memory_bytes"] = runtime.peak_memory()  # this process's, at write time
    write_json(output_dir / document, doc)
    plot(doc, (output_dir / document).with_suffix(".png"))
    if written is not None:
        written(doc, d)
    return doc
