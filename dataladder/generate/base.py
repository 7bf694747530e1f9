"""The generation seam: everything that turns prompts into completions goes through a `Generator`.

    gen = make_generator(GenOptions(), model=model, tokenizer=tok)        # the in-process `hf` backend
    prompts = [gen.prompt_for(skill, "exam", it) for it in items]
    texts = gen.greedy(prompts)                                           # one completion per prompt
    groups = gen.sample(prompts, k=8, temperature=1.0, seed=0)            # k per prompt

The probe, every rung's evaluation, `synth --source self|endpoint`, preference-pair sources and
RL's zero-signal check use it, so they all see what the model really says. Stopping is the task's:
a completion ends at an end-of-turn or EOS id (the backend's), at a stop string of the item's format
(the arithmetic formats stop at a newline; a JSONL item may carry `stop`), at `--stop`, or after
`max_new_tokens` (the item's, else `--max-new-tokens`, else the skill's; a JSONL skill's default is
its longest gold answer in tokens plus a margin). The returned text is cut before the first stop string.
A conversation for a model without a chat template is in the QA frame (`generate.chat.qa_text`): its
prompt carries the frame's next turn as stop strings (`QA_STOP`), and the answer loses the one space the
frame puts before it (`Prompt.answer`). `gen.prompt_frame` names the frame the prompts made so far used.

Backends are registered by name (`BACKENDS`; `dataladder.generate.make_generator` picks one), one file each: `hf` (transformers `generate`, in
process) and `endpoint` (any OpenAI-compatible server). An in-process vLLM backend would be one more
file, `generate/vllm.py`, registering `vllm` and implementing `_complete(prompts, k, sampling,
on_batch)` with `LLM.generate(prompt_token_ids=[encode_prompt(tok, p) ...], SamplingParams(n=k,
temperature, top_p, seed, max_tokens=p.max_new_tokens, stop=list(p.stop), stop_token_ids=
stop_token_ids(tok, ...)))`, plus `render_text` and `count_tokens` from the tokenizer, as `hf` does.
TRL's own vLLM path for GRPO rollouts is separate: `dataladder rl --hp use_vllm=true vllm_mode=colocate`
passes TRL's options through unchanged.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Callable, Literal

from pydantic import BaseModel, Field, field_validator

from dataladder.generate.chat import ChatMode, ChatPolicy, Prompt
from dataladder.core.registry import Registry

if TYPE_CHECKING:
    from dataladder.skills.base import Item, Skill


class PromptOptions(BaseModel, extra="forbid", allow_inf_nan=False):
    """How prompts are rendered and where generation ends: the same for eval and training (ladder configs
    inherit these fields; CLI options of the same names)."""

    chat_template: ChatMode = Field("auto", description="auto (conversational items and chat formats) | on | off")
    system_prompt: str | None = Field(None, description="a system turn added to every conversation without one")
    stop: list[str] = Field(default_factory=list, description="extra stop strings, on top of each format's own")
    max_new_tokens: int | None = Field(None, gt=0, le=1_000_000, description="most new tokens per completion (default: the item's, "
                                                               "else the skill's)")

    @field_validator("chat_template", mode="before")
    @classmethod
    def _yaml_on_off(cls, v):  # YAML reads a bare on/off as true/false
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v

    def prompt_key(self) -> dict | None:
        """What of these options changes a prompt or a completion (for run-store keys); None when all are defaults."""
        d = PromptOptions.model_validate(self.model_dump(include=set(PromptOptions.model_fields))).model_dump()
        return None if d == PromptOptions().model_dump() else d

    def gen_options(self, **backend) -> "GenOptions":
        return GenOptions(**self.model_dump(include=set(PromptOptions.model_fields)), **backend)


ENDPOINT_TIMEOUT = 180.0  # a request's tries together: a stuck server is one line after 3 minutes, not 8


class GenOptions(PromptOptions):
    """PromptOptions and the backend that generates."""

    backend: Literal["hf", "endpoint"] = Field("hf", description="hf (transformers, in process) | endpoint "
                                                                 "(an OpenAI-compatible server)")
    endpoint_url: str | None = Field(None, description="endpoint: base URL, e.g. http://127.0.0.1:8000/v1")
    endpoint_model: str | None = Field(None, description="endpoint: the served model's name")
    api_key: str | None = Field(None, exclude=True, repr=False, description="endpoint: API key (default "
                                                                            "$OPENAI_API_KEY)")
    endpoint_api: Literal["chat", "completions"] = Field("chat", description="endpoint: /chat/completions (the "
                                                                             "server's template) or /completions")
    concurrency: int = Field(8, gt=0, description="endpoint: requests in flight")
    retries: int = Field(3, ge=0, description="endpoint: retries of a failed request, with exponential backoff")
    timeout: float = Field(120.0, gt=0, description="endpoint: seconds per try of a request")
    endpoint_timeout: float = Field(ENDPOINT_TIMEOUT, gt=0, le=86_400, description="endpoint: seconds for all tries of "
                                                                                  "a request together")


BACKENDS: Registry[type["Generator"]] = Registry("generation backend")


class Generator(ABC):
    """Greedy and sampled completions for a list of `Prompt`s; a backend implements `_complete`."""

    name = "base"

    def __init__(self, options: GenOptions, policy: ChatPolicy):
        self.options, self.policy = options, policy
        self._budgets: dict[str, int] = {}
        self._frames: set[str] = set()

    # what a backend implements
    @abstractmethod
    def _complete(self, prompts: list[Prompt], k: int, sampling: dict | None,
                  on_batch: Callable[[int], None] | None) -> list[list[str]]:
        """`k` completions per prompt (greedy when `sampling` is None), each cut before its first stop string."""

    @abstractmethod
    def render_text(self, p: Prompt) -> str:
        """The prompt as text, as the model receives it (for samples.jsonl)."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens of `text` (a backend without a tokenizer may over-count)."""

    # the seam every caller uses
    def greedy(self, prompts: list[Prompt], on_batch: Callable[[int], None] | None = None) -> list[str]:
        return [p.answer(c[0]) for p, c in zip(prompts, self._complete(prompts, 1, None, on_batch))]

    def sample(self, prompts: list[Prompt], k: int, temperature: float = 1.0, top_p: float = 1.0,
               seed: int = 0) -> list[list[str]]:
        """`k` sampled completions per prompt, as `out[prompt_index][j]`."""
        out = self._complete(prompts, k, {"temperature": temperature, "top_p": top_p, "seed": seed}, None)
        return [[p.answer(t) for t in c] for p, c in zip(prompts, out)]

    @property
    def prompt_frame(self) -> str:
        """The frame of the prompts made so far: chat-template or qa-frame when any conversation was rendered
        so, else raw (probe.json's `prompt_frame`)."""
        return next((f for f in ("chat-template", "qa-frame") if f in self._frames), "raw")

    def prompt_for(self, skill: "Skill", fmt: str, item: "Item") -> Prompt:
        """The Prompt of `item` in format `fmt`: chat template, stop strings and token budget resolved."""
        f = skill.formats[fmt]
        messages = item.data.get("messages")
        stop = tuple(f.stop) + tuple(item.data.get("stop") or ())  # the policy adds --stop (and the frame's)
        p = self.policy.prompt(f.prompt(item) if messages is None else None, messages, wants_chat=f.chat,
                               stop=stop, max_new_tokens=self.budget(skill, item))
        self._frames.add(p.frame)
        return p

    def budget(self, skill: "Skill", item: "Item") -> int:
        """max_new_tokens of one item: the item's own, else --max-new-tokens, else the skill's."""
        own = item.data.get("max_new_tokens")
        if isinstance(own, int) and own > 0:
            return own
        if self.options.max_new_tokens:
            return self.options.max_new_tokens
        if skill.max_new_tokens:
            return skill.max_new_tokens
        if skill.name not in self._budgets:
            longest = max((self.count_tokens(r) for r in skill.references), default=32)
            self._budgets[skill.name] = longest + max(16, math.ceil(longest / 4))
        return self._budgets[skill.name]


def cut_at_stop(text: str, stops: tuple[str, ...]) -> str:
    """`text` before the earliest occurrence of any stop string."""
    cut = len(text)
    for s in stops:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]
