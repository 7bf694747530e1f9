"""Direct preference optimization recipe: a causal LM trained on preference pairs by TRL's DPOTrainer.

    model, stats = train_dpo(base, tokenizer, pairs, DPOHparams(), lora_r=None, seed=0)
    logp_margins(model, tokenizer, heldout_pairs)  # log p(chosen) − log p(rejected) per pair

Pairs are `prompt`/`chosen`/`rejected` (TRL's columns, as `dataladder.data.pairs` writes them), the prompt
a string or a list of messages. Each pair is tokenized the way SFT tokenizes a prompt/completion record
(`sft.record_prompt`, `chat.encode_example`): the prompt exactly as generation sees it (a raw prompt goes
through the chat template only when the pair says `chat: true`), then the completion and its end (EOS
after a raw prompt; the template's end of turn after a conversation). So the log-probabilities DPO
moves are those of the text the policy generates at evaluation time. TRL 1.16 always tokenizes text
columns itself (prompt and completion joined, split where they diverge, which differs at a merged
boundary), so the recipe hands its collator the ids (`prompt_ids`/`chosen_ids`/`rejected_ids`).

The reference model is the frozen base: a copy of it for full fine-tuning, the adapter-disabled model
for LoRA (TRL's default). CPU-safe settings (no bf16, no gradient checkpointing) on CPU. `tracking`:
TrainingArguments keywords for experiment tracking (`Tracking.training_kwargs`), merged over ours.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Literal

from pydantic import Field

from dataladder.core.runtime import scratch_dir
from dataladder.train.hparams import PairHparams
from dataladder.train.progress import run_trainer
from dataladder.train.sizing import hp_description, resolve_for


class DPOHparams(PairHparams):
    """Documented defaults; every field can be overridden (`--hp key=value`).

    TRL's `learning_rate` default (1e-6) is tuned for billion-parameter models. On tiny-arith `add` in the
    exam format (320 near-miss pairs, 40 steps of 16, β 0.1), held-out pairwise preference went from 0.50 to
    0.62 at 1e-4, 0.90 at 3e-4, 0.97 at 5e-4 (exam accuracy 0.00 → 0.91, native 0.99 → 0.93) and 0.96 at
    1e-3 (native down to 0.69); 3e-3 diverged. LoRA r=4: 0.75 at 3e-3, 0.95 at 5e-3 (native kept at 0.98),
    0.99 at 1e-2 (native 0.81).
    """

    learning_rate: float | None = Field(None, gt=0, description=hp_description(
        "dpo", "learning_rate", "learning rate for full fine-tuning"))
    learning_rate_lora: float | None = Field(None, gt=0, description=hp_description(
        "dpo", "learning_rate_lora", "learning rate for LoRA"))
    beta: float = Field(0.1, gt=0, description="DPO β: the pull toward the reference model (higher: less deviation)")
    loss_type: Literal["sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
                       "apo_zero", "apo_down", "discopop", "sigmoid_norm"] = Field(
        "sigmoid", description="TRL loss type (sigmoid: the DPO paper's; ipo, hinge, robust, ...)")
    max_length: int = Field(256, ge=1, description="longest prompt + completion in tokens (longer ones are cut at the "
                                             "end; a pair whose prompt alone fills it is dropped)")


def tokenize_pairs(tokenizer, pairs: list[dict], policy=None) -> list[dict]:
    """`prompt_ids`, `chosen_ids`, `rejected_ids` per pair, as SFT and generation tokenize them (module docstring)."""
    from dataladder.generate.chat import ChatPolicy, encode_example
    from dataladder.train.sft import record_prompt

    policy = policy or ChatPolicy.for_tokenizer(tokenizer)
    rows = []
    for pair in pairs:
        p = record_prompt(policy, pair, tokenizer)
        text = [c if isinstance(c, str) else c[-1]["content"] for c in (pair["chosen"], pair["rejected"])]
        prompt_ids, chosen_ids = encode_example(tokenizer, p, text[0])
        rows.append({"prompt_ids": prompt_ids, "chosen_ids": chosen_ids,
                     "rejected_ids": encode_example(tokenizer, p, text[1])[1]})
    return rows


def own_copy(model):
    """A deep copy of `model` that runs its own weights. TRL's fused LM head (and accelerate's autocast on a
    GPU) set `model.forward` on the instance, closing over the original object; a deep copy would keep
    calling it, so the copy falls back to its class's `forward`."""
    out = copy.deepcopy(model)
    out.__dict__.pop("forward", None)
    return out


