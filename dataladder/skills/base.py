"""The `Skill` dataclass and the skill registry (specs and files are resolved in `spec.py`)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Iterator

from dataladder.core.registry import Registry
from dataladder.verify import Verdict, Verifier


@dataclass(frozen=True)
class Item:
    """One problem of a skill, independent of how it is asked."""

    skill: str
    key: str  # canonical problem text, e.g. "12+7"; identifies the item across formats
    answer: str
    data: dict = field(default_factory=dict, compare=False, hash=False)  # operands or user fields


@dataclass(frozen=True)
class Format:
    """How an item is asked (`prompt`) and answered (`completion`) in one prompt style."""

    prompt: Callable[[Item], str]
    completion: Callable[[Item], str]
    stop: tuple[str, ...] = ()  # where a completion in this format ends (arithmetic: the first newline)
    chat: bool = False  # asks for the model's chat template even for a raw prompt (--chat-template auto)


@dataclass
class Skill:
    """A skill: an item source split into train/eval partitions, prompt formats, a verifier, and hooks.

    `items(split, n, seed)` yields distinct items of that partition; the eval partition is
    disjoint from the train partition by construction (`is_eval`). The hooks carry what is
    task-specific, so data and ladder code never special-case a skill:

    - `problem(prompt)`: the item a prompt (text, hand-templated text or messages) asks about, whatever its
      wording, or None; decontamination and curation use it (`eval_item_of`, a record's missing answer);
    - `wrong(item, gold, rng, others)`: candidate wrong completions of the answer's type, nearest first;
      `wrong_answer` keeps the first the verifier refuses (near-miss pairs, `corrupt`, the noise step);
    - `features(item)`: difficulty buckets for the RL diversity report;
    - `fields(item)`: what a written record must carry for the verifier to check it again (tests, schema);
    - `agrees(completion, item)`: whether a completion the verifier accepts agrees with the item's gold answer
      where the verifier checks only its shape (json-schema: the same JSON); `gold_verdict` asks it.
    """

    name: str
    items: Callable[[str, int, int], list[Item]]
    formats: dict[str, Format]
    verify: Verifier
    is_eval: Callable[[Item], bool]
    prerequisites: tuple[str, ...] = ()
    max_new_tokens: int | None = 12  # None: the longest of `references` in tokens, plus a margin
    references: tuple[str, ...] = ()  # gold completions, for the default token budget
    native_format: str = "native"
    target_format: str = "exam"  # the default target of post-training (`--target-format` overrides)
    description: str = ""
    finite: bool = False  # a fixed set of items (a JSONL file) rather than a generator
    verifier: str = ""  # the spec its items share (`numeric`, `python-tests`), or `per item (regex)` (`PER_ITEM`)
    spec: str = ""  # how to name this skill again: `mul`, `mul:<param>=<value>`, `tasks.jsonl:code`
    problem: Callable[[str | list], Item | None] | None = None
    wrong: Callable[[Item, str, random.Random, list[str]], Iterator[str]] | None = None
    features: Callable[[Item], dict[str, str]] | None = None
    fields: Callable[[Item], dict] = lambda it: {}
    canonical: Callable[[Item], str] | None = None  # one key for one problem however asked (a*b and b*a)
    normalize: bool = True  # curate's normalize step may touch its texts (code: False)
    agrees: Callable[[str, Item], Verdict] | None = None

    def score(self, completion: str, item: Item) -> Verdict:
        return self.verify(completion, item.answer, **item.data)

    def score_lenient(self, completion: str, item: Item, strict: Verdict | None = None) -> Verdict:
        """The format-lenient reading of `completion` (`verify.lenient` of the item's verifier): ok where `score` is,
        or where the answer is there in another form (the gold number amid prose, the first JSON object); `score`'s
        verdict where no looser reading is known. `strict`: `score`'s verdict when the caller has it already."""
        from dataladder.verify import lenient

        strict = strict if strict is not None else self.score(completion, item)
        spec = item.data.get("verifier") or self.verifier
        if strict.ok or not spec:
            return strict
        try:
            loose = getattr(lenient(spec), "loose", None)
        except ValueError:  # no one spec to read leniently (a skill whose items disagree, each naming none)
            return strict
        if loose is None:
            return strict
        data = {k: v for k, v in item.data.items() if k not in ("messages", "prompt", "verifier")}
        v = loose(completion, item.answer, **data)
        return strict if v is None else v

    @property
    def per_item(self) -> bool:
        """Its items disagree on the verifier: only an item's own one can judge a completion (`verify` alone refuses
        with `no_item_verifier`)."""
        return self.verifier.startswith(PER_ITEM)

    def gold_verdict(self, completion: str, item: Item) -> Verdict:
        """Whether a completion that `score` accepts also agrees with the item's gold answer (the `agrees` hook);
        Verdict(True) where the skill has no such hook or the item no gold answer."""
        return self.agrees(completion, item) if self.agrees is not None else Verdict(True)

    def check_gold(self, fmt: str | None = None) -> list[tuple[Item, str, Verdict]]:
        """(item, gold completion, verdict) of every eval item whose gold completion fails the verifier."""
        bad = []
        for name in [fmt] if fmt else list(self.formats):
            f = self.formats[name]
            every = self.items("eval", 1 << 30, 0) + self.items("train", 1 << 30, 0) if self.finite else \
                self.items("eval", 200, 0)
            for it in every:
                if it.data.get("format", name) != name:
                    continue
                v = self.score(f.completion(it), it)
                if not v.ok:
                    bad.append((it, f.completion(it), v))
        return bad

    def example(self, fmt: str, item: Item) -> dict:
        """`item` in format `fmt` as a TRL training record: `prompt` (text, or the item's messages: TRL's
        conversational form), `completion` (the gold answer) and `chat` when the format asks for the template."""
        f = self.formats[fmt]
        msgs = item.data.get("messages")
        rec = {"prompt": list(msgs) if msgs is not None else f.prompt(item), "completion": f.completion(item)}
        if f.chat:
            rec["chat"] = True
        return rec

    def records(self, split: str, n: int, seed: int, fmt: str | None = None) -> Iterator[dict]:
        """TRL records for up to `n` items of `split` in format `fmt`, with what the verifier needs to check them."""
        fmt = fmt or self.target_format
        for it in self.items(split, n, seed):
            if self.formats[fmt].completion(it) is None:  # a prompt without a gold answer (a prompts file)
                continue
            yield {**self.example(fmt, it), "skill": self.spec or self.name, "answer": it.answer, **self.fields(it)}

    def key_of(self, item: Item) -> str:
        """The item's problem key: the same problem asked another way has the same key."""
        return self.canonical(item) if self.canonical is not None else item.key

    def problem_of(self, prompt: str | list) -> Item | None:
        return self.problem(prompt) if self.problem is not None else None

    def eval_item_of(self, prompt: str | list) -> Item | None:
        """The eval item `prompt` asks about (a leak), or None."""
        it = self.problem_of(prompt)
        return it if it is not None and self.is_eval(it) else None

    def wrong_answer(self, item: Item, fmt: str, rng: random.Random, others: list[str] = ()) -> str | None:
        """A plausible wrong completion of `item` in `fmt` that the verifier refuses (nearest first), or None."""
        return self.wrong_for(item, self.formats[fmt].completion(item), rng, others)

    def wrong_for(self, item: Item, gold: str, rng: random.Random, others: list[str] = ()) -> str | None:
        """The first candidate of the `wrong` hook (default: `text.wrong_candidates`) that the verifier refuses."""
        from dataladder.skills.text import wrong_candidates

        cands = self.wrong(item, gold, rng, list(others)) if self.wrong else wrong_candidates(gold, rng, list(others))
        for i, c in enumerate(cands):
            if i >= 40:
                break
            if c.strip() and c != gold and not self.score(c, item).ok:
                return c
        return None

    def item_features(self, item: Item, fmt: str) -> dict[str, str]:
        from dataladder.skills.text import features

        if self.features is not None:
            return self.features(item)
        return features(self.formats[fmt].prompt(item), item.answer)


def no_train_items(skill: Skill) -> str:
    """The one-line error for a skill with an empty train split."""
    import re

    spec = re.sub(r":eval_share=[^:]*", "", skill.spec or skill.name) + ":eval_share=0.5"
    return (f"skill {skill.name}: no train items (its file marks every item `split: eval`, or its spec sets "
            f"eval_share=1); mark some items `\"split\": \"train\"`, or split unmarked items by hash, e.g. {spec}")


PER_ITEM = "per item"  # `Skill.verifier` of a skill whose items disagree on it: `per item (regex)`
NO_ITEM_VERIFIER = Verdict(False, "no_item_verifier")

SKILLS: Registry[Callable[..., Skill]] = Registry("skill")


def skill(name: str):
    """Register a skill factory: `@skill("mul") def mul(**params) -> Skill` (params come from the spec, `mul:k=v`)."""
    return SKILLS.register(name)
