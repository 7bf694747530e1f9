"""POINTS files for `dataladder fit`: a learning curve you measured yourself, read into `Curve`s.

Rows (CSV, JSONL, a JSON array or Parquet; a UTF-8 byte-order mark and CRLF line ends are fine) carry
`n` (data size, ≥ 1) and `value` (the score at that size), optionally `seed` (a label: several points at
one size are seeds), `eval_n` (the eval items behind a score, a positive integer: binomial noise) and
`curve` (several curves in one file, grouped by it). Column names are matched case-insensitively.
Our own result documents are read too: `ladder.json` (one curve per arm), `prefs.json` and `rl.json`
(one curve per arm, the base rung of 0 rollouts left out), one point per seed where the rung lists
its seeds, with the document's target, direction, δ and budget as defaults; a ladder's curve also
carries what its stop rule decided with (`Curve.ladder`, `ladder_rule`), for `fit` to decide the same.

    from dataladder.forecast import read_points
    pts = read_points("curve.csv")   # pts.curves[0].n, .value, .eval_n

Every bad input raises `InputError` naming the file, the line (or row, or item) and the field.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from dataladder.core.errors import InputError, loads, not_a_file, text_lines

REQUIRED = ("n", "value")
OPTIONAL = ("seed", "eval_n", "curve")


@dataclass
class Curve:
    """One learning curve: a point per (size, seed); `where` says where each point came from."""

    name: str | None
    n: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    eval_n: list[int | None] = field(default_factory=list)
    seed: list[str | None] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    ladder: dict | None = None  # a ladder document's curve: how its ladder fitted and decided (`ladder_rule`)

    def add(self, n: float, value: float, eval_n: int | None, seed, where: str) -> None:
        self.n.append(n)
        self.value.append(value)
        self.eval_n.append(eval_n)
        self.seed.append(None if seed is None else str(seed))
        self.where.append(where)

    @property
    def has_eval_n(self) -> bool:
        return bool(self.eval_n) and all(e is not None for e in self.eval_n)


@dataclass
class Points:
    """What a POINTS file holds: its curves, the size's and the score's names, and a result document's defaults."""

    path: str
    curves: list[Curve]
    kind: str = "table"  # table, or a ladder kind: sft | reward | dpo | rl (ladder | prefs: older documents)
    x_name: str = "n"
    y_name: str = "value"
    defaults: dict = field(default_factory=dict)  # target, direction, delta, budget (result documents only)


def read_points(path) -> Points:
    """Read a POINTS file (see the module docstring) into curves; InputError on anything unusable."""
    p = Path(path)
    if p.is_dir():
        raise InputError("is a directory; give a CSV, JSONL, JSON or Parquet file of points", str(p))
    if why := not_a_file(p):
        raise InputError(why, str(p))
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        pts = Points(str(p), _group(str(p), _parquet_rows(p), typed=True))
    else:
        lines = list(text_lines(p))
        first = next((t.strip() for _, t in lines if t.strip()), "")
        if not first:
            raise InputError("the file is empty; give a header (n,value) and one row per point", str(p))
        if suffix in (".jsonl", ".ndjson") or (suffix != ".json" and first.startswith("{") and _one_line_json(first)):
            pts = Points(str(p), _group(str(p), _jsonl_rows(p, lines), typed=True))
        elif suffix == ".json" or first.startswith(("[", "{")):
            pts = _json_file(p, lines)
        else:
            try:
                pts = Points(str(p), _group(str(p), _csv_rows(p, lines)))
            except csv.Error as e:  # CR-only (old Mac) line ends: one line with newlines inside, to csv
                cr = any("\r" in t.rstrip("\r\n") for _, t in lines)
                raise InputError("not readable CSV: its line ends are lone CRs (old Mac); save it with LF or CRLF "
                                 "line ends" if cr else f"not readable CSV ({e})", str(p)) from None
    if not pts.curves:
        raise InputError("no points in the file, only a header; add one row per point (n, value)", str(p))
    return pts


def _one_line_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):  # a sniff only: the reader that follows names the problem
        return False


# ---- rows: (where, {column: raw value}) --------------------------------------------------------------------