def train_dpo(base, tokenizer, pairs: list[dict], hp: DPOHparams, lora_r: int | None = None, seed: int = 0,
              on_step: Callable[[int, int], None] | None = None, tracking: dict | None = None,
              policy=None) -> tuple[object, dict]:
    """DPO-train a copy of `base` on `pairs` against `base` frozen; returns (the trained model, merged, in eval
    mode; train stats). `policy` is the `ChatPolicy` of the prompts (default: the tokenizer's, `auto`)."""
    hp = resolve_for(hp, "dpo", base)
    rows = [r for r in tokenize_pairs(tokenizer, pairs, policy) if len(r["prompt_ids"]) < hp.max_length]
    if not rows:
        raise ValueError(f"train_dpo: no pairs to train on ({len(pairs)} given, none with a prompt under "
                         f"max_length={hp.max_length} tokens)")

    import torch
    from datasets import Dataset
    from transformers import set_seed
    from trl import DPOConfig, DPOTrainer

    class TokenizedDPOTrainer(DPOTrainer):
        """TRL's trainer, its own tokenization skipped: the rows come as its collator's columns."""

        def _prepare_dataset(self, dataset, *args, **kwargs):
            return dataset

    set_seed(seed)
    model = own_copy(base)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    peft_config, ref_model = None, None
    if lora_r:
        from peft import LoraConfig

        peft_config = LoraConfig(r=lora_r, lora_alpha=hp.lora_alpha_ratio * lora_r, lora_dropout=hp.lora_dropout,
                                 target_modules="all-linear", task_type="CAUSAL_LM")
    else:  # without one TRL reloads the model from config._name_or_path: not the weights of an in-memory base
        ref_model = own_copy(base).eval()
    steps = hp.steps_for(len(rows))
    cuda = next(model.parameters()).is_cuda
    bf16 = cuda and torch.cuda.is_bf16_supported()
    with scratch_dir("dpo") as tmp:
        args = DPOConfig(**{
            "output_dir": tmp, "max_steps": steps, "per_device_train_batch_size": hp.batch_size,
            "learning_rate": hp.learning_rate_lora if lora_r else hp.learning_rate,
            "lr_scheduler_type": "cosine", "warmup_steps": int(hp.warmup_ratio * steps),
            "weight_decay": hp.weight_decay, "beta": hp.beta, "loss_type": [hp.loss_type], "bf16": bf16,
            "activation_checkpointing": False, "use_cpu": not cuda, "seed": seed, "data_seed": seed,
            "max_length": hp.max_length, "save_strategy": "no", "report_to": "none",
            "logging_steps": max(1, steps // 10), "disable_tqdm": True, "dataloader_num_workers": 0,
            **(tracking or {})})
        trainer = TokenizedDPOTrainer(model=model, ref_model=ref_model, args=args,
                                      train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                                      peft_config=peft_config)
        trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
        out, seconds = run_trainer(trainer, on_step)
        model = trainer.model
    logs = [h for h in trainer.state.log_history if "loss" in h]
    if lora_r:
        model = model.merge_and_unload()
    model.__dict__.pop("forward", None)  # TRL's fused LM head (see own_copy): the model's own forward again
    model.eval()
    after = model.state_dict()
    changed = sum(int(k in after and not torch.equal(before[k], after[k].to(before[k].device))) for k in before)
    # each step sees min(batch, n) pairs: prompt + chosen and prompt + rejected; the reference adds a forward (2·N·D)
    tokens = steps * min(hp.batch_size, len(rows)) * sum(
        2 * len(r["prompt_ids"]) + len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in rows) / len(rows)
    return model, {
        "pairs": len(rows), "steps": steps, "seconds": seconds, "train_loss": float(out.training_loss),
        "first_loss": logs[0]["loss"] if logs else None, "last_loss": logs[-1]["loss"] if logs else None,
        "reward_accuracy": logs[-1].get("rewards/accuracies") if logs else None,
        "margin": logs[-1].get("rewards/margins") if logs else None,
        "trainable_parameters": trainable, "parameters": n_params, "tensors_changed": changed,
        "tokens": tokens, "flops": ((4 if lora_r else 6) + 2) * n_params * tokens,
    }


def logp_margins(model, tokenizer, pairs: list[dict], policy=None, batch_size: int = 64) -> list[float]:
    """Summed log-probability of chosen minus that of rejected, each given its prompt, per pair (the tokens
    DPO trains on); > 0 means the model prefers the chosen completion."""
    import torch

    rows = tokenize_pairs(tokenizer, pairs, policy)
    seqs = [(r["prompt_ids"], c) for r in rows for c in (r["chosen_ids"], r["rejected_ids"])]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(model.parameters()).device
    out = []
    for s in range(0, len(seqs), batch_size):
        chunk = seqs[s : s + batch_size]
        width = max(len(p) + len(c) for p, c in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        target = torch.zeros_like(ids, dtype=torch.bool)
        for i, (p, c) in enumerate(chunk):
            ids[i, : len(p) + len(c)] = torch.tensor(p + c)
            mask[i, : len(p) + len(c)] = 1
            target[i, len(p) : len(p) + len(c)] = True
        with torch.inference_mode():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False).logits.float()
        logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None].to(device))[..., 0]
        out += (logp * target[:, 1:].to(device)).sum(-1).cpu().tolist()
    return [c - r for c, r in zip(out[0::2], out[1::2])]
