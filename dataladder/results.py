"""Result files are written whole or not at all: to a `.tmp` next to the target, then renamed."""

from __future__ import annotations

import json
from pathlib import Path


def write_json(path: Path, doc) -> Path:
    """Write `doc` as indented JSON to `path` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(path)
    return path
