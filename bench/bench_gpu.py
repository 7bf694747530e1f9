"""dataladder on a GPU: one SFT rung and generation, each against the plain script a user would write.

    .venv/bin/python bench/bench_gpu.py                  # on CUDA: a ~0.5B Llama from a config (random weights)
    .venv/bin/python bench/bench_gpu.py --size small     # a 20M model, to check the path on a CPU
    .venv/bin/python bench/bench_gpu.py --part generate  # generation only

Generation: the `hf` backend (`HFGenerator.greedy`: length-sorted batches, left padding, KV cache,
per-row stops) against a plain `model.generate` loop, one prompt at a time, and a plain batched
`generate` in input order, on the same prompts (the `mixed` skill's exam prompts in the chat template)
with the same token budget; new tokens per second and how many completions agree with the loop's.

Both sides get the same model (a fresh copy each time), the same tokenized rows, the same
SFTConfig values (bf16 where the GPU supports it) and the same number of steps; they alternate
(bare, dataladder, bare, dataladder, …) after one warm-up each. Throughput is training tokens per
second of wall time around the whole call (copying the model, building the trainer, training).
Prints both, the overhead in percent and writes bench/out/gpu.json. No downloads: the model is
built from a config and the tokenizer is the shipped character tokenizer.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = {  # hidden, layers, heads, ffn
    "0.5b": (1152, 24, 16, 4608),
    "small": (512, 6, 8, 1536),
}


def bare_rung(base, tok, rows, hp, steps, seed) -> float:
    """The script a user would write: a fresh copy of the model, an SFTTrainer, train."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    t0 = time.perf_counter()
    model = copy.deepcopy(base)
    cuda = next(model.parameters()).is_cuda
    with tempfile.TemporaryDirectory() as tmp:
        args = SFTConfig(output_dir=tmp, max_steps=steps, per_device_train_batch_size=hp.batch_size,
                         learning_rate=hp.learning_rate_full, lr_scheduler_type="cosine",
                         warmup_steps=int(hp.warmup_ratio * steps), bf16=cuda and torch.cuda.is_bf16_supported(),
                         activation_checkpointing=False, use_cpu=not cuda, seed=seed, data_seed=seed,
                         completion_only_loss=True, max_length=hp.max_length, save_strategy="no", report_to="none",
                         logging_steps=max(1, steps // 10), disable_tqdm=True, dataloader_num_workers=0)
        SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok).train()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def dataladder_rung(base, tok, rows, hp, seed) -> float:
    import torch

    from dataladder.train.sft import train_sft

    t0 = time.perf_counter()
    model, _ = train_sft(base, tok, rows, "full", None, hp, seed)
    if next(model.parameters()).is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def plain_loop(model, tok, texts: list[str], max_new_tokens: int, eos: list[int]) -> tuple[float, list[str]]:
    """One prompt at a time, as a user script does: `generate`, decode, next."""
    import torch

    t0, out = time.perf_counter(), []
    for t in texts:
        ids = tok(t, add_special_tokens=False, return_tensors="pt")["input_ids"].to(model.device)
        with torch.inference_mode():
            g = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos,
                               pad_token_id=tok.pad_token_id)
        out.append(tok.decode(g[0, ids.shape[1]:], skip_special_tokens=True))
    _sync(model)
    return time.perf_counter() - t0, out


