"""Evals first: score a model on every skill in every prompt format, and diagnose each gap.

`dataladder probe --model tiny-arith --skill add --skill mul --n 300` runs batched greedy
decoding (KV cache, left padding) on each skill's held-out eval partition, scores completions
with the skill's verifier, and writes `probe.json` (accuracies with Wilson 95% intervals,
diagnoses, prior data bands) and `samples.jsonl` (every prompt, completion and verdict).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dataladder.skills import Item, Skill
from dataladder.stats import wilson

# Prior data bands from the lecture's rule of thumb (../shared/seeds): ~20 examples teach a new
# format, hundreds change the model, thousands are the sweet spot for a new task, and a skill
# that is not in pretraining cannot be recreated cheaply in post-training.
DATA_BANDS = {
    "mastered": {"label": "none needed", "low": 0, "high": 0},
    "format-gap": {"label": "tens of examples", "low": 10, "high": 100},
    "partial": {"label": "hundreds to low thousands", "low": 100, "high": 3000},
    "missing": {"label": "thousands and up", "low": 1000, "high": 100000},
    "prerequisite-missing": {"label": "not cheaply fixable by post-training", "low": 100000, "high": None},
}


@dataclass
class Generation:
    prompts: list[str]
    completions: list[str]
    seconds: float


def prompt_text(skill: Skill, fmt: str, item: Item, tokenizer) -> str:
    msgs = item.data.get("messages")
    if msgs is not None and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    return skill.formats[fmt].prompt(item)


def _decode(model, tokenizer, prompts: list[str], k: int, max_new_tokens: int, batch_size: int,
            on_batch: Callable[[int], None] | None, **sampling) -> list[list[str]]:
    """`k` completions per prompt, each cut at its first newline; prompts sorted by length to pad less,
    left padding, KV cache, and a batch stops once every row has ended its line."""
    import torch

    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[list[str]] = [[] for _ in prompts]
    newline_stop = _NewlineStop(tokenizer)
    per_batch = max(1, batch_size // k)
    for s in range(0, len(order), per_batch):
        idx = order[s : s + per_batch]
        enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True, padding_side="left").to(model.device)
        newline_stop.start = enc["input_ids"].shape[1]
        with torch.inference_mode():
            gen = model.generate(
                **enc, max_new_tokens=max_new_tokens, num_return_sequences=k, use_cache=True,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                stopping_criteria=[newline_stop], **sampling,
            )
        texts = tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        for j, i in enumerate(idx):
            out[i] = [t.split("\n", 1)[0] for t in texts[j * k : (j + 1) * k]]
        if on_batch:
            on_batch(len(idx))
    return out


def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int = 128,
             on_batch: Callable[[int], None] | None = None) -> Generation:
    """Greedy completions, cut at the first newline or EOS."""
    t0 = time.perf_counter()
    out = _decode(model, tokenizer, prompts, 1, max_new_tokens, batch_size, on_batch,
                  do_sample=False, temperature=None, top_p=None, top_k=None)
    return Generation(prompts, [c[0] for c in out], time.perf_counter() - t0)


def sample(model, tokenizer, prompts: list[str], k: int, max_new_tokens: int, temperature: float = 1.0,
           top_p: float = 1.0, seed: int = 0, batch_size: int = 128) -> list[list[str]]:
    """`k` sampled completions per prompt (cut at the first newline), as `out[prompt_index][j]`.

    The one sampler behind rejection sampling (`synth --source self`), self-sourced preference
    pairs and the RL zero-signal check, so they all see the model the same way.
    """
    import torch

    torch.manual_seed(seed)
    return _decode(model, tokenizer, prompts, k, max_new_tokens, batch_size, None,
                   do_sample=True, temperature=temperature, top_p=top_p, top_k=0)


class _NewlineStop:
    """Stop a batch once every row has produced a newline (or EOS) after the prompt."""

    def __init__(self, tokenizer):
        self.tok = tokenizer
        self.start = 0

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        new = input_ids[:, self.start :]
        texts = self.tok.batch_decode(new, skip_special_tokens=False)
        done = [("\n" in t) or (self.tok.eos_token and self.tok.eos_token in t) for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def score_formats(model, tokenizer, skill: Skill, items: list[Item], formats: list[str], batch_size: int = 128,
                  on_batch: Callable[[int], None] | None = None) -> tuple[dict, list[dict], float]:
    """Per-format accuracy of `skill` on `items` and the per-item samples."""
    results, samples, seconds = {}, [], 0.0
    for fmt in formats:
        its = [it for it in items if it.data.get("format", fmt) == fmt]
        prompts = [prompt_text(skill, fmt, it, tokenizer) for it in its]
        g = generate(model, tokenizer, prompts, skill.max_new_tokens, batch_size, on_batch)
        seconds += g.seconds
        correct = 0
        for it, p, c in zip(its, prompts, g.completions):
            v = skill.score(c, it)
            correct += v.ok
            samples.append({"skill": skill.name, "format": fmt, "key": it.key, "prompt": p, "completion": c,
                            "answer": it.answer, "ok": v.ok, "reason": v.reason})
        lo, hi = wilson(correct, len(its))
        results[fmt] = {"accuracy": correct / len(its) if its else 0.0, "ci_low": lo, "ci_high": hi,
                        "n": len(its), "correct": correct}
    return results, samples, seconds


def diagnose(per_format: dict, target_format: str, mastered_at: float, partial_at: float) -> tuple[str, str | None]:
    """(diagnosis, best other format) for one skill's per-format scores."""
    target = per_format.get(target_format, {}).get("accuracy", 0.0)
    others = {f: r["accuracy"] for f, r in per_format.items() if f != target_format}
    best_other = max(others, key=others.get) if others else None
    best = max([target] + list(others.values()))
    if target >= mastered_at:
        return "mastered", None
    if best_other is not None and others[best_other] >= mastered_at:
        return "format-gap", best_other
    if best >= partial_at:
        return "partial", best_other
    return "missing", best_other


