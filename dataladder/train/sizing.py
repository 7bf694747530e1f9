"""Hyperparameter defaults by method and model size: one rule for SFT, reward models, DPO and GRPO.

A field left unset (`None`) in a recipe's hyperparameters takes its value here, from the base model's
parameter count (counted from its config on the meta device: no weights are read); a value the user gives
(`--hp learning_rate_lora=1e-4`, a plan's `hp:`) is kept. The resolved values are what a run's config holds,
so the run store keys and the result files name the numbers that trained it.

Where the numbers come from:

- **Pretrained models (30M parameters and up).** TRL's and axolotl's example configs for models of 100M
  parameters and up: LoRA at 2e-4 (TRL's PEFT examples, axolotl's `lora.yml`/`qlora.yml`:
  `learning_rate: 0.0002`), full fine-tuning at 2e-5 (TRL's `SFTConfig` default and its SFT examples),
  reward models at 1e-5 full / 1e-4 LoRA (TRL's reward-modeling example), DPO at 1e-5 full / 1e-4 LoRA
  (short CPU ladders: the upper end of TRL's DPO examples), GRPO at 1e-6 (TRL's `GRPOConfig` default and
  its examples). Effective batch 8 sequences (axolotl's micro-batch 2 × 4 accumulation) and at least 10
  optimizer steps, so a 20-example rung of a 135M model costs about a minute on 2 CPU cores, not the 7 of
  the toy's 60 × 16.
- **Under 300M parameters, LoRA SFT at 5e-4.** Measured on SmolLM2-135M-Instruct (capital cities in
  `<city>` tags, 10 examples, LoRA r=8, 20 held-out items; `bench/RESULTS.md`): 2e-4 for 10 steps left the
  format unlearned (0.00, loss 1.63 → 0.74); 2e-4 for 20 steps, 5e-4 for 10 and 1e-3 for 10 all reached
  0.30–0.35 with the untouched JSON skill at 0.75 against 0.80; the toy's 4e-3 collapsed a rung to 0.000
  (plain-question accuracy 0.73 → 0.00). 5e-4 buys 2e-4's result at half the steps; from 300M parameters
  the library's 2e-4 holds.
- **Tiny models (under 30M parameters: the shipped tiny-arith, test models).** The values measured on
  tiny-arith (`bench/RESULTS.md`): a 1M-parameter character model needs rates 10–20× higher and more steps
  to move at all (SFT 3e-4 full / 4e-3 LoRA, 60 steps of 16; reward 3e-3 / 4e-3, 40 steps of 16; DPO
  5e-4 / 5e-3; GRPO 2e-5). The rule gives exactly them, so the shipped model's runs and figures are
  unchanged.
"""

from __future__ import annotations

from functools import lru_cache

SMALL = 30_000_000  # parameters: below this, the tiny-model column
LARGE = 300_000_000  # from this, the library values throughout

# recipe → field → (tiny model, pretrained under 300M, pretrained from 300M); a pair is the same for both
RULES: dict[str, dict[str, tuple]] = {
    "sft": {"learning_rate_full": (3e-4, 2e-5), "learning_rate_lora": (4e-3, 5e-4, 2e-4),
            "min_steps": (60, 10), "batch_size": (16, 8)},
    "reward": {"learning_rate": (3e-3, 1e-5), "learning_rate_lora": (4e-3, 1e-4),
               "min_steps": (40, 10), "batch_size": (16, 8)},
    "dpo": {"learning_rate": (5e-4, 1e-5), "learning_rate_lora": (5e-3, 1e-4),
            "min_steps": (40, 10), "batch_size": (16, 8)},
    "grpo": {"learning_rate": (2e-5, 1e-6)},
}


def size_class(n_params: int | None) -> str:
    """'tiny' below 30M parameters, 'small' below 300M, else 'large' (an unknown size counts as large: the
    lowest rates, the safe side)."""
    if n_params is None or n_params >= LARGE:
        return "large"
    return "tiny" if n_params < SMALL else "small"


def defaults(recipe: str, n_params: int | None) -> dict:
    col = {"tiny": 0, "small": 1, "large": 2}[size_class(n_params)]
    return {k: v[min(col, len(v) - 1)] for k, v in RULES[recipe].items()}


def resolve(hp, recipe: str, n_params: int | None):
    """`hp` with every unset (None) size-dependent field filled by the rule for `n_params`."""
    fill = {k: v for k, v in defaults(recipe, n_params).items() if getattr(hp, k) is None}
    return hp.model_copy(update=fill) if fill else hp


def resolve_cfg(cfg, recipe: str, spec: str | None = None):
    """A ladder config whose `hp` is resolved for its base model (`spec`, default `cfg.model`)."""
    return cfg.model_copy(update={"hp": resolve(cfg.hp, recipe, param_count(spec or cfg.model))})


@lru_cache(maxsize=16)
def param_count(spec: str) -> int | None:
    """Parameters of a model from its config alone (built on the meta device: no weights read), or None when
    its config cannot be read (the loader then says why)."""
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM
        from transformers.utils import logging as hf_logging

        from dataladder.models.hub import resolve_model

        hf_logging.set_verbosity_error()
        config = AutoConfig.from_pretrained(resolve_model(spec))
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
        return sum(p.numel() for p in model.parameters())
    except (OSError, ValueError, KeyError, TypeError, ImportError):
        return None


def hp_description(recipe: str, field: str, what: str) -> str:
    v = RULES[recipe][field]
    sizes = (f"{v[0]:g} under 30M parameters, {v[1]:g} from 30M" if len(v) == 2 else
             f"{v[0]:g} under 30M parameters, {v[1]:g} under 300M, {v[2]:g} from 300M")
    return f"{what} (default by model size: {sizes}; train/sizing.py)"


def resolve_for(hp, recipe: str, model):
    """`hp` resolved for a model object in hand (a recipe called directly, outside a ladder)."""
    if not any(getattr(hp, k) is None for k in RULES[recipe]):
        return hp
    return resolve(hp, recipe, sum(p.numel() for p in model.parameters()))
