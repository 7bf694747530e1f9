"""`dataladder compare`: supervised examples, DPO pairs, reward-model pairs and rollouts on one log axis.

    dataladder compare --climb runs/climb --dpo runs/dpo --prefs runs/prefs --rl runs/rl --output-dir runs/compare

Reads the result files only (`ladder.json` from `climb`, `dpo.json` from `dpo`, `prefs.json` from
`prefs`, `rl.json` from `rl`; any two or more) and writes `compare.json` and `compare.png`: each curve's points
(the score its rungs reached, with the metric named: accuracy of the fine-tuned model, held-out
pairwise accuracy of the reward model, accuracy after RL) and its saturation point, the count
past which 10× more of that resource gains less than δ. A file's own saturation block is used
when it has one with the same δ; otherwise the curve is refitted from its rungs (`fit_curve`,
posterior draws) and the same rule applied, so all three are marked by one definition.
"""

from __future__ import annotations

import os
from pathlib import Path

from dataladder.core.errors import InputError, not_a_file
from dataladder.forecast.points import rung_points
from dataladder.core.results import check_needs, check_skill_agrees, read_result, write_json

OPTIONS = {"ladder.json": ("--climb", "climb"), "prefs.json": ("--prefs", "prefs"), "rl.json": ("--rl", "rl"),
           "dpo.json": ("--dpo", "dpo"), "rm-policy.json": ("--rm-policy", "rm-policy")}  # document → option, command


def _file(path: Path, name: str | None) -> Path:
    return path / name if name and path.is_dir() else path


def _read(path: Path, name: str | None, option: str | None = None) -> dict:
    """The document `name` in `path` (or the file `path`), through the result validator (types, ranges, NaN and
    paths, each named by its field path); one that is not there names the option it was given to."""
    f = _file(path, name)
    option = option or "--ladder"
    if path.is_dir() and not_a_file(f) == "no such file":
        cmd = OPTIONS.get(f.name, (None, f.stem))[1]
        raise InputError(f"{option} {path}: no {f.name} here (run `dataladder {cmd}` first, or give the directory "
                         "it wrote)")
    if not_a_file(f):  # a link loop, a FIFO, a directory: read_result says which, named by the option
        try:
            read_result(path, name)
        except InputError as e:
            raise InputError(f"{option}: {e}") from None
    doc = read_result(path, name)
    check_skill_agrees(doc, str(f))  # the curve's label and the climb arm it picks are the document's skill
    return doc


def check_distinct(given: list[tuple[str, Path | None, str | None]]) -> None:
    """(option, path, document) of every input: no document given twice, as a directory and as its file (or
    through a link), which compare would draw as two curves."""
    seen: dict[str, tuple[str, Path]] = {}
    for option, path, name in given:
        if path is None:
            continue
        key = os.path.realpath(_file(path, name))
        if key in seen:
            first, where = seen[key]
            raise ValueError(f"{first} {where} and {option} {path}: the same ladder twice (both are {key}); compare "
                             "needs two different ladders")
        seen[key] = (option, path)


def _need(doc: dict, field: str, f: str):
    if field not in doc:
        raise InputError("missing", f, None, field)
    return doc[field]


