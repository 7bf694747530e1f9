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


@pytest.fixture(scope="session")
def user_tasks(tmp_path_factory):
    """The four user tasks (letters, code, person JSON, reverse) as an eval JSONL and a `messages` train file."""
    from tests.usermodels import write_tasks

    return write_tasks(tmp_path_factory.mktemp("user-tasks"))


@pytest.fixture(scope="session", params=["qwen", "llama"])
def user_model_dir(request, tmp_path_factory):
    """A fresh (randomly initialised) user-style model: Qwen-style (ChatML) or Llama-style (BOS, eos list)."""
    from tests.usermodels import build_model

    return build_model(request.param, tmp_path_factory.mktemp(f"user-{request.param}"))


@pytest.fixture(scope="session", params=["qwen", "llama"])
def trained_user_model_dir(request, tmp_path_factory):
    """A user-style model briefly trained on the tasks, so it answers in whole multi-line completions."""
    from tests.usermodels import build_model, pretrain

    d = build_model(request.param, tmp_path_factory.mktemp(f"trained-{request.param}"))
    return pretrain(d, steps=600 if request.param == "qwen" else 300)


@pytest.fixture(scope="session")
def raw_trained_qwen_dir(tmp_path_factory):
    """A Qwen-style model that learned the code task from raw `prompt\\ncompletion` text, never in its chat
    template: in ChatML it has a format gap that a few templated examples close."""
    from tests.usermodels import build_model, pretrain

    d = build_model("qwen", tmp_path_factory.mktemp("raw-qwen"))
    return pretrain(d, steps=400, chat=False, skills=("code", "person"))


@pytest.fixture(autouse=True)
def _no_busy_machine_warning(monkeypatch):
    """Commands print a warning when the machine is busy; tests that count output lines must not depend on the
    machine's load (tests/test_runtime.py checks the warning itself)."""
    from dataladder.core import runtime

    monkeypatch.setattr(runtime, "load_warning", lambda: None)
