"""GRPO recipe: reinforcement learning from verifiable rewards through TRL's GRPOTrainer.

    model, stats = train_grpo(base, tokenizer, rows, [verifier_reward(skill)], GRPOHparams(), steps=32, seed=0)

`rows` are `{"prompt", "answer", "key", "stop", "qa"}` dicts, `prompt` raw text (a base model's
conversations in the QA frame, `qa` true: the reward drops the frame's leading space, as evaluation
does) or a list of messages (TRL's conversational form: TRL applies the chat template, as our
generator does); extra columns reach the
reward functions as keyword arguments, so the skill's own verifier is the reward (the same function
scores evals and filters data). Each step draws `prompts_per_step` prompts and samples
`num_generations` completions of each (TRL's default 8). Generation ends where evaluation's does: at
EOS, every `generation_config` end id and the chat template's end of turn; a stop string that is one
token (the arithmetic formats' newline) is an end id too, and the reward cuts each completion before
its first stop string, so the policy is trained on exactly the text that is scored.

CPU-safe settings (no bf16, no gradient checkpointing) on CPU. The trainer's log history (TRL's
names: `reward`, `reward_std`, `frac_reward_zero_std`, `rewards/<func>/mean`) comes back in the stats.

TRL's own options pass through `--hp` unchanged where GRPOHparams names them; for vLLM rollouts on a
GPU, `--hp use_vllm=true vllm_mode=colocate` (or `vllm_mode=server` with `trl vllm-serve` running).
"""

from __future__ import annotations

import copy
from typing import Callable

from pydantic import BaseModel, Field

from dataladder.generate.chat import stop_token_ids
from dataladder.core.runtime import scratch_dir
from dataladder.train.progress import run_trainer
from dataladder.train.sizing import hp_description, resolve_for


class GRPOHparams(BaseModel, extra="forbid", allow_inf_nan=False):
    """Documented defaults; override any with `--hp key=value`.

    TRL's `learning_rate` default (1e-6) is tuned for billion-parameter models. On tiny-arith `mul`
    in the native format, 3e-4 lowered held-out greedy accuracy within 48 steps; in the exam format
    after a cold start, 2e-5 and 1e-4 both raised it well beyond its interval in 256 steps (1e-4 a
    little more); 2e-5 (constant) is the default (see bench/RESULTS.md, RL).
    """

    learning_rate: float | None = Field(None, gt=0, description=hp_description(
        "grpo", "learning_rate", "AdamW learning rate (constant schedule)"))
    num_generations: int = Field(8, ge=2, le=1024, description="completions sampled per prompt (the group; TRL's default)")
    prompts_per_step: int = Field(8, ge=1, description="distinct prompts per optimizer step")
    temperature: float = Field(1.0, gt=0, le=100, description="sampling temperature of the rollouts (and of the zero-signal check)")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling of the rollouts")
    beta: float = Field(0.0, description="KL coefficient against the reference model (TRL's default 0)")
    loss_type: str = Field("dapo", description="TRL loss type")
    scale_rewards: str = Field("group", description="reward normalisation: group | batch | none")
    max_completion_length: int | None = Field(None, ge=1, description="most generated tokens (default: the skill's max_new_tokens)")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    max_grad_norm: float = Field(1.0, gt=0, description="gradient clipping")
    stop_tokens_as_eos: bool = Field(True, description="end rollouts at stop strings that are one token (the "
                                                        "arithmetic formats' newline), as evals do")
    use_vllm: bool = Field(False, description="TRL: generate rollouts with vLLM (needs a GPU and vllm installed)")
    vllm_mode: str = Field("colocate", description="TRL: colocate (in the trainer's process) | server "
                                                   "(`trl vllm-serve`)")

    @property
    def rollouts_per_step(self) -> int:
        return self.prompts_per_step * self.num_generations


def completion_text(completion) -> str:
    """A TRL completion as text: a string, or the content of a conversational completion's turns."""
    return completion if isinstance(completion, str) else "".join(m["content"] for m in completion)


def verifier_reward(skill, items: dict | None = None) -> Callable:
    """The skill's verifier as a TRL reward function: 1.0 if the completion, cut before its first stop
    string (the row's `stop`), verifies, else 0.0.

    `items` maps an item key to its `Item`, so user verifiers see the item's fields; without it
    the `answer` column is all the verifier gets.
    """
    from dataladder.generate.base import cut_at_stop

    def verifier(prompts, completions, answer, key=None, stop=None, qa=None, **_):
        out = []
        for i, (c, a) in enumerate(zip(completions, answer)):
            it = items.get(key[i]) if items and key is not None else None
            data = it.data if it is not None else {}
            text = cut_at_stop(completion_text(c), tuple(stop[i]) if stop is not None else ())
            if qa is not None and qa[i] and text.startswith(" "):  # a base model's QA frame: as `Prompt.answer` reads it
                text = text[1:]
            out.append(1.0 if skill.verify(text, a, **data).ok else 0.0)
        return out

    return verifier


def _single_token_ids(tokenizer, stops) -> list[int]:
    out = []
    for s in stops:
        ids = tokenizer(s, add_special_tokens=False)["input_ids"]
        if len(ids) == 1:  # a multi-token stop string cannot be an end id; the reward cuts at it
            out.append(ids[0])
    return out


