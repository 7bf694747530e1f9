"""The tiny Llama architecture that `tiny-arith` uses, built from a config (random weights)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:  # transformers is imported when a model is built: reading a config stays fast
    from transformers import LlamaForCausalLM, PreTrainedTokenizerBase


class TinyArch(BaseModel, extra="forbid", allow_inf_nan=False):
    hidden_size: int = Field(128, description="model width")
    num_hidden_layers: int = Field(4, description="transformer blocks")
    num_attention_heads: int = Field(4, description="attention heads")
    intermediate_size: int = Field(512, description="MLP width")
    max_position_embeddings: int = Field(256, description="longest sequence in tokens")


def build_tiny_model(arch: TinyArch, tokenizer: PreTrainedTokenizerBase, seed: int = 0) -> LlamaForCausalLM:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=arch.hidden_size,
        num_hidden_layers=arch.num_hidden_layers,
        num_attention_heads=arch.num_attention_heads,
        num_key_value_heads=arch.num_attention_heads,
        intermediate_size=arch.intermediate_size,
        max_position_embeddings=arch.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())
