"""Prompts as the model sees them: chat templates, special tokens and end-of-turn ids, one way for eval and training.

    policy = ChatPolicy.for_tokenizer(tok, mode="auto", system_prompt=None)
    p = policy.prompt("Capital of Italy?", messages=None, wants_chat=False, stop=("\\n",), max_new_tokens=8)
    ids = encode_prompt(tok, p)                          # what generation feeds the model
    prompt_ids, completion_ids = encode_example(tok, p, "Rome")   # what SFT trains on: the same prompt ids

A `Prompt` is either raw text (tokenized with the tokenizer's own special tokens, e.g. BOS) or a
conversation (rendered by `apply_chat_template(..., add_generation_prompt=True)` and tokenized
*without* adding special tokens again, so a template that writes BOS gets exactly one). Training
appends what the template writes after the assistant's content (`<|im_end|>\\n` for ChatML), so the
end-of-turn token is learned; a raw prompt's completion ends with the tokenizer's EOS, as TRL's
SFTTrainer does for prompt/completion data.

`--chat-template auto|on|off`: `auto` uses the template when the tokenizer has one and the item is
conversational (`messages`) or its format asks for it (a JSONL skill's `chat` format); `on` renders
every prompt as a user turn (an error if there is no template); `off` never uses it. `--system-prompt`
adds a system turn to every conversation that has none.

Without the template (a base model has none, or `off`), such a prompt gets the *QA frame* (`qa_text`),
plain text a base model continues: a system message as the first line, then `Question: …` / `Answer: …`
blocks, ending in `Answer:`. The completion follows one space (`" " + answer`, then the tokenizer's EOS
in training; generation strips that space), and generation stops at the frame's next turn
(`QA_STOP`: `\nQuestion:`). `Prompt.frame` names the rendering: chat-template | qa-frame | raw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ChatMode = Literal["auto", "on", "off"]
Frame = Literal["chat-template", "qa-frame", "raw"]
QA_STOP = ("\n\nQuestion:", "\nQuestion:")  # the frame's next turn (the longer first: no blank line is left)


@dataclass(frozen=True)
class Prompt:
    """One prompt: raw `text`, or a conversation in `messages`; and where its generation ends."""

    text: str | None = None
    messages: tuple[dict, ...] | None = None
    stop: tuple[str, ...] = ()
    max_new_tokens: int = 64
    qa: bool = False  # `text` is a conversation in the QA frame: the answer follows one space

    def __post_init__(self):
        if (self.text is None) == (self.messages is None):
            raise ValueError("a Prompt is either text or messages")
        if self.qa and self.messages is not None:
            raise ValueError("a QA-framed Prompt is text")

    @property
    def frame(self) -> Frame:
        return "chat-template" if self.messages is not None else "qa-frame" if self.qa else "raw"

    def answer(self, generated: str) -> str:
        """The completion as verifiers see it: a QA-framed prompt's answer without the space the frame puts first."""
        return generated[1:] if self.qa and generated.startswith(" ") else generated

    def as_messages(self) -> list[dict]:
        return list(self.messages) if self.messages is not None else [{"role": "user", "content": self.text}]


def plain_text(messages: list[dict]) -> str:
    """A conversation as `role: content` lines, then `assistant:` (a text key of an item, not a prompt)."""
    return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"


def qa_text(messages: list[dict]) -> str:
    """A conversation in the QA frame, for a model without a chat template: the system message as the first line,
    `Question: {user}` / `Answer: {assistant}` blocks separated by a blank line, ending in `Answer:`."""
    heads = {"user": "Question:", "assistant": "Answer:"}
    out = []
    for m in messages:
        role, content = m["role"], m["content"]
        if role == "system":
            out.append(f"{content}\n\n")
        else:
            out.append(f"{heads.get(role, role.capitalize() + ':')} {content}\n" + ("\n" if role == "assistant" else ""))
    return "".join(out) + "Answer:"


