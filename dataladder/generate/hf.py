"""The `hf` backend: transformers `generate` in this process, batched with a KV cache.

Prompts are tokenized as `generate.chat.encode_prompt` does (the same ids training uses), sorted by
(token budget, length) so a batch pads little and shares one `max_new_tokens`, and left padded.
A batch stops per row at any id of `stop_token_ids` (tokenizer EOS, `generation_config.eos_token_id`,
the chat template's end of turn) or once the row's new text holds one of its stop strings (a QA-framed
prompt's include the frame's next turn, `\nQuestion:`).
"""

from __future__ import annotations

from typing import Callable

from dataladder.generate.base import BACKENDS, Generator, GenOptions, cut_at_stop
from dataladder.generate.chat import ChatPolicy, Prompt, encode_prompt, render, stop_token_ids


@BACKENDS.register("hf")
class HFGenerator(Generator):
    name = "hf"

    def __init__(self, model, tokenizer, options: GenOptions | None = None, batch_size: int = 128):
        options = options or GenOptions()
        policy = ChatPolicy.for_tokenizer(tokenizer, options.chat_template, options.system_prompt, tuple(options.stop))
        super().__init__(options, policy)
        self.model, self.tok, self.batch_size = model, tokenizer, batch_size
        self._eos: dict[bool, list[int]] = {}

    @classmethod
    def create(cls, options: GenOptions, model=None, tokenizer=None, **_) -> "HFGenerator":
        if model is None or tokenizer is None:
            raise ValueError("the hf backend needs a loaded model and tokenizer")
        return cls(model, tokenizer, options)

    def with_model(self, model) -> "HFGenerator":
        """The same settings on another model (a rung's fine-tuned weights)."""
        out = HFGenerator(model, self.tok, self.options, self.batch_size)
        out._budgets = self._budgets
        return out

    def render_text(self, p: Prompt) -> str:
        return render(self.tok, p)

    def count_tokens(self, text: str) -> int:
        return len(self.tok(text, add_special_tokens=False)["input_ids"])

    def eos_ids(self, chat: bool) -> list[int]:
        if chat not in self._eos:
            self._eos[chat] = stop_token_ids(self.tok, getattr(self.model, "generation_config", None), chat)
        return self._eos[chat]

    def _complete(self, prompts: list[Prompt], k: int, sampling: dict | None,
                  on_batch: Callable[[int], None] | None) -> list[list[str]]:
        import torch

        if sampling is not None:
            torch.manual_seed(sampling["seed"])
            kwargs = {"do_sample": True, "temperature": sampling["temperature"], "top_p": sampling["top_p"], "top_k": 0}
        else:
            kwargs = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        ids = [encode_prompt(self.tok, p) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: (prompts[i].max_new_tokens, len(ids[i])))
        out: list[list[str]] = [[] for _ in prompts]
        per_batch = max(1, self.batch_size // k)
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.tok.eos_token_id
        s = 0
        while s < len(order):
            budget = prompts[order[s]].max_new_tokens
            idx = [i for i in order[s : s + per_batch] if prompts[i].max_new_tokens == budget]
            s += len(idx)
            width = max(len(ids[i]) for i in idx)
            input_ids = torch.tensor([[pad] * (width - len(ids[i])) + ids[i] for i in idx], device=self.model.device)
            mask = torch.tensor([[0] * (width - len(ids[i])) + [1] * len(ids[i]) for i in idx], device=self.model.device)
            stops = [prompts[i].stop for i in idx for _ in range(k)]
            criteria = [_StopStrings(self.tok, width, stops)] if any(stops) else None
            eos = self.eos_ids(any(prompts[i].messages is not None for i in idx))
            with torch.inference_mode():
                gen = self.model.generate(
                    input_ids=input_ids, attention_mask=mask, max_new_tokens=budget, num_return_sequences=k,
                    use_cache=True, pad_token_id=pad, eos_token_id=eos, stopping_criteria=criteria, **kwargs)
            new = gen[:, width:].tolist()
            for j, i in enumerate(idx):
                out[i] = [cut_at_stop(self._decode(new[j * k + r], eos), prompts[i].stop) for r in range(k)]
            if on_batch:
                on_batch(len(idx))
        return out

    def _decode(self, ids: list[int], eos: list[int]) -> str:
        end = next((t for t, x in enumerate(ids) if x in eos), len(ids))
        return self.tok.decode(ids[:end], skip_special_tokens=True)


class _StopStrings:
    """Stop a row once its new text contains one of its stop strings (each row has its own)."""

    def __init__(self, tokenizer, start: int, stops: list[tuple[str, ...]]):
        self.tok, self.start, self.stops = tokenizer, start, stops

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        texts = self.tok.batch_decode(input_ids[:, self.start :], skip_special_tokens=False)
        done = [any(s in t for s in stops) for t, stops in zip(texts, self.stops)]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)
