"""dataladder's overhead on one SFT rung: `train_sft` against the same TRL SFTTrainer script run bare.

    .venv/bin/python bench/bench_gpu.py                  # on CUDA: a ~0.5B Llama from a config (random weights)
    .venv/bin/python bench/bench_gpu.py --size small     # a 20M model, to check the path on a CPU

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


def main() -> None:
    import torch

    from dataladder.logs import quiet
    from dataladder.models.tiny import TinyArch, build_tiny_model
    from dataladder.models.tokenizer import build_char_tokenizer
    from dataladder.skills import get_skill
    from dataladder.train.sft import SFTHparams, tokenize_records

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="0.5b")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
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
    doc = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "parameters": params,
           "steps": a.steps, "batch_size": a.batch_size, "tokens_per_rung": tokens, "bare_seconds": bare,
           "dataladder_seconds": ours, "bare_tokens_per_s": tokens / b, "dataladder_tokens_per_s": tokens / d,
           "overhead_percent": 100 * (d - b) / b}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(doc, indent=2))
    print(f"\n{'':<12}{'tokens/s':>12}{'median s':>10}")
    print(f"{'bare TRL':<12}{tokens / b:>12,.0f}{b:>10.2f}")
    print(f"{'dataladder':<12}{tokens / d:>12,.0f}{d:>10.2f}")
    print(f"dataladder / bare time = {d / b:.3f} (overhead {doc['overhead_percent']:+.1f}%)")


if __name__ == "__main__":
    main()
