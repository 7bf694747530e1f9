"""Reward-model recipe: a base causal LM with a scalar head, trained on preference pairs by TRL's RewardTrainer.

    rm, stats = train_reward(base, tokenizer, pairs, RewardHparams(), lora_r=None, seed=0)
    scores = score_texts(rm, tokenizer, prompts, completions)
    pairwise_accuracy(rm, tokenizer, heldout_pairs)  # {correct, n, accuracy, ci_low, ci_high, margin}

The reward model is `AutoModelForSequenceClassification` with `num_labels=1` built from the base
model's config and body weights (a fresh, seeded score head), `pad_token_id` set so the score is
read at the last real token. Pairs are `prompt`/`chosen`/`rejected` (TRL's columns; the prompt a string
or a list of messages); the text a reward model scores is prompt + completion + its end (EOS, or the
chat template's end of turn for a conversation), tokenized the same way for training and scoring
(right padding), so a score at evaluation time is the score the trainer optimized. Full
fine-tuning or PEFT LoRA (task type SEQ_CLS: the score head is trained in full); CPU-safe
settings (no bf16, no gradient checkpointing) on CPU.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Callable

from pydantic import Field

from dataladder.core.runtime import scratch_dir
from dataladder.core.stats import wilson
from dataladder.train.hparams import PairHparams
from dataladder.train.progress import run_trainer
from dataladder.train.sizing import hp_description, resolve_for


class RewardHparams(PairHparams):
    """Documented defaults; every field can be overridden (`--hp key=value`)."""

    learning_rate: float | None = Field(None, gt=0, description=hp_description(
        "reward", "learning_rate", "learning rate for full fine-tuning"))
    learning_rate_lora: float | None = Field(None, gt=0, description=hp_description(
        "reward", "learning_rate_lora", "learning rate for LoRA (the score head trains in full)"))
    center_rewards_coefficient: float | None = Field(0.01, ge=0, description="TRL's pull of rewards toward mean zero")
    max_length: int = Field(256, ge=1, description="longest prompt + completion in tokens (longer pairs are dropped)")


def encode(tokenizer, prompt: str | list[dict], completion: str) -> list[int]:
    """The token ids a reward model scores: the prompt as generation sees it, then the completion and its end
    (EOS after a raw prompt; the chat template's end of turn after a conversation: TRL's conversational form)."""
    from dataladder.generate.chat import ChatPolicy, encode_example

    policy = ChatPolicy.for_tokenizer(tokenizer)
    p = policy.prompt(prompt, None) if isinstance(prompt, str) else policy.prompt(None, prompt)
    prompt_ids, completion_ids = encode_example(tokenizer, p, completion)
    return prompt_ids + completion_ids


def reward_model_from(base, tokenizer, seed: int = 0):
    """A sequence-classification model (num_labels=1) from a causal LM object or path (a fresh, seeded
    score head), or a copy of a reward model (its head kept, so training continues from it); pad id set."""
    import torch
    from transformers import AutoModelForSequenceClassification

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    torch.manual_seed(seed)  # the score head is new: its init is part of the run's seed
    if isinstance(base, (str, Path)):
        from dataladder.models.hub import resolve_model

        rm = AutoModelForSequenceClassification.from_pretrained(resolve_model(str(base)), num_labels=1,
                                                                 pad_token_id=pad_id)
    elif type(base).__name__.endswith("ForSequenceClassification") and base.config.num_labels == 1:
        rm = copy.deepcopy(base)  # already a reward model: continue from it, head included
    else:
        config = copy.deepcopy(base.config)
        config.num_labels = 1
        config.pad_token_id = pad_id
        config.architectures = None
        rm = AutoModelForSequenceClassification.from_config(config, dtype=next(base.parameters()).dtype)
        body = getattr(base, base.base_model_prefix)
        getattr(rm, rm.base_model_prefix).load_state_dict(body.state_dict())
        rm.to(next(base.parameters()).device)
    rm.config.pad_token_id = pad_id
    return rm


def train_reward(base, tokenizer, pairs: list[dict], hp: RewardHparams, lora_r: int | None = None, seed: int = 0,
                 on_step: Callable[[int, int], None] | None = None,
                 tracking: dict | None = None) -> tuple[object, dict]:
    """Train a reward model on `pairs` from `base` (a causal LM object or path); returns
    (the reward model, merged, in eval mode; train stats). `tracking`: TrainingArguments keywords for
    experiment tracking (`Tracking.training_kwargs`)."""
    import torch
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    if not pairs:
        raise ValueError("train_reward: no pairs to train on")
    model = reward_model_from(base, tokenizer, seed)
    hp = resolve_for(hp, "reward", model)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    peft_config = None
    if lora_r:
        from peft import LoraConfig

        peft_config = LoraConfig(r=lora_r, lora_alpha=hp.lora_alpha_ratio * lora_r, lora_dropout=hp.lora_dropout,
                                 target_modules="all-linear", task_type="SEQ_CLS")
    rows = [{"chosen_ids": encode(tokenizer, p["prompt"], p["chosen"]),
             "rejected_ids": encode(tokenizer, p["prompt"], p["rejected"])} for p in pairs]
    steps = hp.steps_for(len(rows))
    cuda = next(model.parameters()).is_cuda
    bf16 = cuda and torch.cuda.is_bf16_supported()
    with scratch_dir("reward") as tmp:
        args = RewardConfig(
            output_dir=tmp, max_steps=steps, per_device_train_batch_size=hp.batch_size,
            learning_rate=hp.learning_rate_lora if lora_r else hp.learning_rate,
            lr_scheduler_type="cosine", warmup_steps=int(hp.warmup_ratio * steps), weight_decay=hp.weight_decay,
            bf16=bf16, activation_checkpointing=False, use_cpu=not cuda, seed=seed, data_seed=seed,
            max_length=hp.max_length, center_rewards_coefficient=hp.center_rewards_coefficient,
            save_strategy="no", logging_steps=max(1, steps // 10), disable_tqdm=True,
            dataloader_num_workers=0, **{"report_to": "none", **(tracking or {})},
        )
        trainer = RewardTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                                processing_class=tokenizer, peft_config=peft_config)
        trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
        out, seconds = run_trainer(trainer, on_step)
        model = trainer.model
    logs = [h for h in trainer.state.log_history if "loss" in h]
    if lora_r:
        model = model.merge_and_unload()
    model.eval()
    after = model.state_dict()
    changed = sum(int(k in after and not torch.equal(before[k], after[k].to(before[k].device))) for k in before)
    tokens = steps * min(hp.batch_size, len(rows)) * sum(len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in rows) / len(rows)
    return model, {
        "pairs": len(rows), "steps": steps, "seconds": seconds, "train_loss": float(out.training_loss),
        "first_loss": logs[0]["loss"] if logs else None, "last_loss": logs[-1]["loss"] if logs else None,
        "train_accuracy": logs[-1].get("accuracy") if logs else None,
        "train_margin": logs[-1].get("margin") if logs else None,
        "trainable_parameters": trainable, "parameters": n_params, "tensors_changed": changed,
        "tokens": tokens, "flops": (4 if lora_r else 6) * n_params * tokens,
    }


def score_texts(reward_model, tokenizer, prompts: list, completions: list[str], batch_size: int = 256) -> list[float]:
    """The reward model's scalar score of each prompt + completion (right-padded, as in training)."""
    return [row[0] for row in _score_rows(reward_model, tokenizer, prompts, completions, batch_size)]


