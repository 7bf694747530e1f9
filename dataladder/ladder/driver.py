"""The driver a one-ladder kind shares (dpo, prefs, icl, and a new kind): base run, ladder, document, figure.

    doc = drive("dpo", cfg, output_dir, {"kind": "dpo-base", "data": data_config(cfg)},
                ladder=lambda base: DPOLadder(cfg, base["eval"], base["pool"], on_rung),
                describe=lambda lad, base: {"format": lad.fmt, "metric": ...},
                document="dpo.json", plot=plot_dpo, executor=executor, on_train=on_train, on_eval=on_eval)

The base run goes through the run store like every rung (`run_jobs`), so it is stored and resumed; the ladder
is climbed by the engine (`climb_ladders`); the document is the config, the model and skill, the engine's
`Ladder.document()`, what the kind adds (`describe`, which may override a key such as `base`), the executor,
the seconds and peak memory; it is written whole (`write_json`) and drawn (`plot`). `after(doc, store,
executor)` runs before the write, for what a kind keeps besides its runs (prefs: its reward model).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from dataladder.core.results import write_json
from dataladder.core.runtime import peak_memory
from dataladder.core.store import RunStore
from dataladder.ladder.engine import Job, Ladder, climb_ladders, run_jobs


def drive(kind: str, cfg, output_dir: Path, base_rc: dict, *, ladder: Callable[[dict], Ladder],
          describe: Callable[[Ladder, dict], dict], document: str, plot: Callable[[dict, Path], None],
          executor=None, on_train: Callable[[int, int], None] | None = None,
          on_eval: Callable[[int], None] | None = None, report_to: str = "none",
          after: Callable[[dict, RunStore, object], dict] | None = None) -> dict:
    """Run the base job, climb the ladder, write and draw the document into `output_dir`; returns the document."""
    from dataladder.executors.local import LocalExecutor

    t0 = time.perf_counter()
    output_dir = Path(output_dir)
    executor = executor or LocalExecutor()
    executor.set_progress(on_train, on_eval)
    store = RunStore(output_dir)
    base, = run_jobs([Job(kind, cfg.model, cfg, base_rc, root=str(store.root))], store, executor)
    lad = ladder(base)
    climb_ladders([lad], store, executor, report_to)
    doc = {"config": cfg.model_dump(), "model": cfg.model, "skill": cfg.skill, **lad.document(), **describe(lad, base),
           "executor": getattr(executor, "name", "local")}
    if after is not None:
        doc.update(after(doc, store, executor))
    doc["seconds"] = time.perf_counter() - t0
    doc["peak_memory_bytes"] = peak_memory()  # this process's, at write time
    write_json(output_dir / document, doc)
    plot(doc, (output_dir / document).with_suffix(".png"))
    return doc
