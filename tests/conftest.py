import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def micro_dir(tmp_path_factory):
    """A 2-layer, hidden-64 Llama with the char tokenizer, saved as a local model directory."""
    from dataladder.models.tiny import TinyArch, build_tiny_model
    from dataladder.models.tokenizer import build_char_tokenizer

    d = tmp_path_factory.mktemp("micro-base")
    tok = build_char_tokenizer()
    arch = TinyArch(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
    build_tiny_model(arch, tok).save_pretrained(d)
    tok.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def micro():
    """The same micro Llama in memory, with its tokenizer (one per test module)."""
    from dataladder.models.tiny import TinyArch, build_tiny_model
    from dataladder.models.tokenizer import build_char_tokenizer

    tok = build_char_tokenizer()
    arch = TinyArch(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
    return build_tiny_model(arch, tok), tok