def plain_batched(model, tok, texts: list[str], max_new_tokens: int, eos: list[int], batch: int) -> tuple[float, list[str]]:
    """Plain batched `generate` in input order (left padding, no sorting, no per-row stop strings)."""
    import torch

    t0, out = time.perf_counter(), []
    for s in range(0, len(texts), batch):
        enc = tok(texts[s : s + batch], add_special_tokens=False, return_tensors="pt", padding=True,
                  padding_side="left").to(model.device)
        with torch.inference_mode():
            g = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos,
                               pad_token_id=tok.pad_token_id)
        out += tok.batch_decode(g[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    _sync(model)
    return time.perf_counter() - t0, out


def _sync(model) -> None:
    import torch

    if next(model.parameters()).is_cuda:
        torch.cuda.synchronize()


def bench_generate(base, tok, n: int, max_new_tokens: int, batch: int) -> dict:
    from dataladder.generate import GenOptions
    from dataladder.generate.chat import render
    from dataladder.generate.hf import HFGenerator
    from dataladder.skills import get_skill

    sk = get_skill("mixed")
    gen = HFGenerator(base, tok, GenOptions(chat_template="on", max_new_tokens=max_new_tokens), batch_size=batch)
    prompts = [gen.prompt_for(sk, "exam", it) for it in sk.items("eval", n, 0)]
    prompts = [type(p)(messages=p.messages, max_new_tokens=max_new_tokens) for p in prompts]  # no newline stop
    texts = [render(tok, p) for p in prompts]
    eos = gen.eos_ids(chat=True)
    gen.greedy(prompts[:batch])  # warm-up
    t0 = time.perf_counter()
    ours = gen.greedy(prompts)
    _sync(base)
    ours_s = time.perf_counter() - t0
    loop_s, loop = plain_loop(base, tok, texts, max_new_tokens, eos)
    batched_s, batched = plain_batched(base, tok, texts, max_new_tokens, eos, batch)
    new_tokens = sum(len(tok(c, add_special_tokens=False)["input_ids"]) for c in loop)
    doc = {"prompts": n, "max_new_tokens": max_new_tokens, "batch_size": batch, "new_tokens_of_the_loop": new_tokens,
           "hf_backend_seconds": ours_s, "plain_loop_seconds": loop_s, "plain_batched_seconds": batched_s,
           "hf_backend_tokens_per_s": new_tokens / ours_s, "plain_loop_tokens_per_s": new_tokens / loop_s,
           "plain_batched_tokens_per_s": new_tokens / batched_s,
           "agree_with_loop": sum(a == b for a, b in zip(ours, loop)),
           "batched_agrees_with_loop": sum(a == b for a, b in zip(batched, loop))}
    print(f"\ngeneration: {n} prompts, ≤ {max_new_tokens} new tokens, batch {batch}")
    print(f"{'':<16}{'seconds':>10}{'new tok/s':>12}{'vs loop':>10}{'same as loop':>14}")
    for label, secs, same in (("plain loop", loop_s, n), ("plain batched", batched_s, doc["batched_agrees_with_loop"]),
                              ("hf backend", ours_s, doc["agree_with_loop"])):
        print(f"{label:<16}{secs:>10.2f}{new_tokens / secs:>12,.0f}{loop_s / secs:>9.1f}x{same:>10}/{n}")
    return doc


def main() -> None:
    import torch

    from dataladder.core.logs import quiet
    from dataladder.models.tiny import TinyArch, build_tiny_model
    from dataladder.models.tokenizer import build_char_tokenizer
    from dataladder.skills import get_skill
    from dataladder.train.sft import SFTHparams, tokenize_records

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="0.5b")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--part", choices=["both", "sft", "generate"], default="both")
    ap.add_argument("--gen-prompts", type=int, default=256)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--gen-batch", type=int, default=64)
    ap.add_argument("--out", type=Path, default=Path("bench/out/gpu.json"))
    a = ap.parse_args()
    quiet()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    hidden, layers, heads, ffn = SIZES[a.size]
    tok = build_char_tokenizer()
    arch = TinyArch(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=ffn)
    base = build_tiny_model(arch, tok).to(device)
    if device == "cuda" and torch.cuda.is_bf16_supported():
        base = base.to(torch.bfloat16)
    params = sum(p.numel() for p in base.parameters())
    where = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    doc = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "parameters": params}
    if a.part in ("both", "generate"):
        print(f"{params / 1e6:.0f}M parameters on {device} ({where})")
        doc["generate"] = bench_generate(base, tok, a.gen_prompts, a.gen_tokens, a.gen_batch)
        if a.part == "generate":
            a.out.parent.mkdir(parents=True, exist_ok=True)
            a.out.write_text(json.dumps(doc, indent=2))
            return
    sk = get_skill("mixed")
    records = [{"prompt": r["prompt"], "completion": r["completion"]} for r in sk.records("train", 2000, 0)]
    rows = tokenize_records(tok, records)
    hp = SFTHparams(min_steps=a.steps, max_steps=a.steps, epochs=0, batch_size=a.batch_size)
    tokens = a.steps * a.batch_size * statistics.mean(len(r["input_ids"]) for r in rows)
    print(f"{params / 1e6:.0f}M parameters on {device} "
          f"({torch.cuda.get_device_name() if device == 'cuda' else 'CPU'}), {a.steps} steps of {a.batch_size}")
    bare_rung(base, tok, rows, hp, a.steps, 0)  # warm-up: kernels, allocator, imports
    dataladder_rung(base, tok, rows, hp, 0)
    bare, ours = [], []
    for i in range(a.repeats):
        bare.append(bare_rung(base, tok, rows, hp, a.steps, i))
        ours.append(dataladder_rung(base, tok, rows, hp, i))
        print(f"  repeat {i}: bare {bare[-1]:.2f} s, dataladder {ours[-1]:.2f} s", flush=True)
    b, d = statistics.median(bare), statistics.median(ours)
    doc.update({"steps": a.steps, "batch_size": a.batch_size, "tokens_per_rung": tokens, "bare_seconds": bare,
           "dataladder_seconds": ours, "bare_tokens_per_s": tokens / b, "dataladder_tokens_per_s": tokens / d,
           "overhead_percent": 100 * (d - b) / b})
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(doc, indent=2))
    print(f"\n{'':<12}{'tokens/s':>12}{'median s':>10}")
    print(f"{'bare TRL':<12}{tokens / b:>12,.0f}{b:>10.2f}")
    print(f"{'dataladder':<12}{tokens / d:>12,.0f}{d:>10.2f}")
    print(f"dataladder / bare time = {d / b:.3f} (overhead {doc['overhead_percent']:+.1f}%)")


if __name__ == "__main__":
    main()