def _csv_rows(p: Path, lines: list[tuple[int, str]]):
    header_line = next(ln for ln, t in lines if t.strip())
    body = [t for ln, t in lines if ln >= header_line]
    first = body[0]
    delim = "\t" if "\t" in first and "," not in first else ";" if ";" in first and "," not in first else ","
    reader = csv.reader(body, delimiter=delim)
    header = [h.strip() for h in next(reader)]
    named = {h.lower(): i for i, h in enumerate(header) if h}
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        if h and h.lower() in seen:
            raise InputError(f"column '{h}' appears twice in the header (columns {seen[h.lower()] + 1} and {i + 1}); "
                             "rename or drop one", str(p), header_line)
        seen[h.lower()] = i
    _check_columns(set(named), [h for h in header if h], f"{p}:{header_line}")
    for row in reader:
        ln = header_line + reader.line_num - 1
        if not any(c.strip() for c in row):
            continue
        if len(row) > len(header):
            raise InputError(f"{len(row)} fields but the header has {len(header)}; quote values that contain "
                             f"'{delim}'", str(p), ln)
        yield f"{p}:{ln}", {k: (row[i] if i < len(row) else "") for k, i in named.items()}


def _jsonl_rows(p: Path, lines: list[tuple[int, str]]):
    for ln, text in lines:
        if not text.strip():
            continue
        rec = loads(text, str(p), ln)  # malformed, a key twice, NaN, a lone surrogate: named
        if not isinstance(rec, dict):
            raise InputError(f"expected a JSON object with n and value, got {type(rec).__name__}", str(p), ln)
        yield f"{p}:{ln}", _columns(rec, f"{p}:{ln}")


def _columns(rec: dict, where: str) -> dict:
    """A JSON row's columns by their lower-case names; two that differ only in case are refused, as in a header."""
    out = {str(k).strip().lower(): v for k, v in rec.items()}
    if len(out) < len(rec):
        raise InputError("a column is given twice in this row (names are matched case-insensitively); rename or "
                         "drop one", where)
    return out


def _array_rows(p: Path, text: str):
    """Items of a JSON array (read whole by `loads` already), each with the line it starts on."""
    dec, i = json.JSONDecoder(), text.index("[") + 1
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == "]":
            return
        ln = text.count("\n", 0, i) + 1
        rec, i = dec.raw_decode(text, i)
        if not isinstance(rec, dict):
            raise InputError(f"expected a JSON object with n and value, got {type(rec).__name__}", str(p), ln)
        yield f"{p}:{ln}", _columns(rec, f"{p}:{ln}")