def fresh_copy(model):
    """A new model object with `model`'s config and weights. Not `copy.deepcopy`: a model that has been
    through a Trainer carries accelerate's wrapped `forward`, and a deep copy of it keeps calling the
    original object's weights, so a chain of rungs would train and evaluate the wrong model."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = next(model.parameters()).dtype
    out = AutoModelForCausalLM.from_config(copy.deepcopy(model.config), dtype=dtype)
    out.load_state_dict(model.state_dict())  # copies into `out`'s own tensors: no third copy of the weights
    out.generation_config = copy.deepcopy(model.generation_config)
    return out.to(next(model.parameters()).device) if torch.cuda.is_available() else out


def tensor_digests(model) -> dict[str, str]:
    """A BLAKE2 digest of each tensor's bytes in `model`'s state dict: which tensors changed, and whether a
    recomputed rung equals the stored one to the bit, without a second copy of the weights."""
    import hashlib

    import torch

    return {k: hashlib.blake2b(v.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy(),
                               digest_size=16).hexdigest() for k, v in model.state_dict().items()}


def weights_digest(digests: dict[str, str] | object) -> str:
    """One digest of a model's weights (or of its `tensor_digests`)."""
    import hashlib

    d = digests if isinstance(digests, dict) else tensor_digests(digests)
    return hashlib.blake2b("".join(f"{k}:{v};" for k, v in sorted(d.items())).encode(), digest_size=16).hexdigest()


def train_grpo(base, tokenizer, rows: list[dict], reward_funcs: list[Callable], hp: GRPOHparams, steps: int,
               seed: int, max_completion_length: int = 12, reward_weights: list[float] | None = None,
               callbacks: list | None = None, on_step: Callable[[int, int], None] | None = None,
               tracking: dict | None = None, in_place: bool = False) -> tuple[object, dict]:
    """Train a copy of `base` for `steps` GRPO steps on `rows` (each step takes `prompts_per_step` of them in
    order); returns (the trained model in eval mode, stats with TRL's log history per step). `tracking`:
    TrainingArguments keywords for experiment tracking (`Tracking.training_kwargs`). `in_place`: train `base`
    itself, for a caller that gives it up (a chain of rungs): one copy of the weights fewer in memory; the
    result is the same to the bit. With TRL's beta 0 (the default) the trainer keeps no reference model."""
    import torch
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    need = steps * hp.prompts_per_step
    if len(rows) < need:
        raise ValueError(f"{steps} steps × {hp.prompts_per_step} prompts need {need} prompts; got {len(rows)}")
    hp = resolve_for(hp, "grpo", base)
    model = base if in_place else fresh_copy(base)
    del base  # the caller's reference, if any, is all that keeps it
    model.train()
    gen_cfg = copy.deepcopy(model.generation_config)
    chat = any(not isinstance(r["prompt"], str) for r in rows[:need])
    eos = stop_token_ids(tokenizer, gen_cfg, chat)
    if hp.stop_tokens_as_eos:
        eos += _single_token_ids(tokenizer, dict.fromkeys(s for r in rows[:need] for s in r.get("stop") or ()))
    gen_cfg.eos_token_id = list(dict.fromkeys(eos))
    model.generation_config = gen_cfg
    before = tensor_digests(model)  # not a clone: a digest per tensor tells which changed
    cuda = next(model.parameters()).is_cuda
    bf16 = cuda and torch.cuda.is_bf16_supported()
    with scratch_dir("grpo") as tmp:
        args = GRPOConfig(
            output_dir=tmp, max_steps=steps, per_device_train_batch_size=hp.rollouts_per_step,
            gradient_accumulation_steps=1, num_generations=hp.num_generations, learning_rate=hp.learning_rate,
            lr_scheduler_type="constant", weight_decay=hp.weight_decay, max_grad_norm=hp.max_grad_norm,
            beta=hp.beta, loss_type=hp.loss_type, scale_rewards=hp.scale_rewards, temperature=hp.temperature,
            top_p=hp.top_p, max_completion_length=hp.max_completion_length or max_completion_length,
            reward_weights=reward_weights, bf16=bf16, activation_checkpointing=False, use_cpu=not cuda, seed=seed,
            data_seed=seed, shuffle_dataset=False, save_strategy="no", logging_steps=1,
            disable_tqdm=True, dataloader_num_workers=0, log_completions=False,
            **({"use_vllm": True, "vllm_mode": hp.vllm_mode} if hp.use_vllm else {}),
            **{"report_to": "none", **(tracking or {})},
        )
        trainer = GRPOTrainer(model=model, reward_funcs=reward_funcs, args=args,
                              train_dataset=Dataset.from_list(rows[:need]), processing_class=tokenizer)
        _, seconds = run_trainer(trainer, on_step, tuple(callbacks or ()))
    model.eval()
    after = tensor_digests(model)
    changed = sum(int(before[k] != after[k]) for k in before)
    log = [{k: v for k, v in h.items() if isinstance(v, (int, float)) or v is None}
           for h in trainer.state.log_history if "reward" in h]
    import gc

    del trainer, args  # the trainer's reference cycles hold its optimizer state (two copies of the weights)
    gc.collect()  # until a collection: free them before the next rung trains
    return model, {"steps": steps, "seconds": seconds, "rollouts": steps * hp.rollouts_per_step,
                   "tensors_changed": changed, "log": log, "weights": weights_digest(after)}
