"""The ladders' plots: `draw_ladder` draws any kind's ladder document (rungs, intervals, fitted band);
`plot_ladder` writes ladder.png (accuracy against examples per skill) from ladder.json only."""

from __future__ import annotations

from pathlib import Path

from dataladder.core.plot import log_axes, pyplot, save


def draw_ladder(ax, lad: dict, color: str, name: str, extend: float = 8.0) -> None:
    """One ladder document (any kind, `ladder/engine.py`) on `ax`: pooled rungs with 95% intervals, each
    seed's score, the fitted curve's median and 80% band up to `extend`× the last rung, the reached size.
    The band starts at the first of the last three rungs, the ones its slope was fitted to (or measured on,
    where the fit follows a flat or falling trend): before them the line claims nothing, and drawn
    back from the last rung it would pass beside the earlier rungs of a curve that bent."""
    bad = [r for r in lad["rungs"] if r.get("unsound")]
    if bad:  # a diverged rung is shown, not fitted
        ax.scatter([r["n"] for r in bad], [r["accuracy"] for r in bad], marker="x", color="0.4", zorder=3,
                   label=f"{name}: unsound run, not fitted")
    rungs = [r for r in lad["rungs"] if not r.get("unsound")]
    ns = [r["n"] for r in rungs]
    err = [[r["accuracy"] - r["ci_low"] for r in rungs], [r["ci_high"] - r["accuracy"] for r in rungs]]
    ax.errorbar(ns, [r["accuracy"] for r in rungs], yerr=err, fmt="o", color=color, capsize=3,
                label=f"{name} (95% CI)")
    for r in rungs:
        if len(r.get("seeds") or []) > 1:
            ax.scatter([r["n"]] * len(r["seeds"]), [s["accuracy"] for s in r["seeds"]], s=8, color=color, alpha=0.4)
    fit = lad.get("fit")
    if fit and ns:
        cv = fit["curve"]
        first = sorted(ns)[-3] if len(ns) >= 3 else ns[0] / 2  # forecast.model.WINDOW rungs
        idx = [j for j, n in enumerate(cv["n"]) if first / 1.3 <= n <= max(ns) * extend]
        ax.plot([cv["n"][j] for j in idx], [cv["median"][j] for j in idx], color=color, lw=1.5)
        ax.fill_between([cv["n"][j] for j in idx], [cv["lo80"][j] for j in idx], [cv["hi80"][j] for j in idx],
                        color=color, alpha=0.15, lw=0)
    if lad.get("reached_at"):
        ax.axvline(lad["reached_at"], color=color, ls=":", lw=1)


def plot_ladder(doc: dict, path: Path) -> None:
    plt = pyplot()

    groups: dict[str, list[dict]] = {}
    for a in doc["arms"]:
        groups.setdefault(a["skill"], []).append(a)
    target = doc["config"]["target"]
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4.2), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    multi_model = len({a["model"] for a in doc["arms"]}) > 1
    for ax, (skill, arms) in zip(axes[0], groups.items()):
        for i, a in enumerate(arms):
            c = colors[i % len(colors)]
            name = a["label"] + (f" · {Path(a['model']).name}" if multi_model else "")
            draw_ladder(ax, a, c, name)
        ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target:g}")
        fmt = arms[0].get("target_format") or doc["config"].get("target_format")
        log_axes(ax, "training examples (log scale)", f"accuracy ({fmt} format)",
                 f"{skill}: fitted curve with 80% band")
    save(fig, path)
