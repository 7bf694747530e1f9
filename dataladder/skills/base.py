"""The `Skill` dataclass, the skill registry and name/path resolution."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from dataladder.registry import Registry
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
    """A skill: an item source split into train/eval partitions, prompt formats and a verifier.

    `items(split, n, seed)` yields distinct items of that partition; the eval partition is
    disjoint from the train partition by construction (`is_eval`).
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
    target_format: str = "exam"
    description: str = ""
    finite: bool = False  # a fixed set of items (a JSONL file) rather than a generator

    def score(self, completion: str, item: Item) -> Verdict:
        return self.verify(completion, item.answer, **item.data)

    def check_gold(self, fmt: str | None = None) -> list[tuple[Item, str, Verdict]]:
        """(item, gold completion, verdict) of every eval item whose gold completion fails the verifier."""
        bad = []
        for name in [fmt] if fmt else list(self.formats):
            f = self.formats[name]
            for it in self.items("eval", 1 << 30, 0) if self.finite else self.items("eval", 200, 0):
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
        """TRL prompt/completion records for `n` items of `split` in format `fmt`."""
        f = self.formats[fmt or self.target_format]
        for it in self.items(split, n, seed):
            yield {"prompt": f.prompt(it), "completion": f.completion(it), "skill": self.name, "answer": it.answer}


SKILLS: Registry[Callable[..., Skill]] = Registry("skill")


def skill(name: str):
    """Register a skill factory: `@skill("mul") def mul(digits=2) -> Skill`."""
    return SKILLS.register(name)


def jsonl_spec(spec: str) -> tuple[Path, str | None] | None:
    """(file, skill name or None) for a JSONL spec (`tasks.jsonl` or `tasks.jsonl:code`); None for a built-in name."""
    if spec.endswith(".jsonl") or Path(spec).is_file():
        return Path(spec), None
    head, sep, name = spec.rpartition(":")
    if sep and name and (head.endswith(".jsonl") or Path(head).is_file()):
        return Path(head), name
    return None


def _from_jsonl(path: Path, name: str | None) -> list[Skill]:
    from dataladder.registry import did_you_mean
    from dataladder.skills.jsonl import load_jsonl_skills

    skills = load_jsonl_skills(path)
    if name is None:
        return skills
    picked = [s for s in skills if s.name == name]
    if not picked:
        raise ValueError(f"{path}: " + did_you_mean("skill", name, [s.name for s in skills]))
    return picked


def get_skill(name_or_path: str, **kwargs) -> Skill:
    """A built-in skill by name, or one user skill from JSONL: `file.jsonl` (a file of one skill) or
    `file.jsonl:name` (the skill `name` of a file that holds several)."""
    spec = jsonl_spec(name_or_path)
    if spec is not None:
        skills = _from_jsonl(*spec)
        if len(skills) != 1:
            names = [s.name for s in skills]
            raise ValueError(f"{name_or_path}: holds {len(skills)} skills ({', '.join(names)}); name one, "
                             f"e.g. {name_or_path}:{names[0]}")
        return skills[0]
    return SKILLS.get(name_or_path)(**kwargs)


def resolve_skills(specs: list[str], digits: int | None = None) -> list[Skill]:
    """Built-in names and JSONL specs (`file.jsonl`: all its skills; `file.jsonl:name`: one). `digits` sets the
    built-in arithmetic skills' operand size, except `mixed`, whose expressions keep their one-digit default."""
    out: list[Skill] = []
    for spec in specs:
        if spec in SKILLS:
            out.append(SKILLS.get(spec)(**({} if digits is None or spec == "mixed" else {"digits": digits})))
        else:
            out.extend(load_skills([spec]))
    return out


def load_skills(specs: list[str], **kwargs) -> list[Skill]:
    """Resolve a list of skill names and JSONL specs; a JSONL file may hold several skills."""
    out: list[Skill] = []
    for spec in specs:
        js = jsonl_spec(spec)
        if js is not None:
            out.extend(_from_jsonl(*js))
        else:
            out.append(SKILLS.get(spec)(**kwargs))
    return out
