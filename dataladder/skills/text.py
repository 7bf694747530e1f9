"""Task-agnostic skill hooks: a prompt's problem key, wrong answers of the answer's own type, difficulty features.

A built-in skill may replace any of these with its own (arithmetic parses the problem out of any wording);
a JSONL skill uses them as they are:

- `text_key(prompt)`: the prompt's identity for decontamination — a raw prompt, a prompt rendered in a chat
  template by hand (ChatML, Llama 3, Llama 2 / Mistral, Gemma) and the same question as `messages` all give
  one key: the non-system turns' text, chat markup removed, NFKC, casefolded, whitespace collapsed.
- `wrong_candidates(gold, rng, others)`: plausible wrong completions of the gold one's type, nearest first:
  a numeric near miss for a number, a one-value edit for JSON (the same layout), one-token edits for code
  and text (an operator, a comparison, a constant, a boolean, one character), then other items' answers.
  The caller keeps the first one its verifier refuses (`Skill.wrong_answer`).
- `features(item, prompt)`: coarse difficulty buckets for the RL prompt diversity report.
- `json_agrees(completion, gold)`: a JSON completion is the gold JSON document (a schema checks only its shape).
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from typing import Iterator

from dataladder.verify.core import Verdict, parse_number

# chat markup of common templates; system turns are dropped with their text (a system prompt is not the question)
_SYSTEM = re.compile(r"<\|im_start\|>system.*?<\|im_end\|>|<\|start_header_id\|>system<\|end_header_id\|>.*?<\|eot_id\|>"
                     r"|<<SYS>>.*?<</SYS>>", re.S)
_HEADERS = re.compile(r"<\|im_start\|>\w+|<\|start_header_id\|>\w+<\|end_header_id\|>|<start_of_turn>\w+"
                      r"|<\|[^|<>\s]{1,40}\|>|<end_of_turn>|</?s>|<bos>|<eos>|\[/?INST\]")


def text_key(prompt: str | list) -> str:
    """The normalized question of a prompt, raw, hand-templated or as messages (module docstring)."""
    if isinstance(prompt, list):
        text = "\n".join(str(m.get("content", "")) for m in prompt if m.get("role") != "system")
    else:
        text = _HEADERS.sub(" ", _SYSTEM.sub(" ", prompt))
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def numeric_near_miss(answer: str, rng: random.Random) -> str:
    """A plausible but wrong integer next to a numeric `answer`: off by one, two adjacent figures swapped, or off by a few."""
    value = parse_number(answer)
    v = int(value) if value is not None else 0
    kind = rng.random()
    if kind < 0.4:
        w = v + rng.choice([-1, 1])
    elif kind < 0.7 and len(str(abs(v))) >= 2:
        d = list(str(abs(v)))
        i = rng.randrange(len(d) - 1)
        d[i], d[i + 1] = d[i + 1], d[i]
        w = int("".join(d)) * (1 if v >= 0 else -1)
    else:
        w = v + rng.choice([-1, 1]) * rng.randint(2, 20)
    return str(w if w != v else v + 1)


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_SWAPS = [("==", "!="), ("<=", ">"), (">=", "<"), (" < ", " > "), (" + ", " - "), (" - ", " + "), (" * ", " + "),
          ("True", "False"), ("False", "True"), (" and ", " or "), (" or ", " and "), ("return ", "return -"),
          ("[0]", "[1]"), ("+= 1", "-= 1")]


def _json_edits(gold: str, rng: random.Random) -> Iterator[str]:
    """One-value edits of a JSON answer, written back in its own layout (indent and key order)."""
    lead = gold[: len(gold) - len(gold.lstrip())]
    try:
        doc = json.loads(gold)
    except ValueError:
        return
    indent = None
    m = re.search(r"\n( +)\S", gold)
    if m:
        indent = len(m.group(1))
    if not isinstance(doc, (dict, list)) or not doc:
        return
    keys = list(doc) if isinstance(doc, dict) else list(range(len(doc)))
    rng.shuffle(keys)
    for k in keys:
        v = doc[k]
        if isinstance(v, bool):
            new = not v
        elif isinstance(v, (int, float)):
            new = v + rng.choice([-1, 1])
        elif isinstance(v, str):
            new = v[:-1] if len(v) > 1 else v + "x"
        elif v is None:
            new = 0
        else:
            continue
        edited = dict(doc) if isinstance(doc, dict) else list(doc)
        edited[k] = new
        yield lead + json.dumps(edited, indent=indent, ensure_ascii=False)
    if isinstance(doc, dict):  # a missing key
        k = keys[0]
        yield lead + json.dumps({kk: vv for kk, vv in doc.items() if kk != k}, indent=indent, ensure_ascii=False)


def _token_edits(gold: str, rng: random.Random) -> Iterator[str]:
    """One-token edits: a swapped operator or boolean, a constant off by one, then one character changed."""
    swaps = [(a, b) for a, b in _SWAPS if a in gold]
    rng.shuffle(swaps)
    for a, b in swaps:
        starts = [m.start() for m in re.finditer(re.escape(a), gold)]
        i = rng.choice(starts)
        yield gold[:i] + b + gold[i + len(a):]
    nums = list(_NUMBER.finditer(gold))
    rng.shuffle(nums)
    for m in nums[:3]:
        yield gold[: m.start()] + numeric_near_miss(m.group(0), rng) + gold[m.end():]
    body = [i for i, ch in enumerate(gold) if ch.isalnum()]
    for i in rng.sample(body, min(3, len(body))):
        ch = gold[i]
        new = chr(ord("a") + (ord(ch.lower()) - ord("a") + 1) % 26) if ch.isalpha() else str((int(ch) + 1) % 10) \
            if ch.isdigit() else "x"
        yield gold[:i] + new + gold[i + 1:]
    lines = gold.split("\n")
    if len(lines) > 1:  # a line lost
        j = rng.randrange(len(lines))
        yield "\n".join(lines[:j] + lines[j + 1:])


def wrong_candidates(gold: str, rng: random.Random, others: list[str] = (), numeric: bool = False) -> Iterator[str]:
    """Wrong completions of `gold`'s type, nearest first (module docstring); the caller checks each one."""
    lead = gold[: len(gold) - len(gold.lstrip())]
    if numeric or parse_number(gold.strip()) is not None and gold.strip().lstrip("-").replace(".", "", 1).isdigit():
        nums = list(_NUMBER.finditer(gold))
        if nums:  # the answer is the last number of the completion: change that one
            m = nums[-1]
            for _ in range(3):
                yield gold[: m.start()] + numeric_near_miss(m.group(0), rng) + gold[m.end():]
    yield from _json_edits(gold, rng)
    yield from _token_edits(gold, rng)
    pool = [o for o in others if o.strip() != gold.strip()]
    for o in rng.sample(pool, min(5, len(pool))):
        yield lead + o.lstrip()


