"""User skills from JSONL: one eval item a line, in TRL format plus `skill`.

Each line is an object with `skill` and either `prompt`/`completion` or `messages` (the last
message, from the assistant, is the reference answer). Optional: `verifier` (`exact`,
`numeric`, `contains`, `regex:<pattern>`, `module:function`; default `exact`), `format` (a
prompt-format name, default `default`; a format named `chat` asks for the model's chat template
even for a raw prompt), `answer` (what the verifier compares against, default the completion),
`stop` (a list of stop strings) and `max_new_tokens` (this item's token budget; the skill's default
is its longest gold completion in tokens plus a margin). Any other field reaches the verifier as a
keyword: `python-tests` needs `tests` (or `test_list`), `json-schema` needs `schema`; an item without
them is refused here, naming its line. An item is always judged by its own verifier; where the items disagree
(`regex:<city>Paris</city>` on one, `regex:<city>Rome</city>` on another) the skill's verifier is `per item
(regex)` and a completion without its item is refused as `no_item_verifier`, never judged by another item's.
A json-schema item's gold answer is the JSON a sample must equal (`Skill.gold_verdict`; the schema checks shape).

Train and eval: an item with `split` (`train`, or `eval` / `test`) goes there; an item without one is
placed by a stable hash of its question (`text_key`), an `eval_share` of them in eval (default 0.5; set
it in the spec: `tasks.jsonl:eval_share=1` keeps every unmarked item for evaluation). A skill may not
take a built-in skill's name (`add`): that is an error naming the line, never a silent replacement.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import random
from functools import lru_cache, partial
from pathlib import Path

from dataladder.core.errors import InputError, json_records, loads, not_a_file
from dataladder.generate.chat import plain_text
from dataladder.skills.base import NO_ITEM_VERIFIER, PER_ITEM, Format, Item, Skill
from dataladder.skills.text import json_agrees, text_key, wrong_candidates
from dataladder.verify import Verdict, get_verifier


@lru_cache(maxsize=64)
def _verifier(spec: str):
    return get_verifier(spec)


def _verify(completion: str, answer: str, verifier: str | None = "exact", **item: object) -> Verdict:
    """Check with the item's own verifier spec (`verifier`; a skill passes the one its items share as the default,
    None where they disagree: without its item, no verifier can judge the completion)."""
    if verifier is None:
        return NO_ITEM_VERIFIER
    return _verifier(verifier)(completion, answer, **{k: v for k, v in item.items() if k not in ("messages", "prompt")})


def _agrees(completion: str, it: Item) -> Verdict:
    """A json-schema item's sample must be its gold JSON; other verifiers compare with the answer themselves, or
    (regex, code) accept any completion of the right form."""
    if it.data.get("verifier", "").partition(":")[0] != "json-schema":
        return Verdict(True)
    return json_agrees(completion, it.answer)  # a prompts-file line without a completion or answer: ''


def parse_line(raw: str | object, file: str, lineno: int, default_skill: str | None = None,
               prompt_only: bool = False) -> dict:
    """Validate one JSONL line (its text, or the record a JSON array holds) into {skill, prompt, completion, answer,
    verifier, format, messages}. A prompts file (`prompt_only`) may leave out `skill` (`default_skill`) and the
    completion (a prompt, or messages ending with a user turn), when the verifier does not compare with an answer
    or the line gives `answer`."""
    rec = loads(raw, file, lineno) if isinstance(raw, str) else raw
    if not isinstance(rec, dict):
        raise InputError("a line must be a JSON object", file, lineno)

    def text(field: str, required: bool = True) -> str | None:
        v = rec.get(field)
        if v is None and not required:
            return None
        if not isinstance(v, str) or (required and not v.strip()):
            raise InputError("missing or not a non-empty string", file, lineno, field)
        return v

    skill = text("skill") if default_skill is None or rec.get("skill") is not None else default_skill
    messages = rec.get("messages")
    if messages is not None:
        if not isinstance(messages, list) or len(messages) < (1 if prompt_only else 2):
            raise InputError("must be a list of at least two {role, content} messages", file, lineno, "messages")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise InputError("each message needs string 'role' and 'content'", file, lineno, f"messages[{i}]")
            if m["role"] not in ROLES:
                raise InputError(f"role must be one of {', '.join(ROLES)}", file, lineno, f"messages[{i}].role")
        if prompt_only and messages[-1]["role"] != "assistant":
            messages = [*messages, {"role": "assistant", "content": ""}]  # no gold answer: the prompt alone
            prompt, completion = None, None
        elif messages[-1]["role"] != "assistant":
            raise InputError("the last message must be the assistant's answer", file, lineno, f"messages[{len(messages) - 1}].role")
        else:
            prompt, completion = None, messages[-1]["content"]
            if not prompt_only and not completion.strip():  # as an empty `completion` is
                raise InputError("the assistant's answer is empty", file, lineno, f"messages[{len(messages) - 1}].content")
        if not any(m["content"].strip() for m in messages[:-1]):
            raise InputError("every turn before the answer is empty: give the question", file, lineno,
                             "messages[0].content")
        _one_task(rec, messages, file, lineno)
    elif "prompt" in rec or "completion" in rec:
        prompt, completion = text("prompt"), text("completion", required=not prompt_only)
    else:
        raise InputError("needs 'prompt' and 'completion', or 'messages'", file, lineno, "prompt")
    fmt = text("format", required=False)
    if fmt is not None and (why := name_problem(fmt, "a format")):
        raise InputError(why, file, lineno, "format")
    verifier = text("verifier", required=False) or "exact"
    try:
        _verifier(verifier)
    except ValueError as e:
        raise InputError(str(e), file, lineno, "verifier") from None
    _needs(verifier, rec, file, lineno)
    for key in rec:  # a misspelt field would otherwise reach the verifier silently (`verifer` → exact)
        close = difflib.get_close_matches(key, sorted(_RESERVED | {"stop", "max_new_tokens", "tests", "schema"}), n=1,
                                          cutoff=0.8)
        if key not in _RESERVED and close and close[0] != key:
            raise InputError(f"unknown field; did you mean '{close[0]}'?", file, lineno, key)
    stop = rec.get("stop")
    if stop is not None and (not isinstance(stop, list) or not all(isinstance(x, str) and x for x in stop)):
        raise InputError("must be a list of non-empty strings", file, lineno, "stop")
    budget = rec.get("max_new_tokens")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or not 0 < budget <= 10**6):
        raise InputError("must be a positive integer, at most 1,000,000", file, lineno, "max_new_tokens")
    split = rec.get("split")
    if split is not None and (not isinstance(split, str) or split not in SPLITS):  # ["train"] too
        raise InputError(f"must be one of {', '.join(SPLITS)}", file, lineno, "split")
    answer = rec.get("answer", completion)
    if answer is None and verifier.partition(":")[0] in ("exact", "exact-line", "numeric", "contains"):
        raise InputError(f"verifier {verifier} compares with an answer: give 'completion' or 'answer'", file, lineno,
                         "answer")
    if answer is None:
        answer = ""
    if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
        raise InputError("must be a string or a number", file, lineno, "answer")
    return {
        "skill": skill, "prompt": prompt, "messages": messages, "completion": completion,
        "answer": str(answer), "verifier": verifier, "format": fmt or "default",
        "split": SPLITS.get(split),
        "extra": {k: v for k, v in rec.items() if k not in _RESERVED},
    }


def name_problem(name: str, what: str) -> str:
    """Why `name` cannot name a skill or a format ('' if it can): empty, spaces at an end, a character no line
    shows (a newline, a tab, a control character), or '/' or ':' (forgetting keys are `<skill>/<format>`, specs
    `file.jsonl:<skill>`). Spaces inside are fine."""
    if not name.strip():
        return f"{what} name must not be empty"
    if name != name.strip():
        return f"{what} name {name!r} has spaces at an end; give {name.strip()!r}"
    if not name.replace(" ", "").isprintable():
        return f"{what} name {name!r} holds a newline, a tab or another control character; give a one-line name"
    for ch, why in ((":", "a spec's separator: file.jsonl:<skill>"), ("/", "forgetting keys are <skill>/<format>")):
        if ch in name:
            return (f"{what} name {name!r}: give a name without '{ch}' ({why}), e.g. "
                    f"{name.replace('/', '_').replace(':', '_')!r}")
    return ""


def _needs(verifier: str, rec: dict, file: str, lineno: int) -> None:
    """Verifiers that check against an item field refuse an item without it (never a silent pass); a schema
    may be given as JSON text (docs/data.md)."""
    name = verifier.partition(":")[0]
    schema = rec.get("schema")
    if name == "json-schema" and isinstance(schema, str):
        try:
            schema = loads(schema, file, lineno) if schema.strip() else None
        except InputError as e:
            raise InputError(f"a schema given as text must be JSON: {e.message}", file, lineno, "schema") from None
        if not isinstance(schema, (dict, bool)):
            raise InputError("verifier json-schema needs the item's 'schema': a JSON Schema object, or its JSON "
                             "text", file, lineno, "schema")
    if name == "json-schema" and not isinstance(schema, (dict, bool)):
        raise InputError("verifier json-schema needs the item's 'schema' (a JSON Schema object)", file, lineno, "schema")
    if name == "json-schema":
        from dataladder.verify.code import schema_problem

        if why := schema_problem(schema):  # a schema no document can meet: every sample would fail
            raise InputError(f"not a valid JSON Schema ({why})", file, lineno, "schema")
    if name == "python-tests":
        key = next((k for k in ("tests", "test_list", "test") if rec.get(k)), None)
        tests = rec.get(key) if key else None
        if not (isinstance(tests, str) or (isinstance(tests, list) and tests and all(isinstance(t, str) for t in tests))):
            raise InputError("verifier python-tests needs the item's 'tests' (test code, or a list of asserts)",
                             file, lineno, key or "tests")


def _one_task(rec: dict, messages: list, file: str, lineno: int) -> None:
    """`messages` beside `prompt` / `completion`: fine where they say the same (a dataset's copy of the question),
    refused where they differ, since which would be the task is not clear."""
    question = next((m["content"] for m in messages if m["role"] == "user"), None)
    for field, same in (("prompt", question), ("completion", messages[-1]["content"])):
        if rec.get(field) is not None and rec[field] != same:
            raise InputError(f"differs from 'messages' (both given); a line gives its task once: drop '{field}' "
                             "or 'messages'", file, lineno, field)


# fields of a line that the loader itself reads (or sets on the item); all others go to the verifier
_RESERVED = {"skill", "prompt", "completion", "messages", "answer", "verifier", "format", "source", "reference", "split"}
SPLITS = {"train": "train", "eval": "eval", "test": "eval"}
ROLES = ("system", "user", "assistant", "tool")
EVAL_SHARE = 0.5  # share of the items without a `split` field that are eval items


def load_jsonl_skills(path: Path, eval_share: float = EVAL_SHARE, normalize: bool | None = None) -> list[Skill]:
    """The skills a JSONL file defines, one per distinct `skill` value, in order of appearance."""
    if why := not_a_file(path):
        raise InputError(why, str(path))
    st = path.stat()
    return _load(str(path), st.st_mtime_ns, st.st_size, eval_share, normalize)


@lru_cache(maxsize=32)
def _load(path_s: str, _mtime: int, _size: int, eval_share: float, normalize: bool | None) -> list[Skill]:
    from dataladder.skills.base import SKILLS

    path = Path(path_s)
    by_skill: dict[str, list[tuple[Item, str | None, list | None, str]]] = {}
    asked: dict[tuple, dict[str, tuple[int, str]]] = {}  # (skill, question) → split → (line, answer)
    for lineno, raw in json_records(path):
        r = parse_line(raw, str(path), lineno)
        if r["skill"].lower() in {name.lower() for name in SKILLS.names()}:
            raise InputError(f"'{r['skill']}' is the name of a built-in skill; give yours another "
                             f"(e.g. 'my_{r['skill']}')", str(path), lineno, "skill")
        if why := name_problem(r["skill"], "a skill"):
            raise InputError(why, str(path), lineno, "skill")
        key = r["prompt"] if r["prompt"] is not None else json.dumps(r["messages"][:-1])
        split = r["split"] or ("eval" if _hash_share(r["skill"], text_key(r["prompt"] if r["prompt"] is not None
                                                                           else r["messages"][:-1])) < eval_share
                               else "train")
        item = Item(skill=r["skill"], key=key, answer=r["answer"],
                    data={**r["extra"], "verifier": r["verifier"], "format": r["format"],
                          "source": f"{path}:{lineno}", "split": split})
        _no_eval_leak(asked, r, split, str(path), lineno)
        by_skill.setdefault(r["skill"], []).append((item, r["prompt"], r["messages"], r["completion"]))
    if not by_skill:
        raise InputError("holds no items", str(path))
    params = ("" if eval_share == EVAL_SHARE else f":eval_share={eval_share}") + \
        ("" if normalize is None else f":normalize={str(normalize).lower()}")
    multi = len(by_skill) > 1
    return [_make_skill(name, rows, f"{path}" + (f":{name}" if multi else "") + params, normalize)
            for name, rows in by_skill.items()]


def _no_eval_leak(asked: dict, r: dict, split: str, file: str, lineno: int) -> None:
    """An eval question repeated as a train item with another answer lands in both splits: refused, naming both."""
    q = (r["skill"], text_key(r["prompt"] if r["prompt"] is not None else r["messages"][:-1]))
    answer = " ".join(r["answer"].split())
    seen = asked.setdefault(q, {})
    other = seen.get("train" if split == "eval" else "eval")
    if other is not None and other[1] != answer:
        raise InputError(f"repeats the question of line {other[0]} ({'train' if split == 'eval' else 'eval'}) as a "
                         f"{split} item with another answer; an eval question may not be trained on: drop one of "
                         "the two lines", file, lineno, "split")
    seen.setdefault(split, (lineno, answer))


def _hash_share(skill: str, key: str) -> float:
    h = hashlib.blake2b(f"split:{skill}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def _make_skill(name: str, rows: list, spec: str, normalize: bool | None) -> Skill:
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
    evals = [it for it in pool if it.data["split"] == "eval"]
    trains = [it for it in pool if it.data["split"] == "train"]
    by_key: dict[str, Item] = {}
    for it in pool:
        by_key.setdefault(text_key(it.data.get("messages", it.data.get("prompt"))), it)
    specs = list(dict.fromkeys(it.data["verifier"] for it in pool))
    shared = specs[0] if len(specs) == 1 else None  # items that disagree: no one of them speaks for the others
    names = list(dict.fromkeys(v.partition(":")[0] for v in specs))

    def render_prompt(it: Item) -> str:
        return it.data["prompt"] if "prompt" in it.data else plain_text(it.data["messages"])

    def items(split: str, n: int, seed: int) -> list[Item]:
        if split == "eval":
            return evals[:n]
        if split != "train":
            raise ValueError(f"split must be 'train' or 'eval', not {split!r}")
        out = list(trains)
        random.Random(f"{name}:train:{seed}").shuffle(out)
        return out[:n]

    def wrong(it: Item, gold: str, rng: random.Random, others: list[str]):
        numeric = it.data["verifier"].startswith("numeric")
        return wrong_candidates(gold, rng, others or [c for *_, c in rows], numeric=numeric)

    def fields(it: Item) -> dict:
        return {k: v for k, v in it.data.items() if k not in _INTERNAL}

    return Skill(
        name=name,
        items=items,
        formats={f: Format(prompt=render_prompt, completion=lambda it: it.data["reference"], chat=f == "chat")
                 for f in fmt_names},
        verify=partial(_verify, verifier=shared),
        is_eval=lambda it: it.data.get("split") == "eval",
        max_new_tokens=None,  # the longest reference in tokens, with the model's tokenizer
        references=tuple(c for *_, c in rows),
        finite=True,
        native_format=fmt_names[0],
        target_format=fmt_names[0],
        description=f"{len(evals)} eval and {len(trains)} train items from {rows[0][0].data['source'].rsplit(':', 1)[0]}",
        verifier=shared or f"{PER_ITEM} ({', '.join(names)})",
        spec=spec,
        problem=lambda prompt: by_key.get(text_key(prompt)),
        wrong=wrong,
        fields=fields,
        normalize=normalize if normalize is not None else "python-tests" not in names,
        agrees=_agrees if "json-schema" in names else None,
    )


# item data that is the loader's bookkeeping, not the verifier's input
_INTERNAL = {"format", "source", "split", "reference", "messages", "prompt"}


def with_train_file(skill: Skill, path: Path) -> Skill:
    """`skill` (a JSONL skill) with more train items from a prompts file: the skill file's line format, `skill`
    optional (lines naming another skill are skipped), the completion optional where the verifier needs none
    (RL and self-sampling need only the prompt; gold-answer uses skip such items). Lines asking an eval item are
    dropped, never trained on."""
    import dataclasses

    if not skill.finite:
        raise InputError(f"skill {skill.name} generates its own train items; a prompts file is for a JSONL skill",
                         str(path))
    if why := not_a_file(path):
        raise InputError(why, str(path))
    extra = []
    for lineno, raw in json_records(path):
        r = parse_line(raw, str(path), lineno, default_skill=skill.name, prompt_only=True)
        if r["skill"] != skill.name:
            continue
        msgs = r["messages"][:-1] if r["messages"] is not None else None
        if skill.eval_item_of(msgs if msgs is not None else r["prompt"]) is not None:
            continue
        data = {**r["extra"], "verifier": r["verifier"], "format": r["format"], "source": f"{path}:{lineno}",
                "split": "train", "reference": r["completion"]}
        data.update({"messages": msgs} if msgs is not None else {"prompt": r["prompt"]})
        key = r["prompt"] if r["prompt"] is not None else json.dumps(msgs)
        extra.append(Item(skill=skill.name, key=key, answer=r["answer"], data=data))
    if not extra:
        raise InputError(f"holds no items for skill {skill.name} that are not eval items", str(path))
    base_items, base_problem = skill.items, skill.problem
    by_key = {text_key(it.data.get("messages", it.data.get("prompt"))): it for it in extra}

    def items(split: str, n: int, seed: int) -> list[Item]:
        if split != "train":
            return base_items(split, n, seed)
        out = base_items("train", 1 << 30, seed) + extra
        random.Random(f"{skill.name}:train+:{seed}").shuffle(out)
        return out[:n]

    return dataclasses.replace(skill, items=items, problem=lambda p: base_problem(p) or by_key.get(text_key(p)),
                               spec=skill.spec, description=skill.description + f", {len(extra)} more from {path}")


def has_gold(item: Item) -> bool:
    """Whether an item carries a gold completion (a prompts file's line may not)."""
    return item.data.get("reference", "") is not None
