"""fit.png: every curve of a fit.json on one log-x axes — the rungs (mean of the seeds, bars from their min
to max), the median forecast with its 80% band, the target line and the median size that reaches it.
Reads only the fit.json document; matplotlib is imported when a plot is drawn."""

from __future__ import annotations

import math
from pathlib import Path

from dataladder.core.plot import log_axes, pyplot, save


def plot_fit(doc: dict, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    target = doc.get("target")
    ys: list[float] = []
    for i, c in enumerate(doc["curves"]):
        col = colors[i % len(colors)]
        rs = c["rungs"]
        ns, means = [r["n"] for r in rs], [r["mean"] for r in rs]
        err = [[r["mean"] - r["min"] for r in rs], [r["max"] - r["mean"] for r in rs]]
        label = c["name"] or doc.get("y_name", "value")
        ax.errorbar(ns, means, yerr=err, fmt="o", color=col, capsize=3, label=f"{label} (seed mean, min–max)")
        cv = c["curve"]
        ax.plot(cv["n"], cv["median"], color=col, lw=1.5)
        ax.fill_between(cv["n"], cv["lo80"], cv["hi80"], color=col, alpha=0.15, lw=0)
        nt = c.get("n_target") or {}
        if target is not None and nt.get("median") is not None:
            ax.plot([nt["median"]], [target], marker="v", ms=9, color=col, ls="none")
            ax.axvline(nt["median"], color=col, ls=":", lw=1)
        ys += [r["min"] for r in rs] + [r["max"] for r in rs] + cv["lo80"] + cv["hi80"]
    if target is not None:
        ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target:g}")
        ys.append(target)
    bounds = doc.get("bounds")
    if bounds:
        ylim = (bounds[0] - 0.02 * (bounds[1] - bounds[0]), bounds[1] + 0.02 * (bounds[1] - bounds[0]))
    else:
        ys = [y for y in ys if math.isfinite(y)]
        lo, hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
        pad = 0.05 * (hi - lo or abs(hi) or 1.0)
        ylim = (lo - pad, hi + pad)
    better = "higher" if doc.get("direction") == "higher" else "lower"
    log_axes(ax, f"{doc.get('x_name', 'n')} (log scale)", f"{doc.get('y_name', 'value')} ({better} is better)",
             f"{Path(doc['points_file']).name}: forecast with 80% band", ylim=ylim,
             legend={"fontsize": 7, "loc": "best"})
    save(fig, path)