def _points(rows: list[dict], x: str, where: str) -> list[dict]:
    """A curve's points from a ladder's rows (`x` is the count: n, pairs or rollouts). `fit_points` are the
    binomial observations the fit refits: one per seed when the row keeps per-seed accuracies (each
    seed saw total / seeds items), else the row's own correct / total."""
    pts = []
    for i, r in enumerate(rows):
        for k in (x, "accuracy", "ci_low", "ci_high"):
            _need(r, k, f"{where}[{i}]")
        fit = [(n, round(acc * items), items) for n, acc, items, _ in rung_points(r, x)]
        pts.append({"n": r[x], "accuracy": r["accuracy"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                    "fit_points": fit})
    return pts


def climb_curve(path: Path, skill: str | None = None) -> dict:
    """The supervised curve: one arm of ladder.json (the one for `skill` if given, else the first)."""
    doc = _read(path, "ladder.json", "--climb")
    f = str(_file(path, "ladder.json"))
    arms = _need(doc, "arms", f)
    if not arms:
        raise InputError("no arms", f, None, "arms")
    arm = next((a for a in arms if a.get("skill") == skill), arms[0]) if skill else arms[0]
    fmt = arm.get("target_format") or doc.get("config", {}).get("target_format") or "target"
    pts = _points(_need(arm, "rungs", f), "n", f"{f} arms[{arms.index(arm)}].rungs")
    return {"kind": "supervised examples", "x_label": "supervised examples",
            "metric": f"accuracy of the fine-tuned model ({arm.get('skill')}, {fmt} format, {arm.get('label', '')})",
            "label": f"SFT: {arm.get('skill')} ({arm.get('label', '')})", "file": f, "points": pts,
            "file_saturation": None}


def prefs_curve(path: Path) -> dict:
    doc = _read(path, "prefs.json", "--prefs")
    f = str(_file(path, "prefs.json"))
    pts = _points(_need(doc, "rungs", f), "n", f"{f} rungs") if "unit" in doc else \
        _points(_need(doc, "ladder", f), "pairs", f"{f} ladder")
    return {"kind": "preference pairs", "x_label": "preference pairs",
            "metric": f"held-out pairwise accuracy of the reward model ({doc.get('skill')})",
            "label": f"reward model: {doc.get('skill')}", "file": f, "points": pts,
            "file_saturation": doc.get("saturation")}


def rl_curve(path: Path) -> dict:
    doc = _read(path, "rl.json", "--rl")
    f = str(_file(path, "rl.json"))
    pts = _points(_need(doc, "rungs", f), "n", f"{f} rungs") if "unit" in doc else \
        _points(_need(doc, "ladder", f), "rollouts", f"{f} ladder")
    skill = doc.get("skill") or doc.get("config", {}).get("skill")
    return {"kind": "rollouts", "x_label": "rollouts (prompts × generations)",
            "metric": f"greedy accuracy after RL ({skill}" + (f", {doc['format']} format" if doc.get("format") else "")
                      + (f", from a {doc['cold_start']['verified']}-example cold start" if doc.get("cold_start") else "")
                      + ")", "label": f"RL: {skill}", "file": f, "points": pts,
            "file_saturation": doc.get("saturation")}


KIND_NAMES = {"dpo": "DPO pairs", "rm-policy": "reward-model pairs → policy"}  # display names; default: the kind


def ladder_curve(path: Path, name: str | None = None, option: str | None = None) -> dict:
    """Any single-ladder document of the engine (`dpo.json`, `rm-policy.json`, a new kind's): its rungs,
    metric, label, saturation and, where it has one, the ceiling (`verifier_ceiling`). `path` is the file,
    or the directory holding `name` (else its one result document with a `unit`)."""
    if path.is_dir() and name is None:
        found = [p for p in sorted(path.glob("*.json")) if '"unit"' in p.read_text(errors="replace")[:100000]]
        if len(found) != 1:
            raise InputError(f"{option or '--ladder'} {path}: {len(found)} ladder documents here; name the file")
        path = found[0]
    doc = _read(path, name or path.name, option)
    f = str(_file(path, name))
    if "arms" in doc and "kind" not in doc:
        raise InputError("a climb's ladder.json (its ladders are its arms, not one ladder); give it as --climb", f)
    check_needs(doc, f, ("kind", "unit", "rungs"))
    kind, unit = doc["kind"], doc["unit"]
    return {"kind": KIND_NAMES.get(kind, kind), "x_label": unit, "metric": doc.get("metric", "accuracy"),
            "label": f"{doc.get('label', kind)}: {doc.get('skill', '')}", "file": f,
            "points": _points(_need(doc, "rungs", f), "n", f"{f} rungs"), "file_saturation": doc.get("saturation"),
            "ceiling": doc.get("verifier_ceiling")}


def curve_saturation(curve: dict, delta: float, n_boot: int = 200) -> tuple[dict | None, str]:
    """(saturation block, where it came from): the file's own with the same δ, else a refit of its rungs."""
    from dataladder.ladder.fit import fit_curve
    from dataladder.ladder.fit import saturation

    own = curve.get("file_saturation")
    if isinstance(own, dict) and own.get("delta") == delta and "median" in own:
        return own, "file"
    pts = [p for x in curve["points"] for p in x["fit_points"] if p[0] > 0 and p[2] > 0]
    if len({p[0] for p in pts}) < 3:
        return None, "too few rungs to fit (need 3)"
    fit = fit_curve(pts, target=1.0, n_boot=n_boot, seed=0)
    ns = sorted({p[0] for p in pts})
    return saturation(fit, delta, ns[0], ns[-1]), "refit"


def compare(climb: Path | list[Path] | None, prefs: Path | None, rl: Path | None, output_dir: Path, delta: float = 0.02,
            skill: str | None = None, n_boot: int = 200, dpo: Path | None = None,
            rm_policy: Path | None = None, ladders: tuple[Path, ...] = ()) -> dict:
    """Build compare.json and compare.png from whichever of the result files are given (two or more)."""
    curves = []
    climbs = [climb] if isinstance(climb, Path) else climb or []
    check_distinct([*(("--climb", c, "ladder.json") for c in climbs), ("--prefs", prefs, "prefs.json"),
                    ("--rl", rl, "rl.json"), ("--dpo", dpo, "dpo.json"), ("--rm-policy", rm_policy, "rm-policy.json"),
                    *(("--ladder", p, None) for p in ladders)])
    pref = prefs_curve(prefs) if prefs else None
    dpoc = ladder_curve(dpo, "dpo.json", "--dpo") if dpo else None
    want_skill = skill or (pref["label"].split(": ", 1)[1] if pref else None) or \
        (dpoc["label"].split(": ", 1)[1] if dpoc else None)
    for i, c in enumerate(climbs):
        curves.append(climb_curve(c, want_skill if i == 0 else None))
    if dpoc:
        curves.append(dpoc)
    if pref:
        curves.append(pref)
    if rl:
        curves.append(rl_curve(rl))
    if rm_policy:
        curves.append(ladder_curve(rm_policy, "rm-policy.json", "--rm-policy"))
    for other in ladders:
        curves.append(ladder_curve(other))
    if len(curves) < 2:
        from dataladder.ladder.kinds import kinds

        options = [f"--{k.compare_param.replace('_', '-')}" for k in kinds()]  # every registered kind's, new ones too
        raise ValueError(f"compare needs at least two of {', '.join(options)}, --ladder")
    for c in curves:
        c["saturation"], c["saturation_from"] = curve_saturation(c, delta, n_boot)
        for p in c["points"]:
            p.pop("fit_points", None)
        c.pop("file_saturation", None)
    doc = {"delta": delta, "saturation_rule": f"smallest n past which 10x more gains less than {delta:g}",
           "curves": curves}
    import io

    png = io.BytesIO()
    plot_compare(doc, png)  # drawn whole before anything is written: what cannot be drawn leaves no half output
    write_json(output_dir / "compare.json", doc)
    (output_dir / "compare.png").write_bytes(png.getvalue())
    return doc


def plot_compare(doc: dict, path: Path) -> None:
    from dataladder.core.plot import log_axes, pyplot, save

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7.2, 5.2))
    n_max = max(p["n"] for c in doc["curves"] for p in c["points"])
    for i, c in enumerate(doc["curves"]):
        col = f"C{i}"
        pts = c["points"]
        ns = [p["n"] for p in pts]
        ys = [p["accuracy"] for p in pts]
        err = [[p["accuracy"] - p["ci_low"] for p in pts], [p["ci_high"] - p["accuracy"] for p in pts]]
        ax.errorbar(ns, ys, yerr=err, fmt="o-", color=col, capsize=3, ms=4, lw=1.2,
                    label=f"{c['kind']}: {c['metric']}")
        if c.get("ceiling"):  # the same RL with the verifier as reward
            ax.axhline(c["ceiling"]["accuracy"], color=col, ls="--", lw=1,
                       label=f"{c['kind']}: the verifier as reward instead (ceiling) {c['ceiling']['accuracy']:.3f}")
        sat = c.get("saturation")
        if sat and sat.get("median"):
            ax.axvline(sat["median"], color=col, ls=":", lw=1.3)
            ax.annotate(f" saturates ≈{sat['median']:,.0f} ", (sat["median"], 0.02 + 0.06 * i), color=col, fontsize=7,
                        ha="right" if sat["median"] > n_max else "left")
    log_axes(ax, "examples / pairs / rollouts (log scale)", "score reached (each curve's metric)",
             f"what each kind of data buys (dotted: saturation, 10× gains < {doc['delta']:g})", ylim=(0.0, 1.02),
             legend={"fontsize": 6.5, "loc": "upper center", "bbox_to_anchor": (0.5, -0.13), "ncol": 1, "frameon": False})
    save(fig, path)
