"""Evals first: score a model on every skill in every prompt format, and diagnose each gap.

`dataladder probe --model tiny-arith --skill add --skill mul --n 300` runs greedy decoding through
the generation layer (`dataladder.generate`: batched `hf` in process, or an OpenAI-compatible
`endpoint`) on each skill's held-out eval partition, scores the whole completions
with the skill's verifier, strictly and in its format-lenient reading (`Skill.score_lenient`: the
gold number amid prose, the first JSON object...), and writes `probe.json` (accuracies with Wilson
95% intervals, diagnoses, prior data bands) and `samples.jsonl` (every prompt, completion and verdict).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, NamedTuple

from dataladder.generate import Generator, GenOptions, make_generator
from dataladder.skills import Item, Skill
from dataladder.core.results import NAMES
from dataladder.core.stats import wilson

# Prior data bands from the lecture's rule of thumb (../shared/seeds): ~20 examples teach a new
# format, hundreds change the model, thousands are the sweet spot for a new task, and a skill
# that is not in pretraining cannot be recreated cheaply in post-training.
DATA_BANDS = {
    "mastered": {"label": "none needed", "low": 0, "high": 0},
    "format-gap": {"label": "tens of examples", "low": 10, "high": 100},
    "partial": {"label": "hundreds to low thousands", "low": 100, "high": 3000},
    "missing": {"label": "thousands and up", "low": 1000, "high": 100000},
    "prerequisite-missing": {"label": "not cheaply fixable by post-training", "low": 100000, "high": None},
    "unscored": {"label": "unknown: no eval items in the target format", "low": 0, "high": None},
}
NAMES["diagnoses"].update(DATA_BANDS)  # what the result validator checks a probe.json's diagnoses against


def eval_items(skill: Skill, n: int, seed: int = 0, formats: list[str] | None = None) -> dict[str, list[Item]]:
    """Up to `n` eval items of each format of `skill` (default: all its formats): an item with a `format` field (a
    JSONL line) belongs to that format only, one without (a generated item) to every format. A format whose items
    are fewer than `n` among the first draw gets a larger one (a file: all its eval items), so `--n` and `--eval-n`
    count items per format, never per skill."""
    formats = list(skill.formats) if formats is None else list(formats)
    want = n
    while True:
        drawn = skill.items("eval", want, seed)
        by = {f: [it for it in drawn if it.data.get("format", f) == f][:n] for f in formats}
        short = any(len(v) < n for v in by.values())
        if not short or len(drawn) < want or want >= n * max(1, len(formats)) * 8:
            return by
        want = 1 << 30 if skill.finite else want * 2


def score_formats(gen: Generator, skill: Skill, items: list[Item] | dict[str, list[Item]], formats: list[str],
                  on_batch: Callable[[int], None] | None = None) -> tuple[dict, list[dict], float]:
    """Per-format accuracy of `skill` on `items` (greedy, through `gen`), strict and under `lenient`, and the
    per-item samples. `items`: each format's own (`eval_items`), or one list that each format filters (its items
    with that `format` field, or none). A format without items is left out of the result (shown as "—", never a
    0.00 score nor diagnosed from one)."""
    results, samples, seconds = {}, [], 0.0
    for fmt in formats:
        its = items.get(fmt, []) if isinstance(items, dict) else [it for it in items if it.data.get("format", fmt) == fmt]
        if not its:
            continue
        prompts = [gen.prompt_for(skill, fmt, it) for it in its]
        t0 = time.perf_counter()
        completions = gen.greedy(prompts, on_batch)
        seconds += time.perf_counter() - t0
        correct = lenient_correct = 0
        for it, p, c in zip(its, prompts, completions):
            v = skill.score(c, it)
            lenient_ok = skill.score_lenient(c, it, strict=v).ok
            correct += v.ok
            lenient_correct += lenient_ok
            samples.append({"skill": skill.name, "format": fmt, "key": it.key, "prompt": gen.render_text(p),
                            "completion": c, "answer": it.answer, "ok": v.ok, "reason": v.reason,
                            "lenient_ok": lenient_ok})
        results[fmt] = {**_score(correct, len(its)), "lenient": _score(lenient_correct, len(its))}
    return results, samples, seconds


def _score(correct: int, n: int) -> dict:
    lo, hi = wilson(correct, n)
    return {"accuracy": correct / n if n else 0.0, "ci_low": lo, "ci_high": hi, "n": n, "correct": correct}


def lenient_accuracy(cell: dict) -> float:
    """A format's lenient accuracy: probe.json's `lenient`, a ladder eval's `lenient_correct`, else the strict one."""
    if "lenient" in cell:
        return cell["lenient"]["accuracy"]
    if "lenient_correct" in cell and cell.get("n"):
        return cell["lenient_correct"] / cell["n"]
    return cell.get("accuracy", 0.0)


