"""User skills from JSONL: one eval item a line, in TRL format plus `skill`.

Each line is an object with `skill` and either `prompt`/`completion` or `messages` (the last
message, from the assistant, is the reference answer). Optional: `verifier` (`exact`,
`numeric`, `contains`, `regex:<pattern>`, `module:function`; default `exact`), `format` (a
prompt-format name, default `default`) and `answer` (what the verifier compares against,
default the completion). Any other field reaches the verifier as a keyword, e.g. `tests` for
`python-tests` or `schema` for `json-schema`. Every item of a file is an eval item.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from dataladder.errors import InputError
from dataladder.skills.base import Format, Item, Skill
from dataladder.verify import Verdict, get_verifier


@lru_cache(maxsize=64)
def _verifier(spec: str):
    return get_verifier(spec)


def _verify(completion: str, answer: str, verifier: str = "exact", **item: object) -> Verdict:
    return _verifier(verifier)(completion, answer, **{k: v for k, v in item.items() if k not in ("messages", "prompt")})


def parse_line(raw: str, file: str, lineno: int) -> dict:
    """Validate one JSONL line into {skill, prompt, completion, answer, verifier, format, messages}."""
    try:
        rec = json.loads(raw)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", file, lineno) from None
    if not isinstance(rec, dict):
        raise InputError("a line must be a JSON object", file, lineno)

    def text(field: str, required: bool = True) -> str | None:
        v = rec.get(field)
        if v is None and not required:
            return None
        if not isinstance(v, str) or (required and not v.strip()):
            raise InputError("missing or not a non-empty string", file, lineno, field)
        return v

    skill = text("skill")
    messages = rec.get("messages")
    if messages is not None:
        if not isinstance(messages, list) or len(messages) < 2:
            raise InputError("must be a list of at least two {role, content} messages", file, lineno, "messages")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise InputError("each message needs string 'role' and 'content'", file, lineno, f"messages[{i}]")
        if messages[-1]["role"] != "assistant":
            raise InputError("the last message must be the assistant's answer", file, lineno, f"messages[{len(messages) - 1}].role")
        prompt, completion = None, messages[-1]["content"]
    elif "prompt" in rec or "completion" in rec:
        prompt, completion = text("prompt"), text("completion")
    else:
        raise InputError("needs 'prompt' and 'completion', or 'messages'", file, lineno, "prompt")
    verifier = text("verifier", required=False) or "exact"
    try:
        _verifier(verifier)
    except ValueError as e:
        raise InputError(str(e), file, lineno, "verifier") from None
    answer = rec.get("answer", completion)
    if not isinstance(answer, (str, int, float)):
        raise InputError("must be a string or a number", file, lineno, "answer")
    return {
        "skill": skill, "prompt": prompt, "messages": messages, "completion": completion,
        "answer": str(answer), "verifier": verifier, "format": text("format", required=False) or "default",
        "extra": {k: v for k, v in rec.items() if k not in _RESERVED},
    }


# fields of a line that the loader itself reads (or sets on the item); all others go to the verifier
_RESERVED = {"skill", "prompt", "completion", "messages", "answer", "verifier", "format", "source", "reference"}


def load_jsonl_skills(path: Path) -> list[Skill]:
    """The skills a JSONL file defines, one per distinct `skill` value, in order of appearance."""
    if not path.is_file():
        raise InputError("no such file", str(path))
    by_skill: dict[str, list[tuple[Item, str | None, list | None]]] = {}
    with path.open(encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            r = parse_line(raw, str(path), lineno)
            key = r["prompt"] if r["prompt"] is not None else json.dumps(r["messages"][:-1])
            item = Item(skill=r["skill"], key=key, answer=r["answer"],
                        data={**r["extra"], "verifier": r["verifier"], "format": r["format"],
                              "source": f"{path}:{lineno}"})
            by_skill.setdefault(r["skill"], []).append((item, r["prompt"], r["messages"], r["completion"]))
    if not by_skill:
        raise InputError("holds no items", str(path))
    return [_make_skill(name, rows) for name, rows in by_skill.items()]


def _make_skill(name: str, rows: list) -> Skill:
    """A Skill over fixed items; message items keep their turns so the probe can apply a chat template."""
    fmt_names = list(dict.fromkeys(it.data["format"] for it, *_ in rows))
    pool = []
    for it, prompt, messages, completion in rows:
        it.data["reference"] = completion
        if messages is not None:
            it.data["messages"] = messages[:-1]
        else:
            it.data["prompt"] = prompt
        pool.append(it)

    def render_prompt(it: Item) -> str:
        if "prompt" in it.data:
            return it.data["prompt"]
        return "".join(f"{m['role']}: {m['content']}\n" for m in it.data["messages"]) + "assistant:"

    def items(split: str, n: int, seed: int) -> list[Item]:
        if split != "eval":
            raise ValueError(f"skill {name!r} comes from a JSONL eval file: it has no train partition")
        return pool[:n]

    longest = max(len(c) for *_, c in rows)
    return Skill(
        name=name,
        items=items,
        formats={f: Format(prompt=render_prompt, completion=lambda it: it.data["reference"]) for f in fmt_names},
        verify=_verify,
        is_eval=lambda it: True,
        max_new_tokens=min(512, longest + 16),
        native_format=fmt_names[0],
        target_format=fmt_names[0],
        description=f"{len(pool)} items from a JSONL file",
    )
