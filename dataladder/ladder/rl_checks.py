"""Checks around an RL run: will groups carry signal, how diverse are the prompts, is the reward overoptimized.

- Zero signal: a GRPO group of G completions whose rewards are all equal has zero advantage and
  teaches nothing. With pass rate p for a prompt, that happens with probability p^G + (1−p)^G;
  the predicted share is its mean over prompts. p is measured by sampling k ≥ G completions
  per prompt; the share is estimated without the plug-in bias of p̂^G (the chance that G of the
  k samples, drawn without replacement, all pass or all fail: C(s,G)/C(k,G) + C(k−s,G)/C(k,G),
  an unbiased estimate of p^G + (1−p)^G).
- Diversity: skills and difficulty (the skill's `features` hook: arithmetic's operand and answer sizes,
  else prompt words and answer lines) covered, and the
  share of exact (normalized) and near duplicates (curation's MinHash LSH).
- Overoptimization: step ranges where the reward model's mean score rises while the verifier's
  accuracy on the same rollouts stalls or falls.
"""

from __future__ import annotations

import math
from collections import Counter


def zero_signal_share(pass_rates: list[float], group: int) -> float:
    """Expected share of groups of `group` samples whose rewards are all equal: mean of p^G + (1−p)^G."""
    if not pass_rates:
        return 0.0
    return sum(p**group + (1 - p) ** group for p in pass_rates) / len(pass_rates)


def zero_signal_estimate(successes: int, samples: int, group: int) -> float:
    """Unbiased estimate of p^G + (1−p)^G from `successes` of `samples` ≥ G draws of one prompt."""
    if samples < group:
        raise ValueError(f"need at least {group} samples per prompt to estimate a group of {group}, got {samples}")
    total = math.comb(samples, group)
    return (math.comb(successes, group) + math.comb(samples - successes, group)) / total


def signal_check(skill, items: list, completions: list[list[str]], group: int, warn_at: float) -> dict:
    """The zero-signal check on sampled completions (`completions[i]` are k samples of `items[i]`)."""
    per_prompt = []
    for it, cs in zip(items, completions):
        s = sum(skill.score(c, it).ok for c in cs)
        per_prompt.append({"key": it.key, "successes": s, "samples": len(cs),
                           "zero_signal": zero_signal_estimate(s, len(cs), group)})
    rates = [p["successes"] / p["samples"] for p in per_prompt]
    share = sum(p["zero_signal"] for p in per_prompt) / max(1, len(per_prompt))
    all_same = sum(p["successes"] in (0, p["samples"]) for p in per_prompt)
    return {
        "prompts": len(per_prompt), "samples_per_prompt": len(completions[0]) if completions else 0, "group": group,
        "mean_pass_rate": sum(rates) / max(1, len(rates)),
        "predicted_zero_signal": share,
        "plug_in_zero_signal": zero_signal_share(rates, group),
        "share_all_pass": sum(p["successes"] == p["samples"] for p in per_prompt) / max(1, len(per_prompt)),
        "share_all_fail": sum(p["successes"] == 0 for p in per_prompt) / max(1, len(per_prompt)),
        "share_prompts_no_signal_in_sample": all_same / max(1, len(per_prompt)),
        "warn_at": warn_at, "warning": share >= warn_at,
        "per_prompt": per_prompt,
    }


def diversity(skill, items: list, prompts: list[str], fmt: str) -> dict:
    """Skills, the skill's difficulty buckets (its `features` hook) and duplicate shares of the RL prompts."""
    from dataladder.data.curate import CurateConfig, Doc, normalize_text
    from dataladder.data.dedup import near_dedup

    skills = Counter(it.skill for it in items)
    feats: dict[str, Counter] = {}
    for it in items:
        for k, v in skill.item_features(it, fmt).items():
            feats.setdefault(k, Counter())[v] += 1
    norm = [normalize_text(p).casefold() for p in prompts]
    exact = len(norm) - len(set(norm))
    near = []
    docs = (Doc({"prompt": p, "completion": ""}, i) for i, p in enumerate(dict.fromkeys(norm)))
    kept = sum(1 for _ in near_dedup(docs, lambda d, reason, step, detail=None, **_: near.append(d.line),
                                     CurateConfig()))
    n = max(1, len(prompts))
    return {"prompts": len(prompts), "skills": dict(skills),
            "features": {k: dict(sorted(c.items())) for k, c in feats.items()},
            "exact_duplicate_share": exact / n, "near_duplicate_share": len(near) / n,
            "distinct_after_dedup": kept}


def overoptimization(log: list[dict], rm_key: str, verifier_key: str, window: int | None = None) -> dict:
    """Windows of steps where the reward model's mean score rose while verified accuracy did not.

    Steps are cut into consecutive windows; between neighbouring windows, a rise of the RM's
    mean score together with a change of the verifier's accuracy ≤ 0 (stalled or fell) is
    flagged, and flagged neighbours are merged into step ranges.
    """
    rows = [h for h in log if h.get(rm_key) is not None and h.get(verifier_key) is not None]
    if len(rows) < 4:
        return {"window": None, "windows": [], "ranges": []}
    w = window or max(2, len(rows) // 8)
    wins = []
    for s in range(0, len(rows) - w + 1, w):
        chunk = rows[s : s + w]
        wins.append({"steps": [chunk[0]["step"], chunk[-1]["step"]],
                     "rm_score": sum(h[rm_key] for h in chunk) / w,
                     "verified": sum(h[verifier_key] for h in chunk) / w})
    ranges: list[dict] = []
    for a, b in zip(wins, wins[1:]):
        flagged = b["rm_score"] > a["rm_score"] and b["verified"] <= a["verified"]
        b["flagged"] = flagged
        if not flagged:
            continue
        if ranges and ranges[-1]["steps"][1] == a["steps"][1]:
            r = ranges[-1]
            r["steps"][1] = b["steps"][1]
        else:
            r = {"steps": [a["steps"][0], b["steps"][1]], "rm_start": a["rm_score"], "verified_start": a["verified"]}
            ranges.append(r)
        r["rm_end"], r["verified_end"] = b["rm_score"], b["verified"]
    for r in ranges:
        r["rm_change"] = r["rm_end"] - r["rm_start"]
        r["verified_change"] = r["verified_end"] - r["verified_start"]
    return {"window": w, "windows": wins, "ranges": ranges}
