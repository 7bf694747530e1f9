"""Model loading: `tiny-arith` resolves to the shipped model; anything else is a local path or hub id."""

from __future__ import annotations

from pathlib import Path

SHIPPED = {"tiny-arith": Path(__file__).parent / "tiny-arith"}


def resolve_model(spec: str) -> str:
    return str(SHIPPED[spec]) if spec in SHIPPED else spec


def load_model(spec: str, device: str | None = None):
    """(model, tokenizer) for a causal LM, in eval mode, with a pad token and left padding."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    path = resolve_model(spec)
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    model.eval()
    return model, tok
