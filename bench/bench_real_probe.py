"""Benchmark: `dataladder probe` against a plain batched transformers `generate` loop, on a real model.

    nice .venv/bin/python bench/bench_real_probe.py [--model smollm2-135m] [--batch-size 32] [--threads 2] [--order ABBA]

Both sides get the eval items of every skill in configs/real-model/tasks.jsonl (capital, word-sum, person,
reverse; each format each has), the ones `dataladder probe --model smollm2-135m --skill configs/real-model/tasks.jsonl`
scores, on the same loaded model (CPU, float32) and the same torch thread count. Side A is the probe path
(`HFGenerator` + `probe()`: prompts, batching, generation, verdicts). Side B is the loop a user would write: per
skill, chunks of `--batch-size` items in file order, `apply_chat_template(..., add_generation_prompt=True)` for a
conversation (raw text otherwise), left padding, `model.generate(do_sample=False, max_new_tokens=<the skill's
budget>, eos_token_id=<the model's end ids>)`, `batch_decode`, then a cut at the item's stop strings. The passes
run in `--order` (A B A: warm-up and a load that drifts fall on both sides alike). Prints each pass, the mean wall
seconds and items/s per side, the ratio plain / dataladder (above 1: the probe is faster), and how many
completions are identical (the first few differences, if any).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TASKS = Path(__file__).resolve().parents[1] / "configs" / "real-model" / "tasks.jsonl"


def plain_items(gen, skills, n: int) -> list[dict]:
    """What side B knows of each item: its conversation or text, budget, stop strings; and the probe's rendering
    of it (to check that both sides feed the model the same text)."""
    from dataladder.evals.probe import eval_items

    out = []
    for sk in skills:
        for fmt, its in eval_items(sk, n, 0).items():
            for it in its:
                p = gen.prompt_for(sk, fmt, it)
                if p.qa:
                    raise SystemExit(f"{sk.name}/{fmt}: a QA-framed prompt; this bench compares chat-template and raw prompts")
                out.append({"id": (sk.name, fmt, it.key), "messages": p.messages, "text": p.text,
                            "max_new_tokens": p.max_new_tokens, "stop": p.stop, "rendered": gen.render_text(p)})
    return out


def run_plain(model, tok, items: list[dict], batch_size: int, eos: list[int]) -> dict:
    """Side B: per (skill, format), batches in file order; returns {item id: completion}."""
    import torch

    out = {}
    groups: dict[tuple, list[dict]] = {}
    for it in items:
        groups.setdefault(it["id"][:2], []).append(it)
    for group in groups.values():
        for s in range(0, len(group), batch_size):
            chunk = group[s : s + batch_size]
            chat = chunk[0]["messages"] is not None
            if chat:
                texts = [tok.apply_chat_template(list(it["messages"]), add_generation_prompt=True, tokenize=False)
                         for it in chunk]
            else:
                texts = [it["text"] for it in chunk]
            enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=not chat)
            with torch.inference_mode():
                gen = model.generate(**enc, do_sample=False, temperature=None, top_p=None, top_k=None,
                                     max_new_tokens=chunk[0]["max_new_tokens"], eos_token_id=eos,
                                     pad_token_id=tok.pad_token_id)
            texts = tok.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for it, t in zip(chunk, texts):
                cut = min([t.find(x) for x in it["stop"] if x in t] or [len(t)])
                out[it["id"]] = t[:cut]
    return out


def run_probe(gen, skills, n: int) -> dict:
    """Side A: the probe itself; returns {item id: completion}."""
    from dataladder.evals.probe import probe

    _, samples = probe(gen, skills, n=n)
    return {(s["skill"], s["format"], s["key"]): s["completion"] for s in samples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--skill", default=str(TASKS), help="a JSONL skill file (or any skill spec)")
    ap.add_argument("--n", type=int, default=300, help="eval items per format (the probe's --n)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--order", default="ABBA", help="the passes, A (dataladder) and B (plain), e.g. ABA or ABBA")
    args = ap.parse_args()
    os.environ["DATALADDER_THREADS"] = str(args.threads)

    import torch
    from transformers import AutoTokenizer

    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model, resolve_model
    from dataladder.skills import resolve_skills

    skills = resolve_skills([args.skill])
    model, tok = load_model(args.model, device="cpu")
    torch.set_num_threads(args.threads)
    gen = HFGenerator(model, tok, batch_size=args.batch_size)
    items = plain_items(gen, skills, args.n)

    # side B's own tokenizer and end ids, as a user gets them from the model directory
    plain_tok = AutoTokenizer.from_pretrained(resolve_model(args.model), padding_side="left")
    if plain_tok.pad_token is None:
        plain_tok.pad_token = plain_tok.eos_token
    gc_eos = model.generation_config.eos_token_id
    eos = list(dict.fromkeys([plain_tok.eos_token_id] + ([gc_eos] if isinstance(gc_eos, int) else list(gc_eos or []))))
    chat = any(it["messages"] is not None for it in items)
    rendered_same = sum(
        (plain_tok.apply_chat_template(list(it["messages"]), add_generation_prompt=True, tokenize=False)
         if it["messages"] is not None else it["text"]) == it["rendered"] for it in items)

    with torch.inference_mode():  # one short generate first: lazy initialisation counts for neither side
        model.generate(**plain_tok(["Hello"], return_tensors="pt"), max_new_tokens=2, do_sample=False,
                       pad_token_id=plain_tok.pad_token_id)

    sides = {"A": lambda: run_probe(gen, skills, args.n), "B": lambda: run_plain(model, plain_tok, items, args.batch_size, eos)}
    seconds: dict[str, list[float]] = {"A": [], "B": []}
    completions: dict[str, list[dict]] = {"A": [], "B": []}
    if set(args.order) != {"A", "B"}:
        raise SystemExit(f"--order {args.order}: A and B each at least once, nothing else")
    for r, side in enumerate(args.order):
        t0 = time.perf_counter()
        completions[side].append(sides[side]())
        seconds[side].append(time.perf_counter() - t0)
        print(f"pass {r + 1} side {side}: {seconds[side][-1]:.2f} s (load {os.getloadavg()[0]:.2f})", flush=True)

    n_items = len(items)
    a, b = completions["A"][0], completions["B"][0]
    same = sum(a.get(k) == b.get(k) for k in b)
    stable = all(c == a for c in completions["A"]) and all(c == b for c in completions["B"])
    mean_a, mean_b = statistics.mean(seconds["A"]), statistics.mean(seconds["B"])
    skill_names = sorted({k[0] for k in b})
    print(f"\n{n_items} items ({', '.join(skill_names)}), batch {args.batch_size}, CPU float32, "
          f"torch threads {torch.get_num_threads()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"end ids: plain {eos}, dataladder {gen.eos_ids(chat)}; rendered prompts identical: {rendered_same}/{n_items}")
    print(f"{'':16}{'dataladder probe':>18}{'plain generate':>16}")
    print(f"{'passes (s)':16}{' '.join(f'{s:.1f}' for s in seconds['A']):>18}{' '.join(f'{s:.1f}' for s in seconds['B']):>16}")
    print(f"{'wall s (mean)':16}{mean_a:>18.2f}{mean_b:>16.2f}")
    print(f"{'items/s':16}{n_items / mean_a:>18.2f}{n_items / mean_b:>16.2f}")
    print(f"ratio plain / dataladder (wall): {mean_b / mean_a:.3f}x (min over passes: "
          f"{min(seconds['B']) / min(seconds['A']):.3f}x)")
    print(f"identical completions: {same}/{n_items}; every pass reproduces its side's first: {stable}")
    diffs = [k for k in b if a.get(k) != b.get(k)]
    for k in diffs[:5]:
        print(f"  differs {k}:\n    dataladder {a.get(k)!r}\n    plain      {b[k]!r}")


if __name__ == "__main__":
    main()