def _score_rows(reward_model, tokenizer, prompts: list, completions: list[str], batch_size: int) -> list[list[float]]:
    """Every score column (the head's outputs at the last token) of each prompt + completion."""
    import torch

    if len(prompts) != len(completions):
        raise ValueError(f"score_texts: {len(prompts)} prompts but {len(completions)} completions")
    ids = [encode(tokenizer, p, c) for p, c in zip(prompts, completions)]
    pad = reward_model.config.pad_token_id
    device = next(reward_model.parameters()).device
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: list[list[float]] = [[]] * len(ids)
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        width = max(len(ids[i]) for i in idx)
        x = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            x[row, : len(ids[i])] = torch.tensor(ids[i])
            mask[row, : len(ids[i])] = 1
        with torch.inference_mode():
            logits = reward_model(input_ids=x.to(device), attention_mask=mask.to(device), use_cache=False).logits
        for i, v in zip(idx, logits.float().cpu().tolist()):
            out[i] = v
    return out


def pair_margins(reward_model, tokenizer, pairs: list[dict], batch_size: int = 256) -> list[float]:
    """score(chosen) − score(rejected) for every pair; > 0 means the reward model prefers the chosen one."""
    return head_margins(reward_model, tokenizer, pairs, None, batch_size)[0]


def head_margins(reward_model, tokenizer, pairs: list[dict], heads: int | None,
                 batch_size: int = 256) -> list[list[float]]:
    """The margins of every pair under each of `heads` fresh score heads on the model's body, `out[head][pair]`
    (`heads` None: the model's own head, one row).

    An untrained reward model is the body with a fresh, random head: its score is a projection of the last
    hidden state on a random direction, so whether it prefers `chosen` is the sign of that projection, and
    pairs built the same way (one value changed) share it. One head's accuracy is therefore far from 0.5 either
    way by chance. Averaged over heads (seeded 0…heads−1, drawn as the model's init draws a head: normal with
    std `initializer_range`) it is the untrained model's expected accuracy, the curve's sensible base."""
    import torch

    prompts = [p["prompt"] for p in pairs]
    texts = [p["chosen"] for p in pairs] + [p["rejected"] for p in pairs]
    rm, swap = reward_model, None
    if heads is not None:
        name, head = next((n, m) for n, m in rm.named_children()
                          if isinstance(m, torch.nn.Linear) and m.out_features == rm.config.num_labels)
        std = float(getattr(rm.config, "initializer_range", 0.02))
        rows = [torch.randn(head.in_features, generator=torch.Generator().manual_seed(s)) * std for s in range(heads)]
        stacked = torch.nn.Linear(head.in_features, heads, bias=False)
        stacked.weight.data = torch.stack(rows).to(head.weight.dtype)
        swap = (name, head)
        setattr(rm, name, stacked.to(head.weight.device))
    try:
        scores = _score_rows(rm, tokenizer, prompts + prompts, texts, batch_size)
    finally:
        if swap is not None:
            setattr(rm, *swap)
    n = len(pairs)
    return [[scores[i][k] - scores[n + i][k] for i in range(n)] for k in range(heads or 1)]


