"""Result files: written whole or not at all (to a `.tmp` next to the target, then renamed), and read back
through one check (`read_result`) by every command that is given one: report, compare, fit, rm-policy."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path, PurePosixPath


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
# intervals in [0, 1], an interval around its accuracy, counts and rung sizes whole numbers ≥ 0, nothing NaN or
# infinite, a target in (0, 1], forecasts finite, a probe's data band from low to high), a ladder's rungs (at
# least one, sizes growing, each scored on some items and seeds, its samples and run directories paths that stay
# inside the document's directory once every symbolic link is resolved; every arm holds them), a ladder's base score,
# its target, eval_n and seeds and a probe's data bands and diagnoses never null, the names every
# reader branches on (a ladder's kind and its unit, a probe's diagnosis, its formats, a stop's reason, a skill, a
# skill that agrees with its config's), each named by its field path. The readers keep their own checks of
# what only they need.

SHARES = ("accuracy", "ci_low", "ci_high", "p_reachable", "p_reach_within_budget", "p_saturated")
COUNTS = ("correct", "total")
MAX_SIZE = 10**15  # a rung's size beyond this is no data set's (examples, pairs, rollouts, demonstrations)
NEEDS = {"config": "the settings of the run that wrote it", "rungs": "the ladder's measured rungs",
         "arms": "the ladder's arms", "unit": "what a rung counts", "kind": "the ladder kind",
         "skills": "the probe's scores per skill", "recommendations": "the ladder's recommendations",
         "curves": "the compared curves"}
FINITE = ("median", "lo80", "hi80", "mean")  # a forecast's and a gain's numbers: a number or null, never NaN
# sizes, times and settings a reader prints or sums: a number ≥ 0 (a whole one for the counts) or null
NONNEG = ("seconds", "eval_seconds", "train_seconds", "estimate_seconds", "items_per_second", "flops")
WHOLE = ("min_examples", "max_examples", "eval_n", "start", "lora_r")
PATHS = {"samples": "a rung's samples lie under it: runs/<key>/samples.jsonl",  # a rung's paths, relative to
         "run_dirs": "a rung's runs lie under it: runs/<key>"}                   # the document's directory


def read_result(path, name: str | None = None, need: tuple[str, ...] = (), rerun: str = "",
                what: str = "result file") -> dict:
    """The result document at `path` (a file, or the directory holding `name`), checked by `check_result`; any
    problem is one InputError naming the file and the field. `need`: top-level fields the caller uses."""
    from dataladder.core.errors import InputError, not_a_file, read_json

    f = Path(path) / name if name and Path(path).is_dir() else Path(path)
    if why := not_a_file(f):
        if why == "no such file" and name:
            why = f"no {name} here (run the command that writes it first)"
        elif name and why.startswith("is a symbolic link loop"):
            why = f"is a symbolic link loop; give the directory that holds {name}, or the file"
        raise InputError(why, str(f))
    doc = read_json(f, what)
    check_result(doc, str(f), need, rerun)
    return doc


def read_model_meta(model_dir) -> dict:
    """What dataladder recorded beside a model directory it wrote (`dataladder.json`: a reward model's skill,
    format, pairs and seed; a converted model's source), checked as every result document is, before any model
    loads; {} for a directory without one (a model from elsewhere)."""
    from dataladder.core.errors import InputError

    f = Path(model_dir) / "dataladder.json"
    if not os.path.lexists(f):
        return {}
    fix = "give the reward_model/ that `dataladder prefs` wrote"
    doc = read_result(f, rerun=fix, what="document")
    fmt = doc.get("format")
    if fmt is not None and not (isinstance(fmt, str) and fmt.strip()):
        raise InputError(f"format: {_show(fmt)} is not a format name (a non-empty string, or null); {fix}", str(f))
    for key in ("pairs", "seed"):
        if key in doc and not _whole(doc[key]):
            raise InputError(f"{key}: {_show(doc[key])} is not a count (a whole number ≥ 0); {fix}", str(f))
    return doc


def check_result(doc, file: str, need: tuple[str, ...] = (), rerun: str = "") -> None:
    """Raise InputError(`file`: `field.path`: what is wrong) for a document no reader can use."""
    from dataladder.core.errors import InputError

    fix = f"; {rerun}" if rerun else "; rerun the command that wrote it"

    def bad(where: str, what: str):
        raise InputError(f"{where}: {what}{fix}" if where else f"{what}{fix}", file)

    if not isinstance(doc, dict):
        bad("", f"expected a JSON object (a dataladder result document), got {_kind(doc)}")
    check_needs(doc, file, need, rerun)
    root = os.path.realpath(Path(file).parent)  # the document's directory: every path it names stays inside
    for key, want in (("config", dict), ("base", dict), ("arms", list), ("rungs", list), ("ladder", list),
                      ("recommendations", list), ("skills", dict), ("unit", str), ("kind", str), ("curves", list)):
        if key in doc and not isinstance(doc[key], want) and not (key == "base" and doc[key] is None):
            bad(key, f"expected {_name(want)}, got {_kind(doc[key])}")
    _walk(doc, "", bad)
    if "rungs" in doc:
        _kind_unit(doc, "", bad)
        _rungs(doc["rungs"], "rungs", "n", bad, root)
        _base(doc, "", bad)
    for i, arm in enumerate(doc.get("arms") or []):
        if not isinstance(arm, dict):
            bad(f"arms[{i}]", f"expected an object, got {_kind(arm)}")
        if not isinstance(arm.get("rungs"), list):  # every arm a ladder writes holds its rungs
            bad(f"arms[{i}].rungs", f"expected a list of rungs, got {_kind(arm['rungs'])}" if "rungs" in arm else
                "missing (the arm's measured rungs)")
        _kind_unit(arm, f"arms[{i}].", bad)
        if "rungs" in arm:
            _rungs(arm["rungs"], f"arms[{i}].rungs", "n", bad, root)
            _base(arm, f"arms[{i}].", bad)
    rows = doc.get("ladder") or []
    x = "pairs" if rows and isinstance(rows[0], dict) and "pairs" in rows[0] else "rollouts"
    _rungs(rows, "ladder", x, bad, root, empty=True)
    if _number(doc.get("partial_at")) and _number(doc.get("mastered_at")) and doc["partial_at"] > doc["mastered_at"]:
        bad("partial_at", f"{_show(doc['partial_at'])} is above mastered_at ({_show(doc['mastered_at'])}); a partial "
            "skill scores below a mastered one")
    _target_formats(doc, bad)
    for at, cfg in [("config", doc.get("config")), *((f"arms[{i}].config", a.get("config")) for i, a in
                                                     enumerate(doc.get("arms") or []) if isinstance(a, dict))]:
        _config(cfg, at, bad)
    for k in ("target", "eval_n", "seeds"):  # a ladder's settings a reader prints: null only where never written
        if isinstance(doc.get("config"), dict) and k in doc["config"] and doc["config"][k] is None and \
                any(x in doc for x in ("arms", "rungs", "ladder")):
            bad(f"config.{k}", "null; a ladder's " + {"target": "target is the accuracy it climbs to (a number in "
                "(0, 1])", "eval_n": "eval_n is a count of items", "seeds": "seeds is a count of seeds per rung"}[k])
    for name, sk in (doc.get("skills") or {}).items():  # a probe: every skill scored in one format or more
        for k in ("data_band", "diagnosis"):  # what every reader of a probe shows; the probe writes both, never null
            if isinstance(sk, dict) and k in sk and sk[k] is None:
                bad(f"skills.{name}.{k}", "null; the probe writes " + ("a data band (an object: label, low, high)"
                                                                       if k == "data_band" else "a diagnosis (a name)"))
        fmts = sk.get("formats") if isinstance(sk, dict) else None
        if not isinstance(fmts, dict) or not fmts or any(not isinstance(v, dict) for v in fmts.values()):
            what = "no formats (an empty object)" if fmts == {} else \
                f"expected an object of formats, got {_kind(fmts)}" if isinstance(sk, dict) and "formats" in sk \
                else f"expected a skill's scores per format, got {_kind(sk)}" if not isinstance(sk, dict) else \
                "missing (the skill's scores per format)" if not isinstance(fmts, dict) else \
                "expected each format's scores as an object"
            bad(f"skills.{name}.formats" if isinstance(sk, dict) else f"skills.{name}", what)
    for i, c in enumerate(doc.get("curves") or []):  # compare.json
        if not isinstance(c, dict) or not isinstance(c.get("points"), list):
            bad(f"curves[{i}]" if not isinstance(c, dict) else f"curves[{i}].points",
                f"expected a curve (an object), got {_kind(c)}" if not isinstance(c, dict) else
                f"expected a list of points, got {_kind(c.get('points'))}")
        _rungs(c["points"], f"curves[{i}].points", "n", bad, root)


def check_needs(doc: dict, file: str, need: tuple[str, ...], rerun: str = "") -> None:
    """The top-level fields `need` a reader uses are there: one missing is named; none of several there is a
    document of another kind (or none of ours), said so with what it does hold."""
    from dataladder.core.errors import InputError

    fix = f"; {rerun}" if rerun else "; rerun the command that wrote it"
    missing = [k for k in need if k not in doc]
    if len(need) > 1 and len(missing) == len(need) and doc:
        held = ", ".join(map(str, list(doc)[:6])) + (", …" if len(doc) > 6 else "")
        raise InputError(f"not a {Path(file).name} as dataladder writes it: none of {', '.join(need)} is here "
                         f"(it holds {held})", file)
    if missing:
        raise InputError(f"{missing[0]}: missing ({NEEDS.get(missing[0], 'needed here')}){fix}", file)


def check_skill_agrees(doc: dict, file: str, rerun: str = "") -> None:
    """A one-ladder document's `skill` is its config's (the skill its runs trained on, which a reader that runs
    anything uses); called by such a reader once it has checked config.skill itself (rm-policy), or by one that
    only draws (compare)."""
    from dataladder.core.errors import InputError

    cfg = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    if isinstance(doc.get("skill"), str) and isinstance(cfg.get("skill"), str) and doc["skill"] != cfg["skill"]:
        raise InputError(f"skill: {_show(doc['skill'])}, but config.skill is {_show(cfg['skill'])} (the skill its runs "
                         f"trained on); the two disagree; {rerun or 'rerun the command that wrote it'}", file)


def _config(cfg, at: str, bad) -> None:
    """The settings a reader shows and refits with: a schedule that grows, skills a list of names."""
    if not isinstance(cfg, dict):
        return
    if "growth" in cfg and not (_number(cfg["growth"]) and cfg["growth"] > 1):
        bad(f"{at}.growth", f"{_show(cfg['growth'])} is not a rung-to-rung growth (a number above 1)")
    for key in ("skills", "eval_skills"):
        v = cfg.get(key)
        if v is not None and not (isinstance(v, list) and all(isinstance(s, str) and s.strip() for s in v)):
            bad(f"{at}.{key}", f"{_show(v)} is not a list of skill names")


def _target_formats(doc: dict, bad) -> None:
    """A probe's target format is one its skills were scored in (each skill's own, and the run's, one of some
    skill's)."""
    skills = doc.get("skills") if isinstance(doc.get("skills"), dict) else {}
    seen: set = set()
    for name, sk in skills.items():
        fmts = sk.get("formats") if isinstance(sk, dict) else None
        if not isinstance(fmts, dict):
            continue
        seen |= set(fmts)
        tf = sk.get("target_format")
        if tf is not None and tf not in fmts:
            bad(f"skills.{name}.target_format", f"{_show(tf)} is none of the formats it was scored in "
                f"({', '.join(map(str, fmts))})")
    tf = doc.get("target_format")
    if tf is not None and seen and (not isinstance(tf, str) or tf not in seen):
        bad("target_format", f"{_show(tf)} is none of the formats the skills were scored in ({', '.join(sorted(seen))})")


def _base(ladder: dict, at: str, bad) -> None:
    """A ladder of the engine (a `kind` and its rungs) records the score it climbs from: its `base`."""
    if "kind" in ladder and "base" not in ladder:
        bad(f"{at}base", "missing (the score before any data: the base model's, which every ladder records)")


# the names a reader branches on, filled by the layers that define them (core imports nothing above it):
# `ladder.kinds` (kind → its unit, and the stop reasons) and `evals.probe` (the diagnoses); a name with nothing
# filled is not checked
NAMES: dict[str, dict] = {"kinds": {}, "diagnoses": {}, "stop_reasons": {}}


def _kind_unit(ladder: dict, at: str, bad) -> None:
    """A ladder's `kind` is a registered kind, and its `unit` what that kind counts."""
    KINDS = NAMES["kinds"]
    kind, unit = ladder.get("kind"), ladder.get("unit")
    if kind is None or not KINDS:
        return
    if not isinstance(kind, str) or kind not in KINDS:
        bad(f"{at}kind", f"{_show(kind)} is not a ladder kind ({', '.join(KINDS)})")
    if unit is not None and unit != (want := KINDS[kind]):
        bad(f"{at}unit", f"{_show(unit)}, but the {kind} kind counts {want}")


def _rungs(rows: list, where: str, x: str, bad, root: str, empty: bool = False) -> None:
    """A ladder's rungs: at least one (unless `empty`), each an object with a whole size, growing from rung to rung,
    scored on some items and seeds, its paths under the document's directory `root`."""
    if not rows and not empty:
        bad(where, "no rungs (an empty list)")
    last = None
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
        if n > MAX_SIZE:
            bad(f"{at}.{size}", f"{n:.3g} is beyond any data size (at most 10^15)")
        if last is not None and n <= last:
            bad(f"{at}.{size}", f"{_show(n)} after {_show(last)} ({where}[{i - 1}]): " +
                ("the same size twice; each rung is a different size" if n == last else
                 "a ladder's rungs grow in size"))
        last = n
        if _number(r.get("total")) and r["total"] == 0:
            bad(f"{at}.total", "0: a rung is scored on at least one item")
        _paths(r, at, root, bad)
        if "accuracy" not in r and not ("correct" in r and "total" in r):
            bad(at, "no 'accuracy' (nor 'correct' and 'total')")
        if "accuracy" in r and r["accuracy"] is None:
            bad(f"{at}.accuracy", "null; a rung's accuracy is a number in [0, 1]")
        if "seeds" in r and not isinstance(r["seeds"], list):
            bad(f"{at}.seeds", f"expected a list, got {_kind(r['seeds'])}")
        if r.get("seeds") == []:
            bad(f"{at}.seeds", "no seeds (an empty list); a rung is measured with one seed or more")
        for j, sd in enumerate(r.get("seeds") or []):
            if not isinstance(sd, dict):
                bad(f"{at}.seeds[{j}]", f"expected a seed's score (an object), got {_kind(sd)}")


def _paths(r: dict, at: str, root: str, bad) -> None:
    """A rung's paths (`PATHS`): relative, and inside the document's directory `root` once resolved (a symbolic
    link on the way that leads out is refused as a `..` is): nothing outside the run is ever read."""
    for key, under in PATHS.items():
        if r.get(key) is None:
            continue
        if not isinstance(r[key], list):
            bad(f"{at}.{key}", f"expected a list of paths, got {_kind(r[key])}")
        for j, s in enumerate(r[key]):
            p = PurePosixPath(s) if isinstance(s, str) else None
            if p is None or not s.strip() or p.is_absolute() or ".." in p.parts:
                bad(f"{at}.{key}[{j}]", f"{_show(s)} is outside the ladder's directory ({under}); refused, not read")
            real = os.path.realpath(os.path.join(root, s))
            if os.path.commonpath([root, real]) != root:
                bad(f"{at}.{key}[{j}]", f"{_show(s)} leads outside the ladder's directory (through a symbolic link, "
                    f"to {real}; {under}); refused, not read")


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
        if v is not None:
            _named(k, v, at, bad)
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
        elif k == "target" and v is not None and not isinstance(v, (dict, list)):  # a key named target: walked
            if not _number(v) or not 0 < v <= 1:
                bad(at, f"{_show(v)} is not an accuracy to reach (a number in (0, 1])")
        elif k == "diagnosis" and v is not None and not isinstance(v, (dict, list)):
            DATA_BANDS = NAMES["diagnoses"]
            if DATA_BANDS and (not isinstance(v, str) or v not in DATA_BANDS):
                bad(at, f"{_show(v)} is not a diagnosis ({', '.join(DATA_BANDS)})")
        elif isinstance(v, float) and not math.isfinite(v) and k in ("seconds", "margin", "delta"):
            bad(at, f"{_show(v)} is not a finite number")
        else:
            _walk(v, at, bad)
    lo, hi, acc = x.get("ci_low"), x.get("ci_high"), x.get("accuracy")
    dot = "." if where else ""
    if _number(lo) and _number(hi) and lo > hi:
        bad(f"{where}{dot}ci_low", f"{_show(lo)} is above ci_high ({_show(hi)}); an interval runs from low to high")
    if _number(lo) and _number(hi) and _number(acc) and not lo - 1e-9 <= acc <= hi + 1e-9:
        bad(f"{where}{dot}accuracy", f"{_show(acc)} lies outside its interval [{_show(lo)}, {_show(hi)}] "
            "(ci_low, ci_high)")
    rung = where.endswith("]") and where.rsplit("[", 1)[0].endswith(("rungs", "ladder"))  # its n is a data size
    total = "total" if "total" in x else None if rung else "n"
    if total and _number(x.get("correct")) and _number(x.get(total)) and x["correct"] > x[total]:
        bad(f"{where}.correct" if where else "correct", f"{_show(x['correct'])} is more than {total} "
            f"({_show(x[total])})")


def _named(k: str, v, at: str, bad) -> None:
    """The fields a reader uses by name, wherever they sit (`v` not null): a skill, a size reached, a stop's reason,
    a probe's data band, a forecast's numbers."""
    if k == "skill" and not (isinstance(v, str) and v.strip() or  # a dict: a run-store key's (skills.spec.skill_key)
                             isinstance(v, dict) and isinstance(v.get("spec"), str)):
        bad(at, f"{_show(v)} is not a skill name (a non-empty string)")
    elif k == "reached_at" and not _whole(v):
        bad(at, f"{_show(v)} is not a size (a whole number ≥ 0; null: not reached)")
    elif k in ("stop", "stop_reason") and (REASONS := NAMES["stop_reasons"]):
        r = v if k == "stop_reason" else v.get("reason") if isinstance(v, dict) else None  # config.stop: strings
        if r is not None and (not isinstance(r, str) or r not in REASONS):
            bad(at if k == "stop_reason" else f"{at}.reason", f"{_show(r)} is not a stop reason ({', '.join(REASONS)})")
    elif k == "data_band":
        if not isinstance(v, dict):
            bad(at, f"expected a data band (an object: label, low, high), got {_kind(v)}")
        lo, hi = v.get("low"), v.get("high")
        if not _number(lo) or lo < 0:
            bad(f"{at}.low", f"{_show(lo)} is not a data size (a number ≥ 0)")
        if hi is not None and (not _number(hi) or hi < lo):
            bad(f"{at}.high", f"{_show(hi)} is below low ({_show(lo)}); a band runs from low to high" if _number(hi)
                else f"{_show(hi)} is not a data size (a number ≥ low, or null: no upper end)")
    elif k in NONNEG and not (_number(v) and v >= 0):
        bad(at, f"{_show(v)} is not a number ≥ 0 (a time, a rate or a count of operations)")
    elif k in WHOLE and not _whole(v):
        bad(at, f"{_show(v)} is not a count (a whole number ≥ 0)")
    elif k == "train_loss" and not (_number(v) or isinstance(v, list) and all(x is None or _number(x) for x in v)):
        bad(at, f"{_show(v)} is not a training loss (a number, or a list of them)")
    elif k == "model" and not (isinstance(v, str) and v.strip() or isinstance(v, dict)):
        bad(at, f"{_show(v)} is not a model (a name or a path)")
    elif k in ("mastered_at", "partial_at") and not (_number(v) and 0 <= v <= 1):
        bad(at, f"{_show(v)} is not an accuracy (a number in [0, 1])")
    elif k in FINITE and not isinstance(v, (dict, list)) and not _number(v):
        bad(at, f"{_show(v)} is not a finite number" if isinstance(v, float) else f"{_show(v)} is not a number")


def _whole(v) -> bool:
    return _number(v) and v == int(v) and v >= 0


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
