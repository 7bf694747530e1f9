"""What a climb's worst rung wrote: per arm, a few of its eval samples in the target format (`samples.jsonl`, kept by
every climb run in its run directory; `ladder/soundness.py`), so a reader sees what a low or unsound score was."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path


def worst_rung(arm: dict) -> dict | None:
    """The arm's rung to look at: an unsound one first, else the lowest accuracy; only rungs that kept samples."""
    rungs = [r for r in arm.get("rungs", []) if r.get("samples")]
    return min(rungs, key=lambda r: (not r.get("unsound"), r["accuracy"]), default=None)


def _inside(store_dir: Path, rel: str) -> Path | None:
    """`rel` under `store_dir`, resolved; None where it leads outside (the result validator refuses such a
    document first: this is the second lock)."""
    root, p = os.path.realpath(store_dir), os.path.realpath(store_dir / str(rel))  # a link loop: no error here
    return Path(p) if os.path.commonpath([root, p]) == root else None


def _read(path: Path | None, skill: str, fmt: str, k: int = 5) -> list[dict]:
    if path is None:
        return []
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError):
        return []
    return [s for s in rows if isinstance(s, dict) and s.get("skill") == skill and s.get("format") == fmt][:k]


def samples_section(store_dir: Path, doc: dict) -> str:
    """A table per arm of its worst rung's first samples in the target format ('' when no rung kept any)."""
    parts = []
    for a in doc.get("arms", []):
        r = worst_rung(a)
        if r is None:
            continue
        rows = _read(_inside(Path(store_dir), r["samples"][0]), a["skill"], a["target_format"])
        if not rows:
            continue
        why = f" — unsound: {html.escape('; '.join(r.get('reasons', [])))}" if r.get("unsound") else ""
        cells = "".join(
            f"<tr><td><code>{html.escape(str(s.get('prompt')))[-120:]}</code></td>"
            f"<td><code>{html.escape(str(s.get('completion')))[:120]}</code></td>"
            f"<td><code>{html.escape(str(s.get('answer')))}</code></td><td>{'✓' if s.get('ok') else '✗'}</td></tr>"
            for s in rows)
        parts.append(f"<p>{html.escape(a['skill'])} · {html.escape(a['label'])}: worst rung n={r['n']:,} "
                     f"(accuracy {r['accuracy']:.3f}{why}), seed {r['seeds'][0]['seed']}'s first samples in the "
                     f"{html.escape(a['target_format'])} format:</p><table><tr><th>prompt (end)</th><th>completion</th>"
                     f"<th>answer</th><th>ok</th></tr>{cells}</table>")
    return "<h4>Samples of the worst rungs</h4>" + "".join(parts) if parts else ""
