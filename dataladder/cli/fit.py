"""`dataladder fit POINTS`: forecast from rungs you measured yourself ("bring your own rungs").

    dataladder fit curve.csv --target 0.9 --budget 5000 --at 10000
    dataladder fit loss.jsonl --direction lower --target 1.2
    dataladder fit runs/climb/ladder.json

Reads POINTS (`dataladder.forecast.points`), forecasts every curve (`dataladder.forecast.summary`) and writes
fit.json and fit.png into --output-dir. Nothing here imports torch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from dataladder.cli.common import OUTPUT, check_writable, user_errors
from dataladder.cli.tables import console


def parse_bounds(text: str | None):
    """'lo,hi' → (lo, hi); 'none' → None (unbounded); None → 'auto'."""
    if text is None or text.strip().lower() == "auto":
        return "auto"
    if text.strip().lower() == "none":
        return None
    usage = f"--bounds {text!r}: expected lo,hi (e.g. 0,1 or 0,100) or none for an unbounded score"
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(usage)
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(usage) from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(usage)
    if not lo < hi:
        raise ValueError(f"--bounds {text}: the lower bound must be below the upper one")
    return lo, hi


def _check_target(target: float | None, bounds, source: str) -> None:
    if target is None or bounds in (None, "auto"):
        return
    lo, hi = bounds
    if not lo < target < hi:
        why = " (the default for higher-is-better scores with eval_n)" if source == "default" else ""
        raise ValueError(f"--target {target:g}: must lie strictly between the bounds {lo:g},{hi:g}{why}; change "
                         "the target or pass --bounds")


def _n(x) -> str:
    if x is None or not math.isfinite(x):
        return "∞"
    return f"{x:,.0f}" if x >= 10 else f"{x:.3g}"


def _v(x: float) -> str:
    return f"{x:.3f}" if abs(x) < 10 else f"{x:,.1f}"


def print_fit(doc: dict) -> None:
    """Per curve: the answer line, the --at forecasts, the next doubling's gain and the stop-rule verdict."""
    from rich.table import Table

    x, y, target = doc["x_name"], doc["y_name"], doc["target"]
    cmp = "≥" if doc["direction"] == "higher" else "≤"
    for note in doc["notes"]:
        console.print(f"[dim]{note}[/dim]", highlight=False)
    for c in doc["curves"]:
        rs = c["rungs"]
        head = f"[bold]{c['name']}[/bold]: " if c["name"] else ""
        span = _n(rs[0]["n"]) + (f" – {_n(rs[-1]['n'])}" if len(rs) > 1 else "")
        k = sum(len(r["points"]) for r in rs)
        console.print(f"{head}{len(rs)} rung{'s' * (len(rs) > 1)} ({f'n = {span}' if x == 'n' else f'{span} {x}'}), {k} point{'s' * (k > 1)}; "
                      f"noise sd {c['noise']['sd']:.3g} "
                      f"({c['noise']['from']})", highlight=False)
        if target is not None:
            nt = c["n_target"]
            med = "never" if nt["median"] is None else _n(nt["median"])
            line = (f"  {x} for {y} {cmp} {target:g}: [bold]{med}[/bold] (80%: {_n(nt['lo80'])} – {_n(nt['hi80'])}); "
                    f"P(reachable) {c['p_reachable']:.2f}")
            if doc["budget"] is not None:
                line += f"; P(≤ budget {_n(doc['budget'])}) {c['p_within_budget']:.2f}"
            if nt["median"] is not None and nt["median"] <= rs[0]["n"] * (1 + 1e-9) and c["verdict"]["rule"] == "target-reached":
                line = (f"  {x} for {y} {cmp} {target:g}: already reached at the first rung ({x} = {_n(rs[0]['n'])}); "
                        "a smaller size was not measured")
            console.print(line, highlight=False)
        t = Table(box=None, padding=(0, 2), show_edge=False)
        t.add_column(x, justify="right")
        t.add_column(f"{y} (median)", justify="right")
        t.add_column("80% band", justify="right")
        for a in c["at"]:
            t.add_row(_n(a["n"]), _v(a["median"]), f"{_v(a['lo80'])} – {_v(a['hi80'])}")
        console.print(t)
        g = c["gain_next_doubling"]
        console.print(f"  next doubling {_n(g['from_n'])} → {_n(g['to_n'])}: gain {g['mean']:+.3g} "
                      f"(80%: {g['lo80']:+.3g} – {g['hi80']:+.3g})", highlight=False)
        v = c["verdict"]
        style = {"continue": "green", "target-reached": "bold green"}.get(v["rule"], "yellow")
        console.print(f"  verdict: [{style}]{v['rule']}[/{style}] — {v['reason']}", highlight=False)
        for note in c["notes"]:
            console.print(f"  [dim]note: {note}[/dim]", highlight=False)