def _parquet_rows(p: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading Parquet needs pyarrow (pip install pyarrow), or give the points as CSV", str(p)) \
            from None
    try:
        table = pq.read_table(p)
    except (OSError, ValueError) as e:  # ArrowInvalid is a ValueError, ArrowIOError an OSError
        raise InputError(f"not a readable Parquet file ({str(e).splitlines()[0]})", str(p)) from None
    cols = [c.strip() for c in table.column_names]
    lowered = [c.lower() for c in cols]
    dup = next((c for c in cols if lowered.count(c.lower()) > 1), None)
    if dup:
        raise InputError(f"column '{dup}' appears twice; rename or drop one", str(p))
    _check_columns(set(lowered), cols, str(p))
    for k, rec in enumerate(table.to_pylist(), 1):
        yield f"{p}: row {k}", {str(c).strip().lower(): v for c, v in rec.items()}


def _check_columns(have: set[str], shown: list[str], where: str, row: bool = False) -> None:
    for col in REQUIRED:
        if col not in have:
            close = difflib.get_close_matches(col, sorted(have), n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            what = "this row has" if row else "columns"
            raise InputError(f"missing (required: n, value; {what}: {', '.join(shown) or 'none'}){hint}", where,
                             field=col)


# ---- values ------------------------------------------------------------------------------------------------

def _blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _number(v, col: str, where: str, typed: bool = False) -> float:  # JSON and Parquet (`typed`): no text
    if isinstance(v, bool) or not isinstance(v, (int, float, str)) or (typed and isinstance(v, str)):
        raise InputError(f"field '{col}': expected a number, got {json.dumps(v, default=str)[:40]}", where)
    try:
        x = float(v.strip()) if isinstance(v, str) else float(v)
    except ValueError:
        raise InputError(f"field '{col}': {v.strip()[:40]!r} is not a number", where) from None
    if not math.isfinite(x):
        raise InputError(f"field '{col}': {v} is not a finite number", where)
    return x


def _near_misses(cols, where: str) -> None:
    """A column that looks like a misspelt optional one (`curves`, `seeds`, `evaln`) would be ignored silently,
    merging curves or dropping the binomial noise: refuse it."""
    for col in cols:
        if col in REQUIRED or col in OPTIONAL:
            continue
        close = difflib.get_close_matches(col, [c for c in OPTIONAL if c not in cols], n=1, cutoff=0.75)
        if close:
            raise InputError(f"column '{col}' is not one fit reads (n, value, seed, eval_n, curve); did you mean "
                             f"'{close[0]}'? (rename it, or give it a name further from '{close[0]}' if it means "
                             "something else)", where)


def _label(v, col: str, where: str) -> str:
    """A `curve` or `seed` cell: a name or a number, never a list, an object or true/false."""
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise InputError(f"field '{col}': expected a name or a number (a label), got "
                         f"{json.dumps(v, default=str)[:40]}", where)
    return str(v).strip()


def _group(path: str, rows, typed: bool = False) -> list[Curve]:
    curves: dict[str | None, Curve] = {}
    seen: dict[tuple, str] = {}
    checked: set[frozenset] = set()
    for where, rec in rows:
        if "n" not in rec or "value" not in rec:
            _check_columns(set(rec), list(rec), where, row=True)
        if frozenset(rec) not in checked:
            _near_misses(set(rec), where)
            checked.add(frozenset(rec))
        for col in REQUIRED:
            if _blank(rec[col]):
                raise InputError(f"field '{col}': empty; every row needs n and value", where)
        n = _number(rec["n"], "n", where, typed)
        if n < 1:
            raise InputError(f"field 'n': {n:g} is below 1; n is the data size (examples, pairs, rollouts…)", where)
        value = _number(rec["value"], "value", where, typed)
        eval_n = None
        if not _blank(rec.get("eval_n")):
            e = _number(rec["eval_n"], "eval_n", where, typed)
            if e < 1 or e != int(e):
                raise InputError(f"field 'eval_n': {rec['eval_n']} is not a positive integer (the eval items behind "
                                 "the score)", where)
            eval_n = int(e)
        name = None
        if "curve" in rec:
            if _blank(rec["curve"]):
                raise InputError("field 'curve': empty; name every row's curve, or drop the column", where)
            name = _label(rec["curve"], "curve", where)
        seed = None if _blank(rec.get("seed")) else _label(rec["seed"], "seed", where)
        if seed is not None:
            key = (name, n, seed)
            if key in seen:
                raise InputError(f"duplicate point: n={n:g} seed {seed} is already at {seen[key]}", where)
            seen[key] = where
        curves.setdefault(name, Curve(name)).add(n, value, eval_n, seed, where)
    for c in curves.values():
        if any(e is not None for e in c.eval_n) and not c.has_eval_n:
            k = c.eval_n.index(None)
            raise InputError("field 'eval_n': empty here but given on other rows; give it on every row of the curve "
                             "or on none", c.where[k])
    return list(curves.values())


# ---- JSON files: an array of rows, or one of our result documents ---------------------------------------

def _json_file(p: Path, lines: list[tuple[int, str]]) -> Points:
    text = "".join(t for _, t in lines)
    try:  # NaN passes to a result document's own check (`check_result`), which names its field
        doc = loads(text, str(p), constants=True)
    except InputError as e:
        if "(Extra data" in e.message and text.lstrip().startswith("{"):  # JSON lines in a .json file
            return Points(str(p), _group(str(p), _jsonl_rows(p, lines), typed=True))
        raise
    if isinstance(doc, list) and loads(text, str(p)) is not None:  # rows: NaN is no JSON there either
        return Points(str(p), _group(str(p), _array_rows(p, text), typed=True))
    if not isinstance(doc, dict):
        raise InputError("expected a JSON array of points or a dataladder result document", str(p))
    if any(k in doc for k in ("arms", "rungs", "ladder")):
        from dataladder.core.results import check_result

        check_result(doc, str(p))  # types, ranges and NaN, named by field path, as report and compare check them
    cfg = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    defaults = {k: cfg[k] for k in ("target", "delta") if isinstance(cfg.get(k), (int, float))}
    defaults["direction"] = "higher"
    budget = _budget(cfg)
    if math.isfinite(budget):
        defaults["budget"] = budget
    try:
        arms = doc.get("arms")
        ladders = arms if isinstance(arms, list) and arms and isinstance(arms[0], dict) and "unit" in arms[0] else \
            [doc] if "unit" in doc and isinstance(doc.get("rungs"), list) else None
        if ladders:  # the engine's document (ladder/engine.py): every kind alike
            models = {lad.get("model") for lad in ladders}
            curves = [_doc_curve(p, " · ".join(str(x) for x in (lad.get("skill"), lad.get("label", i)) if x)
                                 + (f" · {Path(str(lad.get('model'))).name}" if len(models) > 1 else ""),
                                 lad["rungs"], "n", "rungs" if lad is doc else f"arms[{i}].rungs")
                      for i, lad in enumerate(ladders)]
            for c, lad in zip(curves, ladders):
                c.ladder = ladder_rule(cfg, lad)
            return Points(str(p), curves, ladders[0].get("kind", "ladder"), ladders[0]["unit"],
                          doc.get("metric", "accuracy"), defaults)
        if isinstance(doc.get("arms"), list) and doc["arms"] and "rungs" in doc["arms"][0] and "rollouts" not in \
                (doc["arms"][0]["rungs"] or [{}])[0]:
            models = {a.get("model") for a in doc["arms"]}
            curves = [_doc_curve(p, f"{a.get('skill', 'skill')} · {a.get('label', i)}"
                                 + (f" · {Path(str(a.get('model'))).name}" if len(models) > 1 else ""),
                                 a["rungs"], "n", f"arms[{i}].rungs") for i, a in enumerate(doc["arms"])]
            for c, a in zip(curves, doc["arms"]):
                c.ladder = ladder_rule(cfg, a)
            return Points(str(p), curves, "ladder", "examples", "accuracy", defaults)
        if isinstance(doc.get("ladder"), list) and doc["ladder"] and "pairs" in doc["ladder"][0]:
            curve = _doc_curve(p, str(doc.get("skill") or "reward model"), doc["ladder"], "pairs", "ladder")
            return Points(str(p), [curve], "prefs", "pairs", doc.get("metric", "pairwise accuracy"), defaults)
        if isinstance(doc.get("arms"), list) and doc["arms"] and "rungs" in doc["arms"][0]:
            curves = [_doc_curve(p, str(a.get("label", i)), a["rungs"], "rollouts", f"arms[{i}].rungs")
                      for i, a in enumerate(doc["arms"])]
            return Points(str(p), curves, "rl", "rollouts", doc.get("metric", "accuracy"), defaults)
        if isinstance(doc.get("ladder"), list) and doc["ladder"] and "rollouts" in doc["ladder"][0]:
            curve = _doc_curve(p, str(doc.get("skill") or "policy"), doc["ladder"], "rollouts", "ladder")
            return Points(str(p), [curve], "rl", "rollouts", doc.get("metric", "accuracy"), defaults)
    except (KeyError, TypeError, IndexError, ZeroDivisionError) as e:
        raise InputError(f"looks like a dataladder result document but lacks {e}; is it complete?", str(p)) from None
    raise InputError("a JSON object that is not a ladder.json, prefs.json or rl.json; give points as a JSON array "
                     "of {\"n\": …, \"value\": …} or as JSONL", str(p))


def _budget(cfg: dict) -> float:
    return next((float(cfg[k]) for k in ("max_examples", "max_pairs", "max_rollouts")
                 if isinstance(cfg.get(k), (int, float))), math.inf)


def ladder_rule(cfg: dict, lad: dict) -> dict | None:
    """What a finished ladder (an engine document, or an older climb's arm) fitted and decided with, so that
    `dataladder fit` decides as it did: the knobs its stop rule recorded (`stop.rule`, forecast/stop.py), else
    its config's; its base score and pooled rungs; the fit's draws and seed (the engine seeds the fit with
    the number of rungs). None for a document without counts or a stop."""
    from dataladder.core.schedule import next_size

    stop, rungs = lad.get("stop"), [r for r in lad.get("rungs") or [] if not r.get("unsound")]
    if not isinstance(stop, dict) or not rungs or not all("correct" in r and "total" in r for r in rungs):
        return None
    rec = stop.get("rule") if isinstance(stop.get("rule"), dict) else {}
    base = lad.get("base") if isinstance(lad.get("base"), dict) else {}
    if "correct" in base and "total" in base:
        b = (int(base["correct"]), int(base["total"]))
    elif isinstance(base.get("accuracy"), (int, float)):  # an older document: the accuracy on the first rung's items
        b = (round(base["accuracy"] * rungs[0]["total"]), int(rungs[0]["total"]))
    else:
        b = (int(rungs[0]["correct"]), int(rungs[0]["total"]))
    minutes, fit = cfg.get("max_minutes"), lad.get("fit") if isinstance(lad.get("fit"), dict) else {}
    return {"reason": stop.get("reason"), "why": stop.get("why"), "base": b,
            "rungs": [(r["n"], int(r["correct"]), int(r["total"])) for r in rungs],
            "target": rec.get("target", cfg.get("target")), "delta": rec.get("delta", cfg.get("delta", 0.01)),
            "min_rungs": rec.get("min_rungs", cfg.get("min_rungs", 4)),
            "min_examples": rec.get("min_examples", lad.get("min_examples", 0)),
            "budget": _budget(cfg), "max_examples": rec.get("max_examples", _budget(cfg)),
            "next_n": rec.get("next_n", next_size(rungs[-1]["n"], float(cfg.get("growth", 2.0)))),
            "time_left_s": rec["time_left_s"] if "time_left_s" in rec else
            (minutes * 60 - float(lad.get("seconds", 0.0)) if isinstance(minutes, (int, float)) else None),
            "draws": int(fit.get("draws") or max(int(cfg.get("n_boot", 200)), 1000)),
            "seed": len(lad.get("rungs") or [])}  # the engine seeds its fit with every rung, unsound ones too


def rung_points(r: dict, size: str) -> list[tuple[float, float, int, object]]:
    """One row of a ladder (a rung of ladder.json, prefs.json or rl.json; `size` is n, pairs or rollouts) as
    binomial points (size, accuracy, items, seed): one per seed where the row lists its seeds' accuracies
    (each seed saw the row's total / seeds items unless it says), else the row's own correct / total; none
    when the row has no counts."""
    if "total" not in r:
        return []
    total = int(r["total"])
    seeds = [s for s in r.get("seeds") or [] if isinstance(s.get("accuracy"), (int, float))]
    if any(s.get("unsound") for s in seeds):  # a run that diverged measured our training, not the data
        seeds = [s for s in seeds if not s.get("unsound")]  # the rung's pooled total is its sound seeds' already
    if seeds:
        return [(float(r[size]), float(s["accuracy"]), int(s.get("total") or max(1, round(total / len(seeds)))),
                 s.get("seed")) for s in seeds]
    return [(float(r[size]), r["correct"] / total, total, None)] if "correct" in r else []


def _doc_curve(p: Path, name: str, rungs: list[dict], size: str, at: str) -> Curve:
    """A ladder's rungs as points (`rung_points`); the base model (size 0) is left out."""
    c = Curve(name)
    for k, r in enumerate(rungs):
        if not r[size] or r[size] < 1 or r.get("unsound"):  # the base model is not on a log axis; an unsound
            continue  # rung (no run trained soundly) is not fitted
        pts = rung_points(r, size)
        if not pts:
            raise KeyError("total" if "total" not in r else "correct")
        for n, acc, items, seed in pts:
            c.add(n, acc, items, seed, f"{p}: {at}[{k}]")
    if not c.n:
        raise InputError(f"{at}: no rung with {size} ≥ 1 (only the base model); nothing to fit yet", str(p))
    return c
