"""The `Skill` dataclass, the skill registry and name/path resolution."""

from __future__ import annotations

import random
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
    """A skill: an item source split into train/eval partitions, prompt formats, a verifier, and hooks.

    `items(split, n, seed)` yields distinct items of that partition; the eval partition is
    disjoint from the train partition by construction (`is_eval`). The hooks carry what is
    task-specific, so data and ladder code never special-case a skill:

    - `problem(prompt)`: the item a prompt (text, hand-templated text or messages) asks about, whatever its
      wording, or None; decontamination and curation use it (`eval_item_of`, a record's missing answer);
    - `wrong(item, gold, rng, others)`: candidate wrong completions of the answer's type, nearest first;
      `wrong_answer` keeps the first the verifier refuses (near-miss pairs, `corrupt`, the noise step);
    - `features(item)`: difficulty buckets for the RL diversity report;
    - `fields(item)`: what a written record must carry for the verifier to check it again (tests, schema).
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
    verifier: str = ""  # the spec of its usual verifier (`numeric`, `python-tests`), for what it needs
    spec: str = ""  # how to name this skill again: `mul`, `mul:<param>=<value>`, `tasks.jsonl:code`
    problem: Callable[[str | list], Item | None] | None = None
    wrong: Callable[[Item, str, random.Random, list[str]], Iterator[str]] | None = None
    features: Callable[[Item], dict[str, str]] | None = None
    fields: Callable[[Item], dict] = lambda it: {}
    canonical: Callable[[Item], str] | None = None  # one key for one problem however asked (a*b and b*a)
    normalize: bool = True  # curate's normalize step may touch its texts (code: False)

    def score(self, completion: str, item: Item) -> Verdict:
        return self.verify(completion, item.answer, **item.data)

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


SKILLS: Registry[Callable[..., Skill]] = Registry("skill")


def skill(name: str):
    """Register a skill factory: `@skill("mul") def mul(**params) -> Skill` (params come from the spec, `mul:k=v`)."""
    return SKILLS.register(name)


@dataclass(frozen=True)
class Spec:
    """A parsed skill spec: `mul`, `mul:<param>=<value>`, `tasks.jsonl`, `tasks.jsonl:code`, `tasks.jsonl:code:eval_share=0.3`."""

    base: str  # a built-in name or a JSONL path
    name: str | None  # the skill of a JSONL file of several
    params: tuple[tuple[str, object], ...]
    file: bool

    @property
    def path(self) -> Path:
        return Path(self.base)


def parse_spec(spec: str) -> Spec:
    """Split a skill spec into base, skill name and `key=value` parameters (values read as YAML scalars)."""
    import yaml

    parts = spec.split(":")
    cut = next((i for i in range(len(parts), 0, -1)  # the longest prefix that is a JSONL path (it may hold a colon)
                if (b := ":".join(parts[:i])).endswith(".jsonl") or Path(b).is_file()), 1)
    base, rest = ":".join(parts[:cut]), parts[cut:]
    is_file = base.endswith(".jsonl") or Path(base).is_file()
    name, params = None, []
    for part in rest:
        if "=" in part:
            for kv in part.split(","):
                k, _, v = kv.partition("=")
                if not k.strip() or not v.strip():
                    raise ValueError(f"skill {spec!r}: parameter {kv!r} is not key=value")
                params.append((k.strip(), yaml.safe_load(v.strip())))
        elif part and is_file and name is None:
            name = part
        else:
            raise ValueError(f"skill {spec!r}: {part!r} is neither a skill of a JSONL file nor key=value")
    return Spec(base, name, tuple(params), is_file)


def jsonl_spec(spec: str) -> tuple[Path, str | None] | None:
    """(file, skill name or None) for a JSONL spec (`tasks.jsonl` or `tasks.jsonl:code`); None for a built-in name."""
    try:
        p = parse_spec(spec)
    except ValueError:
        return None
    return (p.path, p.name) if p.file else None


def _from_jsonl(sp: Spec) -> list[Skill]:
    from dataladder.registry import did_you_mean
    from dataladder.skills.jsonl import load_jsonl_skills

    skills = load_jsonl_skills(sp.path, **_jsonl_params(sp))
    if sp.name is None:
        return skills
    picked = [s for s in skills if s.name == sp.name]
    if not picked:
        raise ValueError(f"{sp.path}: " + did_you_mean("skill", sp.name, [s.name for s in skills]))
    return picked


def _jsonl_params(sp: Spec) -> dict:
    from dataladder.registry import did_you_mean

    allowed = {"eval_share": float, "normalize": bool}
    out = {}
    for k, v in sp.params:
        if k not in allowed:
            raise ValueError(f"skill {sp.base}: " + did_you_mean("parameter", k, list(allowed)))
        if k == "eval_share" and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1):
            raise ValueError(f"skill {sp.base}: eval_share must be a number in (0, 1], not {v!r}")
        if k == "normalize" and not isinstance(v, bool):
            raise ValueError(f"skill {sp.base}: normalize must be true or false, not {v!r}")
        out[k] = v
    return out


def _builtin(sp: Spec, spec: str) -> Skill:
    import inspect

    from dataladder.registry import did_you_mean

    factory = SKILLS.get(sp.base)
    allowed = list(inspect.signature(factory).parameters)
    kwargs = {}
    for k, v in sp.params:
        if k not in allowed:
            raise ValueError(f"skill {spec!r}: " + did_you_mean(f"parameter of {sp.base}", k, allowed))
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"skill {spec!r}: {k} must be a positive integer, not {v!r}")
        kwargs[k] = v
    sk = factory(**kwargs)
    sk.spec = sp.base + "".join(f":{k}={v}" for k, v in sp.params)
    return sk


def get_skill(spec: str, **params) -> Skill:
    """A built-in skill (`mul`, `mul:<param>=<value>`, or `get_skill("mul", <param>=<value>)`), or one user skill from JSONL:
    `file.jsonl` (a file of one skill) or `file.jsonl:name` (the skill `name` of a file that holds several)."""
    if params:
        spec += ":" + ",".join(f"{k}={v}" for k, v in params.items())
    sp = parse_spec(spec)
    if sp.file:
        skills = _from_jsonl(sp)
        if len(skills) != 1:
            names = [s.name for s in skills]
            raise ValueError(f"{spec}: holds {len(skills)} skills ({', '.join(names)}); name one, "
                             f"e.g. {sp.base}:{names[0]}")
        return skills[0]
    return _builtin(sp, spec)


def resolve_skills(specs: list[str]) -> list[Skill]:
    """Built-in specs and JSONL specs (`file.jsonl`: all its skills; `file.jsonl:name`: one)."""
    out: list[Skill] = []
    for spec in specs:
        sp = parse_spec(spec)
        out.extend(_from_jsonl(sp) if sp.file else [_builtin(sp, spec)])
    return out


load_skills = resolve_skills


def train_skill(spec: str, prompts_file: str | None = None) -> Skill:
    """The skill of `spec`, with a prompts file's items added to its train partition (`jsonl.with_train_file`)."""
    sk = get_skill(spec)
    if prompts_file:
        from dataladder.skills.jsonl import with_train_file

        sk = with_train_file(sk, Path(prompts_file))
    return sk


def skill_key(spec: str, prompts_file: str | None = None) -> str | dict:
    """A skill's identity in run-store keys: the spec, with the content hash of its JSONL file and prompts file (an
    edited item is other data, so other runs)."""
    import hashlib

    js = jsonl_spec(spec)
    if js is None and not prompts_file:
        return spec
    files = [js[0]] if js is not None else []
    files += [Path(prompts_file)] if prompts_file else []
    return {"spec": spec, "files": [hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in files]}