def accuracy_of(margins: list[float]) -> dict:
    """Pairwise accuracy (a tie counts as wrong) with its Wilson 95% interval, and the mean margin."""
    correct = sum(m > 0 for m in margins)
    lo, hi = wilson(correct, len(margins))
    return {"correct": correct, "n": len(margins), "accuracy": correct / len(margins) if margins else 0.0,
            "ci_low": lo, "ci_high": hi, "margin": sum(margins) / len(margins) if margins else 0.0}


def accuracy_over_heads(by_head: list[list[float]], draws: int = 2000, seed: int = 0) -> dict:
    """`accuracy_of` for margins under several fresh heads (`head_margins`): each pair's share of heads that
    prefer `chosen`, averaged; a 95% bootstrap interval over pairs; `correct` that share's sum, rounded;
    `heads`, and `one_head` (head 0's accuracy, what a single untrained model would have scored)."""
    import numpy as np

    m = np.asarray(by_head, dtype=float)  # heads × pairs
    if m.shape[1] == 0:
        return {**accuracy_of([]), "heads": len(by_head), "one_head": 0.0}
    per = (m > 0).mean(axis=0)
    boot = per[np.random.default_rng(seed).integers(0, len(per), (draws, len(per)))].mean(axis=1)
    acc = float(per.mean())
    lo, hi = (float(v) for v in np.percentile(boot, [2.5, 97.5]))
    return {"correct": int(round(per.sum())), "n": len(per), "accuracy": acc, "ci_low": min(lo, acc),
            "ci_high": max(hi, acc), "margin": float(m.mean()), "heads": len(by_head),
            "one_head": float((m[0] > 0).mean())}


def pairwise_accuracy(reward_model, tokenizer, pairs: list[dict]) -> dict:
    """Held-out pairwise accuracy: {correct, n, accuracy, ci_low, ci_high, margin}."""
    return accuracy_of(pair_margins(reward_model, tokenizer, pairs))


def save_reward_model(reward_model, tokenizer, path: Path) -> Path:
    """Save the reward model and its tokenizer (a Hugging Face directory), replacing `path` whole."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    reward_model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return path


def load_reward_model(path, device: str | None = None) -> tuple[object, object]:
    """(reward model in eval mode, tokenizer) from a directory written by `save_reward_model` / `prefs`."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").is_file():
        raise ValueError(f"{path}: not a reward model directory (no config.json); run `dataladder prefs` first")
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    rm = AutoModelForSequenceClassification.from_pretrained(path).to(device)
    if rm.config.num_labels != 1:
        raise ValueError(f"{path}: num_labels is {rm.config.num_labels}, a reward model has 1")
    if rm.config.pad_token_id is None:
        rm.config.pad_token_id = tok.pad_token_id
    rm.eval()
    return rm, tok
