"""User skills from JSONL: one eval item a line, in TRL format plus `skill`.

Each line is an object with `skill` and either `prompt`/`completion` or `messages` (the last
message, from the assistant, is the reference answer). Optional: `verifier` (`exact`,
`numeric`, `contains`, `regex:<pattern>`, `module:function`; default `exact`), `format` (a
prompt-format name, default `default`; a format named `chat` asks for the model's chat template
even for a raw prompt), `answer` (what the verifier compares against, default the completion),
`stop` (a list of stop strings) and `max_new_tokens` (this item's token budget; the skill's default
is its longest gold completion in tokens plus a margin). Any other field reaches the verifier as a
keyword: `python-tests` needs `tests` (or `test_list`), `json-schema` needs `schema`; an item without
them is refused here, naming its line. Every item of a file is an eval item.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from pathlib import Path

from dataladder.errors import InputError
from dataladder.generate.chat import plain_text
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
    _needs(verifier, rec, file, lineno)
    for key in rec:  # a misspelt field would otherwise reach the verifier silently (`verifer` → exact)
        close = difflib.get_close_matches(key, sorted(_RESERVED | {"stop", "max_new_tokens"}), n=1, cutoff=0.8)
        if key not in _RESERVED and close and close[0] != key:
            raise InputError(f"unknown field; did you mean '{close[0]}'?", file, lineno, key)
    stop = rec.get("stop")
    if stop is not None and (not isinstance(stop, list) or not all(isinstance(x, str) and x for x in stop)):
        raise InputError("must be a list of non-empty strings", file, lineno, "stop")
    budget = rec.get("max_new_tokens")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0):
        raise InputError("must be a positive integer", file, lineno, "max_new_tokens")
    answer = rec.get("answer", completion)
    if not isinstance(answer, (str, int, float)):
        raise InputError("must be a string or a number", file, lineno, "answer")
    return {
        "skill": skill, "prompt": prompt, "messages": messages, "completion": completion,
        "answer": str(answer), "verifier": verifier, "format": text("format", required=False) or "default",
        "extra": {k: v for k, v in rec.items() if k not in _RESERVED},
    }


def _needs(verifier: str, rec: dict, file: str, lineno: int) -> None:
    """Verifiers that check against an item field refuse an item without it (never a silent pass)."""
    name = verifier.partition(":")[0]
    if name == "json-schema" and rec.get("schema") is None:
        raise InputError("verifier json-schema needs the item's 'schema' (a JSON Schema object)", file, lineno, "schema")
    if name == "python-tests" and not any(rec.get(k) for k in ("tests", "test_list", "test")):
        raise InputError("verifier python-tests needs the item's 'tests' (test code, or a list of asserts)",
                         file, lineno, "tests")


# fields of a line that the loader itself reads (or sets on the item); all others go to the verifier
_RESERVED = {"skill", "prompt", "completion", "messages", "answer", "verifier", "format", "source", "reference"}


def load_jsonl_skills(path: Path) -> list[Skill]:
    """The skills a JSONL file defines, one per distinct `skill` value, in order of appearance."""
    if not path.is_file():
        raise InputError("no such file", str(path))
    by_skill: dict[str, list[tuple[Item, str | None, list | None]]] = {}
    with path.open(encoding="utf-8-sig") as f:
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
        return it.data["prompt"] if "prompt" in it.data else plain_text(it.data["messages"])

    def items(split: str, n: int, seed: int) -> list[Item]:
        if split != "eval":
            raise ValueError(f"skill {name!r} comes from a JSONL eval file: it has no train partition")
        return pool[:n]

    return Skill(
        name=name,
        items=items,
        formats={f: Format(prompt=render_prompt, completion=lambda it: it.data["reference"], chat=f == "chat")
                 for f in fmt_names},
        verify=_verify,
        is_eval=lambda it: True,
        max_new_tokens=None,  # the longest reference in tokens, with the model's tokenizer
        references=tuple(c for *_, c in rows),
        finite=True,
        native_format=fmt_names[0],
        target_format=fmt_names[0],
        description=f"{len(pool)} items from {rows[0][0].data['source'].rsplit(':', 1)[0]}",
    )