class Diagnosis(NamedTuple):
    diagnosis: str
    best_other_format: str | None
    format_gap_by: str | None = None  # format-gap: "other-format" (another format is mastered) | "lenient"
    partly_format: bool = False  # partial, yet the lenient reading is at least twice the strict score


def diagnose(per_format: dict, target_format: str, mastered_at: float, partial_at: float) -> Diagnosis:
    """The diagnosis of one skill from its per-format scores, strict and lenient (`lenient_accuracy`).

    mastered: the target format's strict score ≥ mastered_at; format-gap: another format's strict score, or the
    target's lenient one, ≥ mastered_at (the model knows the answers and misses only the format); partial: any
    score ≥ partial_at (strict or lenient, any format), `partly_format` when the target's lenient score is
    ≥ partial_at and at least twice its strict one; missing: below that everywhere. Formats without items (no cell,
    or n 0) are left out; unscored: the target format has none, so nothing can be said of it."""
    per_format = {f: r for f, r in per_format.items() if r.get("n", 1)}
    cell = per_format.get(target_format)
    if cell is None:
        return Diagnosis("unscored", None)
    target = cell.get("accuracy", 0.0) if cell else 0.0
    target_lenient = max(target, lenient_accuracy(cell)) if cell else 0.0
    others = {f: r["accuracy"] for f, r in per_format.items() if f != target_format}
    best_other = max(others, key=others.get) if others else None
    best = max([target_lenient] + [max(r["accuracy"], lenient_accuracy(r)) for f, r in per_format.items()])
    if target >= mastered_at:
        return Diagnosis("mastered", None)
    if best_other is not None and others[best_other] >= mastered_at:
        return Diagnosis("format-gap", best_other, "other-format")
    if target_lenient >= mastered_at:
        return Diagnosis("format-gap", best_other, "lenient")
    partly = target_lenient >= partial_at and target <= target_lenient / 2
    return Diagnosis("partial" if best >= partial_at else "missing", best_other, partly_format=partly)


def probe(gen: Generator, skills: list[Skill], n: int = 300, seed: int = 0, target_format: str | None = None,
          mastered_at: float = 0.8, partial_at: float = 0.15,
          on_batch: Callable[[int], None] | None = None) -> tuple[dict, list[dict]]:
    """Probe `skills`; returns (the probe.json document, the samples)."""
    report: dict = {"target_format": target_format, "n": n, "seed": seed, "mastered_at": mastered_at,
                    "partial_at": partial_at, "skills": {}}
    all_samples: list[dict] = []
    gen_seconds = 0.0
    t0 = time.perf_counter()
    for sk in skills:
        items = eval_items(sk, n, seed)
        per_format, samples, secs = score_formats(gen, sk, items, list(sk.formats), on_batch)
        gen_seconds += secs
        all_samples.extend(samples)
        tf = target_format if target_format in sk.formats else sk.target_format
        d = diagnose(per_format, tf, mastered_at, partial_at)
        report["skills"][sk.name] = {"target_format": tf, "formats": per_format, "diagnosis": d.diagnosis,
                                     "best_other_format": d.best_other_format, "format_gap_by": d.format_gap_by,
                                     "partly_format": d.partly_format, "prerequisites": list(sk.prerequisites)}
    for name, r in report["skills"].items():
        missing = [p for p in r["prerequisites"] if report["skills"].get(p, {}).get("diagnosis") == "missing"]
        r["missing_prerequisites"] = missing
        r["cheaply_fixable"] = not (r["diagnosis"] == "missing" and missing)
        band_key = r["diagnosis"] if r["cheaply_fixable"] else "prerequisite-missing"
        r["data_band"] = DATA_BANDS[band_key]
    n_items = len(all_samples)
    report["items"] = n_items
    report["prompt_frame"] = gen.prompt_frame  # chat-template | qa-frame (a base model's conversations) | raw
    report["seconds"] = time.perf_counter() - t0
    report["items_per_second"] = n_items / gen_seconds if gen_seconds else 0.0
    return report, all_samples


