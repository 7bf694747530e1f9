"""Matplotlib for every plot (the ladders', compare's, `dataladder fit`'s): pyplot on the Agg backend, imported
when a plot is drawn; the common log-x axes; saving a figure."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed), imported when a plot is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def log_axes(ax, xlabel: str, ylabel: str, title: str, ylim: tuple[float, float] = (-0.02, 1.02),
             legend: dict | None = None) -> None:
    """The ladders' common axes: log x, a score on y, legend and grid."""
    ax.set_xscale("log")
    ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(**(legend or {"fontsize": 7, "loc": "lower right"}))
    ax.grid(alpha=0.3, which="both")


def save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
