"""A climb's recommendation: per base model and skill, the least data and lowest LoRA rank that reached the target.

    recs = recommend(ladder_doc["arms"], target=0.9)     # the `recommendations` of ladder.json
"""

from __future__ import annotations

import math


def recommend(arms: list[dict], target: float) -> list[dict]:
    """Per (model, skill): the smallest data and lowest LoRA rank (or full) that reached the target."""
    out = []
    groups: dict[tuple, list[dict]] = {}
    for a in arms:
        groups.setdefault((a["model"], a["skill"]), []).append(a)
    for (model, skill), group in groups.items():
        reached = [a for a in group if a["reached_at"] is not None]
        evidence = {"rungs": sum(len(a["rungs"]) for a in group),
                    "runs": sum(len(a["rungs"][0]["seeds"]) * len(a["rungs"]) for a in group),
                    "examples_trained": sum(r["n"] * len(r["seeds"]) for a in group for r in a["rungs"]),
                    "train_flops": sum(r["flops"] for a in group for r in a["rungs"]),
                    "seconds": sum(r["train_seconds"] + r["eval_seconds"] for a in group for r in a["rungs"])}
        if reached:
            # lowest rank first (full fine-tuning counts as the highest), then least data
            best = min(reached, key=lambda a: (a["lora_r"] if a["lora_r"] is not None else math.inf, a["reached_at"]))
            rung = next(r for r in best["rungs"] if r["n"] == best["reached_at"])
            verdict = "reached"
        else:
            best = max(group, key=lambda a: (a["fit"] or {}).get("p_reachable", 0) if a["fit"] else a["rungs"][-1]["accuracy"])
            rung = next((r for r in reversed(best["rungs"]) if not r.get("unsound")), best["rungs"][-1])
            verdict = "not reached"
        fit = best["fit"] or {}
        out.append({
            "model": model, "skill": skill, "target": target, "verdict": verdict, "stop_reason": best["stop"]["reason"],
            "n": best["reached_at"], "method": best["method"], "lora_r": best["lora_r"], "arm": best["label"],
            "accuracy": rung["accuracy"], "ci_low": rung["ci_low"], "ci_high": rung["ci_high"],
            "predicted_n": fit.get("n_target"), "p_reachable": fit.get("p_reachable"),
            "p_reach_within_budget": fit.get("p_reach_within_budget"),
            "forgetting": {"mean": rung["mean_forgetting"], "worst": rung["worst_forgetting"]},
            "evidence": evidence, "diagnosis": best["diagnosis"],
        })
    return out