def run_probe(model_spec: str, names: list[str], output_dir: Path, n: int = 300, target_format: str | None = None,
              seed: int = 0, batch_size: int = 128, mastered_at: float = 0.8, partial_at: float = 0.15,
              on_total: Callable[[int], None] | None = None, on_batch: Callable[[int], None] | None = None,
              extra: dict | None = None, options: GenOptions | None = None) -> dict:
    """Resolve the skills (and their prerequisites), load the model (or reach the endpoint), probe, write
    probe.json and samples.jsonl."""
    from dataladder.skills import resolve_skills

    options = options or GenOptions()
    skills = resolve_skills(with_prerequisites(names))  # did-you-mean and JSONL errors before loading
    check_skills(skills, target_format)
    gen = load_generator(model_spec, options, batch_size)
    if on_total:
        on_total(sum(len(its) for s in skills for its in eval_items(s, n, seed).values()))
    report, samples = probe(gen, skills, n=n, seed=seed, target_format=target_format, mastered_at=mastered_at,
                            partial_at=partial_at, on_batch=on_batch)
    report.update({"model": model_spec, "requested_skills": names, "generation": generation_doc(gen),
                   **(extra or {})})
    write_probe(report, samples, output_dir)
    return report


def check_skills(skills: list[Skill], target_format: str | None) -> None:
    """One skill per name (two files defining `code` would be scored as one), and a target format some skill has."""
    from dataladder.core.registry import did_you_mean

    seen: dict[str, str] = {}
    for sk in skills:
        where = sk.description if sk.finite else "built in"
        if sk.name in seen and seen[sk.name] == where:
            raise ValueError(f"--skill {sk.spec or sk.name}: given twice; give each skill once")
        if sk.name in seen:
            raise ValueError(f"skill {sk.name!r} is defined twice ({seen[sk.name]}; {where}): rename one of them")
        seen[sk.name] = where
    formats = sorted({f for sk in skills for f in sk.formats})
    if target_format is not None and target_format not in formats:
        raise ValueError("--target-format: " + did_you_mean("format", target_format, formats))


def load_generator(model_spec: str, options: GenOptions, batch_size: int = 128) -> Generator:
    """The generator of `options.backend`: `hf` loads `model_spec` here; `endpoint` asks the server."""
    if options.backend == "hf":
        from dataladder.generate.hf import HFGenerator
        from dataladder.models.hub import load_model

        model, tok = load_model(model_spec)
        return HFGenerator(model, tok, options, batch_size)
    return make_generator(options)


def generation_doc(gen: Generator) -> dict:
    """How completions were made, for the result file."""
    o = gen.options
    doc = {"backend": gen.name, "chat_template": o.chat_template, "system_prompt": o.system_prompt, "stop": o.stop,
           "max_new_tokens": o.max_new_tokens}
    if gen.name == "endpoint":
        doc.update(endpoint_url=o.endpoint_url, endpoint_model=o.endpoint_model, endpoint_api=o.endpoint_api)
    return doc


def check_gold(names: list[str]) -> list[dict]:
    """Every item whose gold completion fails its own verifier, in every format (no model needed)."""
    from dataladder.skills import resolve_skills

    out = []
    for sk in resolve_skills(names):
        for it, gold, v in sk.check_gold():
            out.append({"skill": sk.name, "key": it.key, "source": it.data.get("source"), "completion": gold,
                        "reason": v.reason})
    return out


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
