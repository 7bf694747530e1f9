"""The run store: each run is a pure function of its config and writes its result once.

A run's directory is named by a hash of its config; it holds `config.json`, `result.json`
(written to a temp file, then renamed) and a `done` marker written last. A rerun finds the
marker and reads the result instead of training again; a run killed mid-way left no marker
and simply runs again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from dataladder.core.results import write_json


def run_key(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


class RunStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, config: dict) -> Path:
        return self.root / "runs" / run_key(config)

    def get(self, config: dict) -> dict | None:
        p = self.path(config)
        if (p / "done").exists():
            return json.loads((p / "result.json").read_text())
        return None

    def put(self, config: dict, result: dict) -> dict:
        p = self.path(config)
        if (p / "done").exists():  # written once: a finished result is never replaced
            return json.loads((p / "result.json").read_text())
        p.mkdir(parents=True, exist_ok=True)
        (p / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
        write_json(p / "result.json", result)
        (p / "done").write_text("")
        return result
