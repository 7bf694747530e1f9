"""rl.png: greedy accuracy against rollouts (log scale) per arm, with Wilson intervals, the fitted
curve's 80% band and the target; beside it, TRL's per-step reward and frac_reward_zero_std with
the predicted zero-signal share. Reads only the rl.json document."""

from __future__ import annotations

from pathlib import Path


def plot_rl(doc: dict, path: Path) -> None:
    from dataladder.core.plot import log_axes, pyplot, save
    from dataladder.ladder.plot import draw_ladder

    plt = pyplot()

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    target = doc["config"]["target"]
    for i, a in enumerate(doc["arms"]):
        c = colors[i % len(colors)]
        base = a["base"]
        draw_ladder(ax, a, c, a["label"])
        ax.axhspan(base["ci_low"], base["ci_high"], color="gray", alpha=0.15 if i == 0 else 0)
        steps = [h["rollouts"] for h in a["log"]]
        ax2.plot(steps, _smooth([h["reward"] for h in a["log"]]), color=c, lw=1, label=f"{a['label']}: reward")
        ax2.plot(steps, _smooth([h["frac_reward_zero_std"] for h in a["log"]]), color=c, lw=1, ls=":",
                 label=f"{a['label']}: frac_reward_zero_std")
    b = doc["before"]
    ax.axhline(b["accuracy"], color="gray", lw=1, label=f"before RL {b['accuracy']:.2f} (band: 95% CI)")
    ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target:g}")
    log_axes(ax, "rollouts (prompts × generations, log scale)", f"greedy accuracy, {doc['eval']['n']} held-out items",
             f"{doc['skill']} ({doc['format']} format): rollout ladder")
    ax2.axhline(doc["zero_signal"]["predicted"], color="k", ls="--", lw=1, label="predicted zero-signal share")
    ax2.set_xlabel("rollouts")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_title("per step, moving mean of 8 (TRL's metric names)")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    save(fig, path)


def _smooth(v: list[float], w: int = 8) -> list[float]:
    out = []
    for i in range(len(v)):
        chunk = [x for x in v[max(0, i - w + 1) : i + 1] if x is not None]
        out.append(sum(chunk) / len(chunk) if chunk else float("nan"))
    return out
