"""Supervised fine-tuning recipe: one rung of a ladder through TRL's SFTTrainer.

    model = train_sft(base, tokenizer, tokenized_rows, method="lora", lora_r=4, hp=SFTHparams(), seed=0)

Full fine-tuning or PEFT LoRA on all linear layers; completion-only loss; CPU-safe settings
(no bf16, no gradient checkpointing) on CPU and bf16 on a CUDA device that supports it.
The rows are tokenized once by the caller (`tokenize_records`), so every rung of a ladder
reuses them: a rung of size n trains on the first n rows.
"""

from __future__ import annotations

import copy
from typing import Callable, Literal

from pydantic import Field

from dataladder.core.runtime import scratch_dir
from dataladder.train.hparams import TrainHparams
from dataladder.train.progress import LOG_EVERY_STEP, loss_curve, run_trainer, window_means
from dataladder.train.sizing import hp_description, resolve_for


class SFTHparams(TrainHparams):
    """Documented defaults; every field can be overridden (`--hp key=value` or in a plan)."""

    learning_rate_full: float | None = Field(None, gt=0, description=hp_description(
        "sft", "learning_rate_full", "learning rate for full fine-tuning"))
    learning_rate_lora: float | None = Field(None, gt=0, description=hp_description(
        "sft", "learning_rate_lora", "learning rate for LoRA"))
    epochs: float = Field(3.0, gt=0, description="passes over the rung's data (at least min_steps steps)")
    min_steps: int | None = Field(None, ge=1, description=hp_description(
        "sft", "min_steps", "fewest optimizer steps per rung, so small rungs train enough"))
    max_steps: int = Field(2000, ge=1, description="most optimizer steps per rung")
    batch_size: int | None = Field(None, ge=1, description=hp_description("sft", "batch_size", "per-device train batch size"))
    max_length: int = Field(256, ge=1, description="longest training sequence in tokens")


def tokenize_records(tokenizer, records: list[dict], policy=None) -> list[dict]:
    """input_ids and completion_mask per record: the prompt exactly as generation sees it, then the completion.

    A record is TRL prompt/completion: `prompt` a string or a list of messages (conversational), `completion`
    a string or a one-message assistant list; `chat: true` asks for the chat template on a string prompt.
    Prompts go through the same `ChatPolicy` as eval prompts (`dataladder.generate.chat`): a conversation is
    rendered by the chat template and its completion ends with the template's end-of-turn token; a raw
    prompt's completion ends with EOS.
    """
    from dataladder.generate.chat import ChatPolicy, encode_example

    policy = policy or ChatPolicy.for_tokenizer(tokenizer)
    rows = []
    for r in records:
        p = record_prompt(policy, r, tokenizer)
        c = r["completion"] if isinstance(r["completion"], str) else r["completion"][-1]["content"]
        prompt_ids, completion_ids = encode_example(tokenizer, p, c)
        rows.append({"input_ids": prompt_ids + completion_ids,
                     "completion_mask": [0] * len(prompt_ids) + [1] * len(completion_ids)})
    return rows


def record_prompt(policy, record: dict, tokenizer=None):
    """The `Prompt` of a TRL record (its `prompt` text or messages) under `policy`; a raw prompt that already
    carries the template's special tokens (rendered by hand) is kept as it is."""
    from dataladder.generate.chat import prerendered

    prompt = record["prompt"]
    if isinstance(prompt, str):
        chat = bool(record.get("chat")) and not (tokenizer is not None and prerendered(tokenizer, prompt))
        return policy.prompt(prompt, None, wants_chat=chat)
    return policy.prompt(None, prompt)


def train_sft(base, tokenizer, rows: list[dict], method: Literal["full", "lora"], lora_r: int | None,
              hp: SFTHparams, seed: int, on_step: Callable[[int, int], None] | None = None,
              tracking: dict | None = None) -> tuple[object, dict]:
    """Fine-tune a copy of `base` on `rows`; returns (the trained model, merged, in eval mode; train stats).
    `tracking`: TrainingArguments keywords for experiment tracking (`Tracking.training_kwargs`)."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from transformers import set_seed

    hp = resolve_for(hp, "sft", base)
    set_seed(seed)  # LoRA's initial weights come from the global RNG: a run must not depend on what ran before
    model = copy.deepcopy(base)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(
            r=lora_r, lora_alpha=hp.lora_alpha_ratio * lora_r, lora_dropout=hp.lora_dropout,
            target_modules="all-linear", task_type="CAUSAL_LM"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    steps = hp.steps_for(len(rows))
    cuda = next(model.parameters()).is_cuda
    bf16 = cuda and torch.cuda.is_bf16_supported()
    with scratch_dir("sft") as tmp:
        args = SFTConfig(
            output_dir=tmp, max_steps=steps, per_device_train_batch_size=hp.batch_size,
            learning_rate=hp.learning_rate_lora if method == "lora" else hp.learning_rate_full,
            lr_scheduler_type="cosine", warmup_steps=int(hp.warmup_ratio * steps), weight_decay=hp.weight_decay,
            bf16=bf16, activation_checkpointing=False, use_cpu=not cuda, seed=seed, data_seed=seed,
            completion_only_loss=True, max_length=hp.max_length, save_strategy="no",
            disable_tqdm=True, dataloader_num_workers=0, **LOG_EVERY_STEP,
            **{"report_to": "none", **(tracking or {})},
        )
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
        out, seconds = run_trainer(trainer, on_step)
    curves = loss_curve(trainer.state.log_history)
    first, last = window_means(curves["loss_curve"], steps)  # as logged every tenth of the steps before
    if method == "lora":
        model = model.merge_and_unload()
    model.eval()
    after = model.state_dict()
    changed = sum(int(not torch.equal(before[k], after[k].to(before[k].device))) for k in before)
    # each step sees min(batch, n) rows; LoRA skips weight gradients of frozen weights (≈4·N·D, not 6·N·D)
    tokens = steps * min(hp.batch_size, len(rows)) * (sum(len(r["input_ids"]) for r in rows) / max(1, len(rows)))
    return model, {
        "steps": steps, "seconds": seconds, "train_loss": float(out.training_loss),
        "first_loss": first, "last_loss": last,
        "trainable_parameters": trainable, "parameters": n_params, "tensors_changed": changed,
        "tokens": tokens, "flops": (6 if method == "full" else 4) * n_params * tokens,
        **curves,  # loss_curve, grad_norm: one per step (ladder/soundness.py reads them)
    }