def probe(model, tokenizer, skills: list[Skill], n: int = 300, seed: int = 0, target_format: str = "exam",
          mastered_at: float = 0.8, partial_at: float = 0.15, batch_size: int = 128,
          on_batch: Callable[[int], None] | None = None) -> tuple[dict, list[dict]]:
    """Probe `skills`; returns (the probe.json document, the samples)."""
    report: dict = {"target_format": target_format, "n": n, "seed": seed, "mastered_at": mastered_at,
                    "partial_at": partial_at, "skills": {}}
    all_samples: list[dict] = []
    gen_seconds = 0.0
    t0 = time.perf_counter()
    for sk in skills:
        items = sk.items("eval", n, seed)
        per_format, samples, secs = score_formats(model, tokenizer, sk, items, list(sk.formats), batch_size, on_batch)
        gen_seconds += secs
        all_samples.extend(samples)
        tf = target_format if target_format in sk.formats else sk.target_format
        diagnosis, best_other = diagnose(per_format, tf, mastered_at, partial_at)
        report["skills"][sk.name] = {"target_format": tf, "formats": per_format, "diagnosis": diagnosis,
                                     "best_other_format": best_other, "prerequisites": list(sk.prerequisites)}
    for name, r in report["skills"].items():
        missing = [p for p in r["prerequisites"] if report["skills"].get(p, {}).get("diagnosis") == "missing"]
        r["missing_prerequisites"] = missing
        r["cheaply_fixable"] = not (r["diagnosis"] == "missing" and missing)
        band_key = r["diagnosis"] if r["cheaply_fixable"] else "prerequisite-missing"
        r["data_band"] = DATA_BANDS[band_key]
    n_items = len(all_samples)
    report["items"] = n_items
    report["seconds"] = time.perf_counter() - t0
    report["items_per_second"] = n_items / gen_seconds if gen_seconds else 0.0
    return report, all_samples


def run_probe(model_spec: str, names: list[str], output_dir: Path, n: int = 300, target_format: str = "exam",
              digits: int = 2, seed: int = 0, batch_size: int = 128, mastered_at: float = 0.8, partial_at: float = 0.15,
              on_total: Callable[[int], None] | None = None, on_batch: Callable[[int], None] | None = None,
              extra: dict | None = None) -> dict:
    """Resolve the skills (and their prerequisites), load the model, probe, write probe.json and samples.jsonl."""
    from dataladder.models.hub import load_model
    from dataladder.skills import resolve_skills

    skills = resolve_skills(with_prerequisites(names), digits)  # did-you-mean and JSONL errors before loading
    model, tok = load_model(model_spec)
    if on_total:
        on_total(sum(len([it for it in s.items("eval", n, seed) if it.data.get("format", f) == f])
                     for s in skills for f in s.formats))
    report, samples = probe(model, tok, skills, n=n, seed=seed, target_format=target_format, mastered_at=mastered_at,
                            partial_at=partial_at, batch_size=batch_size, on_batch=on_batch)
    report.update({"model": model_spec, "requested_skills": names, **(extra or {})})
    write_probe(report, samples, output_dir)
    return report


def with_prerequisites(names: list[str]) -> list[str]:
    """Built-in skill names plus their prerequisites (transitively), so diagnoses can flag them."""
    from dataladder.skills import SKILLS, get_skill

    out = list(names)
    i = 0
    while i < len(out):
        if out[i] in SKILLS:
            for p in get_skill(out[i]).prerequisites:
                if p not in out:
                    out.append(p)
        i += 1
    return out


def write_probe(report: dict, samples: list[dict], output_dir: Path) -> None:
    """Write probe.json and samples.jsonl atomically (temp file, then rename)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    tmp = output_dir / "samples.jsonl.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        for s in samples:
            f.write(json.dumps(s) + "\n")
    tmp.replace(output_dir / "samples.jsonl")
    tmp = output_dir / "probe.json.tmp"
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(output_dir / "probe.json")
