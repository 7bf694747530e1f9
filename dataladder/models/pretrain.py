"""Pretraining recipe for tiny models on the generated arithmetic corpus: `dataladder pretrain`.

Reads a `PretrainConfig` (YAML or flags), builds the char tokenizer and a tiny Llama, trains it
from scratch with AdamW (warm-up, cosine decay), and saves a standard Hugging Face model
directory with `pretrain.yaml` (the recipe, seed included) and `pretrain_report.json` (the
budget: parameters, tokens, tokens per parameter against Chinchilla's 20, compute ≈ 6·N·D).
Checkpoints every `save_every` steps; rerunning the same command resumes from the last one.
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path
from typing import Callable

import yaml
from pydantic import BaseModel, Field, field_validator

from dataladder.models.tiny import TinyArch
from dataladder.skills.arithmetic import MAX_DIGITS

CHINCHILLA_TOKENS_PER_PARAM = 20


class PretrainConfig(BaseModel, extra="forbid", allow_inf_nan=False):
    arch: TinyArch = Field(default_factory=TinyArch, description="model shape")
    mixture: dict[str, float] = Field(
        default_factory=lambda: {"add": 0.65, "mul": 0.35}, description="skill → share of corpus lines"
    )
    digits: int = Field(2, ge=1, le=MAX_DIGITS, description="max operand digits in the corpus")
    steps: int = Field(4500, ge=1, le=10_000_000, description="optimizer steps")
    batch_size: int = Field(32, ge=1, le=65_536, description="sequences per step")
    seq_len: int = Field(128, ge=8, le=65_536, description="tokens per sequence, BOS included")
    learning_rate: float = Field(3e-3, gt=0, le=10, description="peak learning rate")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="final learning rate as a share of the peak")
    warmup_steps: int = Field(200, ge=0, le=10_000_000, description="linear warm-up steps")
    weight_decay: float = Field(0.1, ge=0, le=10, description="AdamW weight decay")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="seeds weights and corpus")
    save_every: int = Field(250, ge=1, le=10_000_000, description="checkpoint interval in steps")

    @field_validator("mixture")
    @classmethod
    def _known_skills(cls, mixture: dict[str, float]) -> dict[str, float]:  # before any work, naming the key
        from dataladder.core.registry import did_you_mean
        from dataladder.skills import SKILLS

        if not mixture:
            raise ValueError("no skill to pretrain on (an empty mixture); give skill: share, e.g. {add: 0.65, mul: 0.35}")
        if bad := next((k for k in mixture if k not in SKILLS.names()), None):
            raise ValueError(did_you_mean("skill", bad, list(SKILLS.names())))
        if bad := next((k for k, w in mixture.items() if w < 0), None):
            raise ValueError(f"{bad}: share {mixture[bad]:g} is negative; a share of the corpus is ≥ 0")
        if not sum(mixture.values()) > 0:
            raise ValueError("every share is 0, so the corpus would have no lines; give at least one a share above 0")
        return mixture


def lr_at(step: int, cfg: PretrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.learning_rate * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def budget(n_params: int, tokens: int) -> dict:
    return {
        "parameters": n_params,
        "tokens_seen": tokens,
        "tokens_per_parameter": tokens / n_params,
        "chinchilla_tokens_per_parameter": CHINCHILLA_TOKENS_PER_PARAM,
        "chinchilla_ratio": tokens / n_params / CHINCHILLA_TOKENS_PER_PARAM,
        "compute_flops": 6 * n_params * tokens,
    }


def pretrain(cfg: PretrainConfig, output_dir: Path, on_step: Callable[[int, float], None] | None = None) -> dict:
    """Pretrain per `cfg` into `output_dir`; returns the report (also saved as pretrain_report.json)."""
    import torch

    from dataladder.models.corpus import batch_texts, lines
    from dataladder.models.tiny import build_tiny_model, count_params
    from dataladder.models.tokenizer import build_char_tokenizer
    from dataladder.skills import SKILLS

    for name in cfg.mixture:
        SKILLS.get(name)  # did-you-mean before any work
    output_dir.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tok = build_char_tokenizer()
    model = build_tiny_model(cfg.arch, tok, seed=cfg.seed).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    rng = random.Random(cfg.seed)
    start, history, elapsed = 0, [], 0.0

    ckpt_path = output_dir / "checkpoint.pt"
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        if ckpt["config"] == cfg.model_dump():
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            rng.setstate(ckpt["rng"])
            start, history, elapsed = ckpt["step"], ckpt["history"], ckpt["elapsed"]

    gen = lines(cfg.mixture, cfg.digits, rng)
    vocab = tok.get_vocab()
    bos = tok.bos_token_id
    use_bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
    model.train()
    t0 = time.perf_counter() - elapsed
    running = None
    for step in range(start, cfg.steps):
        texts = batch_texts(gen, cfg.batch_size, cfg.seq_len - 1)
        ids = torch.tensor([[bos] + [vocab[c] for c in t] for t in texts], device=device)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=use_bf16):
            loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if (step + 1) % 50 == 0:
            history.append({"step": step + 1, "loss": round(running, 4), "lr": lr_at(step, cfg)})
        if on_step:
            on_step(step + 1, running)
        if (step + 1) % cfg.save_every == 0 and step + 1 < cfg.steps:
            tmp = ckpt_path.with_suffix(".tmp")
            torch.save(
                {"config": cfg.model_dump(), "model": model.state_dict(), "optimizer": opt.state_dict(),
                 "rng": rng.getstate(), "step": step + 1, "history": history, "elapsed": time.perf_counter() - t0},
                tmp,
            )
            tmp.replace(ckpt_path)

    seconds = time.perf_counter() - t0
    n_params = count_params(model)
    tokens = cfg.steps * cfg.batch_size * cfg.seq_len
    report = {
        **budget(n_params, tokens),
        "final_loss": history[-1]["loss"] if history else running,
        "seconds": seconds,
        "tokens_per_second": (cfg.steps - start) * cfg.batch_size * cfg.seq_len / max(1e-9, seconds - elapsed),
        "device": device,
        "history": history,
    }
    model.to("cpu").save_pretrained(output_dir)
    tok.save_pretrained(output_dir)
    (output_dir / "pretrain.yaml").write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False))
    (output_dir / "pretrain_report.json").write_text(json.dumps(report, indent=2))
    ckpt_path.unlink(missing_ok=True)
    return report