@dataclass(frozen=True)
class ChatPolicy:
    """When prompts go through the chat template (see the module docstring)."""

    mode: ChatMode = "auto"
    system_prompt: str | None = None
    has_template: bool = False
    extra_stop: tuple[str, ...] = field(default=())

    @classmethod
    def for_tokenizer(cls, tokenizer, mode: ChatMode = "auto", system_prompt: str | None = None,
                      extra_stop: tuple[str, ...] = ()) -> "ChatPolicy":
        has = bool(getattr(tokenizer, "chat_template", None))
        if mode == "on" and not has:
            name = getattr(tokenizer, "name_or_path", "") or "the model"
            raise ValueError(f"--chat-template on: the tokenizer of {name} has no chat template")
        return cls(mode, system_prompt, has, tuple(extra_stop))

    def frame(self, conversational: bool, wants_chat: bool) -> Frame:
        """How an item is rendered: the chat template, the QA frame (a conversation without the template) or raw."""
        if self.has_template and self.mode != "off" and (self.mode == "on" or conversational or wants_chat):
            return "chat-template"
        return "qa-frame" if conversational or wants_chat else "raw"

    def prompt(self, text: str | None, messages: list[dict] | None = None, wants_chat: bool = False,
               stop: tuple[str, ...] = (), max_new_tokens: int = 64) -> Prompt:
        """The Prompt for an item given as raw `text` or as `messages` (the turns before the answer)."""
        frame = self.frame(messages is not None, wants_chat)
        if frame == "raw":
            return Prompt(text=text, stop=tuple(dict.fromkeys(tuple(stop) + self.extra_stop)),
                          max_new_tokens=max_new_tokens)
        msgs = list(messages) if messages is not None else [{"role": "user", "content": text}]
        if self.system_prompt and msgs[0]["role"] != "system":
            msgs = [{"role": "system", "content": self.system_prompt}] + msgs
        if frame == "chat-template":
            return Prompt(messages=tuple(msgs), stop=tuple(dict.fromkeys(tuple(stop) + self.extra_stop)),
                          max_new_tokens=max_new_tokens)
        return Prompt(text=qa_text(msgs), stop=tuple(dict.fromkeys(tuple(stop) + QA_STOP + self.extra_stop)),
                      max_new_tokens=max_new_tokens, qa=True)


def render(tokenizer, p: Prompt) -> str:
    """The prompt text the model is given (the chat template applied to a conversation)."""
    if p.messages is None:
        return p.text
    return tokenizer.apply_chat_template(list(p.messages), add_generation_prompt=True, tokenize=False)


def encode_prompt(tokenizer, p: Prompt) -> list[int]:
    """Prompt token ids, exactly as generation and training both see them."""
    if p.messages is None:  # a raw prompt gets the tokenizer's special tokens, unless it already starts with BOS
        bos = getattr(tokenizer, "bos_token", None)
        return list(tokenizer(p.text, add_special_tokens=not (bos and p.text.startswith(bos)))["input_ids"])
    return list(tokenizer(render(tokenizer, p), add_special_tokens=False)["input_ids"])


def prerendered(tokenizer, text: str) -> bool:
    """True when a raw prompt already carries the tokenizer's special tokens (a chat template applied by hand)."""
    specials = [t for t in getattr(tokenizer, "all_special_tokens", []) if t not in (tokenizer.pad_token, tokenizer.unk_token)]
    return any(t in text for t in specials)


def completion_suffix(tokenizer, p: Prompt, completion: str) -> str:
    """What follows the rendered prompt when the assistant answers `completion` (its end-of-turn included)."""
    head = render(tokenizer, p)
    full = tokenizer.apply_chat_template(list(p.messages) + [{"role": "assistant", "content": completion}],
                                         tokenize=False)
    if full.startswith(head):
        return full[len(head):]
    # templates that rewrite earlier turns (e.g. dropping reasoning) do not extend the prompt: answer + end of turn
    return completion + end_of_turn_text(tokenizer)


def encode_example(tokenizer, p: Prompt, completion: str) -> tuple[list[int], list[int]]:
    """(prompt ids, completion ids) of one training example; the loss goes on the completion ids."""
    prompt_ids = encode_prompt(tokenizer, p)
    if p.messages is None:  # raw or QA-framed: the completion (after the frame's space), then EOS
        c = list(tokenizer((" " if p.qa else "") + completion, add_special_tokens=False)["input_ids"])
        return prompt_ids, c + ([tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else [])
    return prompt_ids, list(tokenizer(completion_suffix(tokenizer, p, completion), add_special_tokens=False)["input_ids"])


def end_of_turn_text(tokenizer) -> str:
    """What the chat template writes after an assistant turn's content, e.g. `<|im_end|>\\n` ('' without a template)."""
    if not getattr(tokenizer, "chat_template", None):
        return ""
    marker = "\x00dataladder\x00"
    try:
        text = tokenizer.apply_chat_template([{"role": "user", "content": "q"}, {"role": "assistant", "content": marker}],
                                             tokenize=False)
    except Exception:  # a template that insists on other roles: no end-of-turn token to learn from it
        return ""
    return text.split(marker, 1)[1] if marker in text else ""


def end_of_turn_ids(tokenizer) -> list[int]:
    """The special token(s) that close an assistant turn in the chat template (e.g. `<|im_end|>`, `<|eot_id|>`)."""
    tail = end_of_turn_text(tokenizer)
    if not tail:
        return []
    specials = set(getattr(tokenizer, "all_special_ids", []) or [])
    ids = tokenizer(tail, add_special_tokens=False)["input_ids"]
    return [i for i in ids[:1] if i in specials]


def stop_token_ids(tokenizer, generation_config=None, chat: bool = True) -> list[int]:
    """Every id that ends a generation: the tokenizer's EOS, each id of `generation_config.eos_token_id`,
    and (when prompts use the chat template) the template's end-of-turn token."""
    ids: list[int] = []
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    eos = getattr(generation_config, "eos_token_id", None)
    ids += [eos] if isinstance(eos, int) else list(eos or [])
    if chat:
        ids += end_of_turn_ids(tokenizer)
    return list(dict.fromkeys(ids))