def is_near(wrong: str, gold: str) -> bool:
    """A hard negative: a number within max(2, 10%) of a numeric gold answer or its figures reordered; for any
    other answer, a completion at most a few characters away (a one-token edit) from the gold one."""
    w, v = parse_number(wrong), parse_number(gold)
    plain = gold.strip().lstrip("-").replace(".", "", 1).isdigit()
    if plain and w is not None and v is not None:
        if abs(w - v) <= max(2, abs(v) / 10):
            return True
        sw, sv = str(abs(w)), str(abs(v))
        return sw != sv and sorted(sw) == sorted(sv) and (w < 0) == (v < 0)
    if plain:
        return False
    import difflib

    a, b = wrong.strip(), gold.strip()
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    changed = sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in sm.get_opcodes() if op != "equal")
    return 0 < changed <= max(3, len(b) // 20)


def _bucket(n: int) -> str:
    edges = [8, 16, 32, 64, 128, 256]
    for e in edges:
        if n <= e:
            return f"≤{e}"
    return f">{edges[-1]}"


def features(prompt: str, answer: str) -> dict[str, str]:
    """Difficulty buckets of an item: prompt words and answer lines (a skill may report its own)."""
    return {"prompt_words": _bucket(len(prompt.split())), "answer_lines": str(len(answer.strip().split("\n")))}


def json_agrees(completion: str, gold: str | None) -> Verdict:
    """The completion's JSON (a ```json block, else the text) is the gold answer's document: same keys, values and
    types (key order and layout aside); `disagrees_with_gold` otherwise. Without a JSON gold answer: agrees."""
    from dataladder.verify.code import extract_block

    def parse(text: str):
        return json.loads(extract_block(text, ("json",)).strip())

    try:
        want = parse(gold) if gold and gold.strip() else _NO_GOLD
    except (ValueError, RecursionError):
        want = _NO_GOLD
    if want is _NO_GOLD:
        return Verdict(True)
    try:
        got = parse(completion)
    except (ValueError, RecursionError):
        return Verdict(False, "invalid_json")
    return Verdict(True) if _same_json(got, want) else Verdict(False, "disagrees_with_gold")


_NO_GOLD = object()


def _same_json(a: object, b: object) -> bool:
    """JSON equality where `true` is not `1` (Python's `True == 1`); `1` and `1.0` are the same number."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b