def _whole_sizes(pts) -> None:
    """n is a data size (examples, pairs, rollouts, demonstrations): a whole number, as a ladder's rung sizes are."""
    from dataladder.core.errors import InputError
    from dataladder.forecast.model import N_MAX

    for c in pts.curves:
        for n, where in zip(c.n, c.where):
            if n != int(n):
                raise InputError(f"field 'n': {n:g} is not a whole number; n is a data size (examples, pairs, "
                                 "rollouts…)", where)
            if n > N_MAX:
                raise InputError(f"field 'n': {n:g} is past the largest size a forecast names ({N_MAX:,.0f}); n is a "
                                 "data size (examples, pairs, rollouts…)", where)


def _agrees(pts, direction: str | None, bnds) -> None:
    """A result document's scores are accuracies (higher is better, in [0, 1]): --direction lower or --bounds none
    contradicts it (the forecast would run past 1 or call a rise a fall); one line naming the option and the file."""
    from dataladder.core.errors import InputError

    own = pts.defaults.get("direction")
    if own is None:  # a table of points: the options say what its scores are
        return
    what = f"its scores are {pts.y_name} (higher is better, in [0, 1])"
    if direction is not None and direction != own:
        raise InputError(f"--direction {direction} contradicts the result document: {what}; drop --direction",
                         pts.path)
    if bnds is None:
        raise InputError(f"--bounds none contradicts the result document: {what}; drop --bounds", pts.path)


@user_errors
def fit(
    points: Annotated[Path, typer.Argument(help="measured points: CSV, JSONL, JSON array or Parquet with columns n, "
                                                "value [, seed, eval_n, curve]; or a ladder.json, prefs.json, rl.json")],
    target: Annotated[Optional[float], typer.Option(help="score to reach (default: a result document's own; "
                                                         "else none)")] = None,
    direction: Annotated[Optional[str], typer.Option(help="higher | lower: which way the score improves "
                                                          "(default higher)")] = None,
    bounds: Annotated[Optional[str], typer.Option(help="lo,hi of a bounded score, or none (default: 0,1 for "
                                                       "higher-is-better scores with eval_n, else none)")] = None,
    at: Annotated[Optional[list[float]], typer.Option(help="size to forecast the score at; repeat for several "
                                                           "(default 2×, 4× and 16× the last rung)")] = None,
    budget: Annotated[Optional[float], typer.Option(help="largest size you would pay for: P(target within it) "
                                                         "and the unreachable-within-budget rule")] = None,
    delta: Annotated[Optional[float], typer.Option(help="smallest gain per doubling worth paying for (default: a "
                                                        "result document's own, else 0)")] = None,
    output_dir: Annotated[Path, typer.Option(help="where fit.json and fit.png go", **OUTPUT)] = Path("runs/fit"),
) -> None:
    """Forecast from your own rungs: the size that reaches a target, scores at larger sizes, and the stop verdict."""
    if direction is not None and direction not in ("higher", "lower"):
        raise ValueError(f"--direction {direction}: expected higher or lower")
    bnds = parse_bounds(bounds)
    if target is not None and not math.isfinite(target):
        raise ValueError(f"--target {target}: must be a finite number")
    _check_target(target, bnds, "option")
    if delta is not None and not (math.isfinite(delta) and delta >= 0):
        raise ValueError(f"--delta {delta:g}: must be ≥ 0")
    from dataladder.forecast.model import N_MAX

    if budget is not None and not (math.isfinite(budget) and 0 < budget <= N_MAX):
        raise ValueError(f"--budget {budget:g}: must be a positive size, at most {N_MAX:,.0f} (the largest a forecast "
                         "names)")
    for i, n in enumerate(at or []):
        if not (math.isfinite(n) and 1 <= n <= N_MAX):
            raise ValueError(f"--at {n:g}: must be a size from 1 to {N_MAX:,.0f} (the largest a forecast names)")
        if n in at[:i]:
            raise ValueError(f"--at {n:g} is given twice; give each size once")
    check_writable(output_dir, "--output-dir")
    from dataladder.forecast.points import read_points
    from dataladder.forecast.summary import resolve_bounds, summarize

    pts = read_points(points)
    _whole_sizes(pts)
    _agrees(pts, direction, bnds)
    if bnds == "auto":
        resolved, _ = resolve_bounds(pts, direction or pts.defaults.get("direction") or "higher", "auto")
        _check_target(target, resolved, "default")
    doc = summarize(pts, target=target, direction=direction, bounds=bnds, at=at, budget=budget, delta=delta)
    print_fit(doc)
    from dataladder.forecast.plot import plot_fit
    from dataladder.core.results import write_json

    write_json(output_dir / "fit.json", doc)
    plot_fit(doc, output_dir / "fit.png")
    console.print(f"wrote {output_dir / 'fit.json'} and {output_dir / 'fit.png'}")
