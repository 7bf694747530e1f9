"""Result files: written whole or not at all (to a `.tmp` next to the target, then renamed), and read back
through one check (`read_result`) by every command that is given one: report, compare, fit, rm-policy."""

from __future__ import annotations

import json
import math
from pathlib import Path


def write_json(path: Path, doc) -> Path:
    """Write `doc` as indented JSON to `path` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(path)
    return path


# ---- reading: every result document a command is given goes through `read_result` ---------------------------
#
# report, compare, fit and rm-policy read documents a user may have edited or cut short. One check here, before
# any use: the shape (objects, lists), the types and ranges of the numbers every reader relies on (accuracies and
# intervals in [0, 1], counts and rung sizes whole numbers ≥ 0, nothing NaN or infinite), each named by its field
# path. The readers keep their own checks of what only they need.

SHARES = ("accuracy", "ci_low", "ci_high", "p_reachable", "p_reach_within_budget", "p_saturated")
COUNTS = ("correct", "total")
NEEDS = {"config": "the settings of the run that wrote it", "rungs": "the ladder's measured rungs",
         "arms": "the ladder's arms", "unit": "what a rung counts", "kind": "the ladder kind",
         "skills": "the probe's scores per skill", "recommendations": "the ladder's recommendations"}


def read_result(path, name: str | None = None, need: tuple[str, ...] = (), rerun: str = "") -> dict:
    """The result document at `path` (a file, or the directory holding `name`), checked by `check_result`; any
    problem is one InputError naming the file and the field. `need`: top-level fields the caller uses."""
    from dataladder.core.errors import InputError, not_a_file, read_json

    f = Path(path) / name if name and Path(path).is_dir() else Path(path)
    if why := not_a_file(f):
        if why == "no such file" and name:
            why = f"no {name} here (run the command that writes it first)"
        raise InputError(why, str(f))
    doc = read_json(f)
    check_result(doc, str(f), need, rerun)
    return doc


def check_result(doc, file: str, need: tuple[str, ...] = (), rerun: str = "") -> None:
    """Raise InputError(`file`: `field.path`: what is wrong) for a document no reader can use."""
    from dataladder.core.errors import InputError

    fix = f"; {rerun}" if rerun else "; rerun the command that wrote it"

    def bad(where: str, what: str):
        raise InputError(f"{where}: {what}{fix}" if where else f"{what}{fix}", file)

    if not isinstance(doc, dict):
        bad("", f"expected a JSON object (a dataladder result document), got {_kind(doc)}")
    for key in need:
        if key not in doc:
            bad(key, f"missing ({NEEDS.get(key, 'needed here')})")
    for key, want in (("config", dict), ("base", dict), ("arms", list), ("rungs", list), ("ladder", list),
                      ("recommendations", list), ("skills", dict), ("unit", str), ("kind", str)):
        if key in doc and not isinstance(doc[key], want) and not (key == "base" and doc[key] is None):
            bad(key, f"expected {_name(want)}, got {_kind(doc[key])}")
    if "rungs" in need and not doc["rungs"]:
        bad("rungs", "no rungs (an empty list)")
    _walk(doc, "", bad)
    for i, arm in enumerate(doc.get("arms") or []):
        if not isinstance(arm, dict):
            bad(f"arms[{i}]", f"expected an object, got {_kind(arm)}")
        if "rungs" in arm and not isinstance(arm["rungs"], list):
            bad(f"arms[{i}].rungs", f"expected a list of rungs, got {_kind(arm['rungs'])}")
        _rungs(arm.get("rungs") or [], f"arms[{i}].rungs", "n", bad)
    _rungs(doc.get("rungs") or [], "rungs", "n", bad)
    rows = doc.get("ladder") or []
    x = "pairs" if rows and isinstance(rows[0], dict) and "pairs" in rows[0] else "rollouts"
    _rungs(rows, "ladder", x, bad)


def _rungs(rows: list, where: str, x: str, bad) -> None:
    for i, r in enumerate(rows):
        at = f"{where}[{i}]"
        if not isinstance(r, dict):
            bad(at, f"expected a rung (an object), got {_kind(r)}")
        size = next((k for k in (x, "n", "pairs", "rollouts") if k in r), None)
        if size is None:
            bad(at, f"no '{x}' (the rung's size)")
        n = r[size]
        if not _number(n) or n != int(n) or n < 0:
            bad(f"{at}.{size}", f"{_show(n)} is not a size (a whole number ≥ 0)")
        if "accuracy" not in r and not ("correct" in r and "total" in r):
            bad(at, "no 'accuracy' (nor 'correct' and 'total')")
        if "accuracy" in r and r["accuracy"] is None:
            bad(f"{at}.accuracy", "null; a rung's accuracy is a number in [0, 1]")
        if "seeds" in r and not isinstance(r["seeds"], list):
            bad(f"{at}.seeds", f"expected a list, got {_kind(r['seeds'])}")


def _walk(x, where: str, bad) -> None:
    """Every number the readers use, wherever it sits: shares in [0, 1], counts ≥ 0, no NaN or infinity."""
    if isinstance(x, list):
        for i, v in enumerate(x):
            _walk(v, f"{where}[{i}]", bad)
        return
    if not isinstance(x, dict):
        return
    for k, v in x.items():
        at = f"{where}.{k}" if where else str(k)
        if k in SHARES or k in COUNTS or k == "n":
            if v is None or isinstance(v, (dict, list)) and k == "n":
                continue
            if not _number(v):
                bad(at, f"{_show(v)} is not a number")
            if k in SHARES and not 0 <= v <= 1:
                bad(at, f"{_show(v)} is not in [0, 1]")
            if k in COUNTS and (v < 0 or v != int(v)):
                bad(at, f"{_show(v)} is not a count (a whole number ≥ 0)")
            if k == "n" and v < 0:
                bad(at, f"{_show(v)} is negative")
        elif isinstance(v, float) and not math.isfinite(v) and k in ("seconds", "margin", "target", "delta"):
            bad(at, f"{_show(v)} is not a finite number")
        else:
            _walk(v, at, bad)
    rung = where.endswith("]") and where.rsplit("[", 1)[0].endswith(("rungs", "ladder"))  # its n is a data size
    total = "total" if "total" in x else None if rung else "n"
    if total and _number(x.get("correct")) and _number(x.get(total)) and x["correct"] > x[total]:
        bad(f"{where}.correct" if where else "correct", f"{_show(x['correct'])} is more than {total} "
            f"({_show(x[total])})")


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _show(v) -> str:
    return json.dumps(v) if isinstance(v, str) or v is None or isinstance(v, bool) else \
        ("NaN" if v != v else str(v)) if isinstance(v, float) else str(v) if isinstance(v, int) else _kind(v)


def _kind(v) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null", int: "a number",
            float: "a number"}.get(type(v), type(v).__name__)


def _name(t) -> str:
    return {dict: "an object", list: "a list", str: "a string"}[t]
