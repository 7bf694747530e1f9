"""Data formats: read TRL, Alpaca and ShareGPT records from JSONL, JSON or Parquet; write TRL.

    for line, rec in read_trl("data.parquet"):        # rec uses TRL columns
        ...
    write_records("out.jsonl", records)                 # atomic: .tmp then rename

Formats are detected per record by its columns:

| format              | columns                                   | becomes (TRL)                           |
|---------------------|-------------------------------------------|-----------------------------------------|
| `messages`          | `messages` [{role, content}]              | kept                                    |
| `sharegpt`          | `conversations` [{from, value}]           | `messages` (human→user, gpt→assistant)  |
| `alpaca`            | `instruction`, `input`, `output`          | `prompt` = instruction (+ "\n\n" + input), `completion` = output |
| `preference`        | `prompt`, `chosen`, `rejected`            | kept                                    |
| `prompt_completion` | `prompt`, `completion`                    | kept                                    |
| `prompt_only`       | `prompt`                                  | kept                                    |

`prompt`, `completion`, `chosen` and `rejected` may be strings or message lists (TRL's
conversational form). Other columns (`skill`, `answer`, `verifier`, `noise`, metadata) pass
through. Positions: a JSONL record's line, a JSON array's record index (1-based) and a Parquet
row (1-based) are all reported as the "line". A bad record raises `InputError(file, line, field)`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

from dataladder.core.errors import InputError, loads, not_a_file, parquet_rows, text_lines

FORMATS = ("messages", "sharegpt", "alpaca", "preference", "prompt_completion", "prompt_only")
ROLES = ("system", "user", "assistant", "tool")
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
                  "system": "system", "tool": "tool", "function": "tool", "observation": "tool"}
TEXT_FIELDS = ("prompt", "completion", "chosen", "rejected")


def read_raw(path: str | Path) -> Iterator[tuple[int, object]]:
    """(line, raw record) pairs of a JSONL, JSON-array or Parquet file; malformed JSON raises InputError, and so
    does a file without a record (empty, blank lines only, `[]`)."""
    path = Path(path)
    if why := not_a_file(path):
        raise InputError(why, str(path))
    n = 0
    for n, rec in enumerate(_read_raw(path), 1):
        yield rec
    if n == 0:
        raise InputError("holds no records (empty, blank lines only, or an empty array); give a file with at least one",
                         str(path))


def _read_raw(path: Path) -> Iterator[tuple[int, object]]:
    if path.suffix.lower() == ".parquet":
        yield from _read_parquet(path)
        return
    lines = text_lines(path)
    first = next((t for _, t in lines if t.strip()), "")
    if path.suffix.lower() == ".json" and first.lstrip().startswith("["):
        text = "".join(t for _, t in text_lines(path))  # every line decoded, or the bad one named
        for i, rec in enumerate(loads(text, str(path)), 1):  # malformed or nested too deep: InputError
            yield i, rec
        return
    for lineno, raw in text_lines(path):  # JSON lines (a .json file of lines too)
        if not raw.strip():
            continue
        try:
            yield lineno, loads(raw, str(path), lineno)
        except InputError as e:  # routed by `to_trl`, so that --skip-bad can reject the line
            yield lineno, _BadJSON(e.message, e.field)


class _BadJSON(str):
    """A line that did not parse (or holds what JSON does not: a key twice, NaN, a lone surrogate); `to_trl`
    turns it into an InputError so --skip-bad can route it."""

    def __new__(cls, message: str, field: str | None = None):
        self = super().__new__(cls, message)
        self.field = field
        return self


def _read_parquet(path: Path) -> Iterator[tuple[int, dict]]:
    yield from parquet_rows(path)


def detect(rec: dict) -> str | None:
    """The format of one record, judged by its columns (see the module table)."""
    if "messages" in rec:
        return "messages"
    if "conversations" in rec:
        return "sharegpt"
    if "instruction" in rec or "output" in rec:
        return "alpaca"
    if "chosen" in rec or "rejected" in rec:
        return "preference"
    if "completion" in rec:
        return "prompt_completion"
    if "prompt" in rec:
        return "prompt_only"
    return None


def to_trl(raw: object, file: str, line: int) -> tuple[str, dict]:
    """(format, TRL record) for one raw record; a bad one raises InputError naming the field."""
    if isinstance(raw, _BadJSON):
        raise InputError(str(raw), file, line, raw.field or "json")
    if not isinstance(raw, dict):
        raise InputError("a record must be a JSON object", file, line, "record")
    fmt = detect(raw)
    err = lambda msg, field: InputError(msg, file, line, field)  # noqa: E731
    if fmt is None:
        raise err("no known format: needs messages, conversations, instruction/output, prompt/completion, "
                  "prompt/chosen/rejected or prompt", "prompt")
    rec = dict(raw)
    if fmt == "messages":
        _check_messages(rec["messages"], "messages", err)
        if "conversations" in rec and [(m["role"], m["content"]) for m in _sharegpt(rec["conversations"], err)] != \
                [(m["role"], m["content"]) for m in rec["messages"]]:
            raise err("differs from 'messages' (both given); a record gives its turns once: drop 'conversations' "
                      "or 'messages'", "conversations")
    elif fmt == "sharegpt":
        rec["messages"] = _sharegpt(rec.pop("conversations"), err)
    elif fmt == "alpaca":
        instruction = _text(rec.pop("instruction", None), "instruction", err)
        extra = rec.pop("input", "")
        if extra is None:
            extra = ""
        if not isinstance(extra, str):
            raise err("must be a string", "input")
        rec["prompt"] = instruction + ("\n\n" + extra if extra.strip() else "")
        rec["completion"] = _text(rec.pop("output", None), "output", err)
    else:
        need = {"preference": ("prompt", "chosen", "rejected"), "prompt_completion": ("prompt", "completion"),
                "prompt_only": ("prompt",)}[fmt]
        for field in need:
            v = rec.get(field)
            if isinstance(v, list):
                _check_messages(v, field, err)
            else:
                _text(v, field, err)
    if fmt in ("messages", "sharegpt") and not any(m["role"] == "assistant" for m in rec["messages"]):
        raise err("no assistant turn: nothing to train on or to score (a prompt alone is a `prompt` field)",
                  f"messages[{len(rec['messages']) - 1}].role")
    for field in ("completion", "chosen", "rejected"):  # the answer's side: the assistant's turns (tool results)
        for i, m in enumerate(rec.get(field) if isinstance(rec.get(field), list) else []):
            if m["role"] not in ("assistant", "tool"):
                raise err(f"the answer: its turns are the assistant's (or tool results), but turn {i} is "
                          f"{m['role']!r}'s; move the question into 'prompt'", field)
    if fmt == "preference" and isinstance(rec["chosen"], list) != isinstance(rec["rejected"], list):
        raise err("is " + ("a message list" if isinstance(rec["rejected"], list) else "plain text") + " but 'chosen' is "
                  + ("a message list" if isinstance(rec["chosen"], list) else "plain text") + ": give both in one "
                  "form, as TRL compares them", "rejected")
    for field in ("messages", "completion", "chosen", "rejected"):  # an empty answer, as an empty `completion` is
        turns = rec.get(field)
        if isinstance(turns, list) and turns[-1]["role"] == "assistant" and not turns[-1]["content"].strip():
            raise err("the assistant's answer is empty; give it or drop the record", f"{field}[{len(turns) - 1}].content")
    if "skill" in rec and not (isinstance(rec["skill"], str) and rec["skill"].strip()):
        raise err("must be a non-empty string", "skill")
    if "noise" in rec and rec["noise"] is None:  # a table's empty cell: no noise (Parquet drops it already)
        del rec["noise"]
    if "noise" in rec and not (isinstance(rec["noise"], dict) and isinstance(rec["noise"].get("kind"), str)
                               and rec["noise"]["kind"].strip()):
        raise err("must be an object with a 'kind' ({\"kind\": \"wrong_answer\", ...}), as `corrupt` writes it", "noise")
    if "verifier" in rec and not isinstance(rec["verifier"], str):
        raise err("must be a string such as 'numeric' or 'regex:<pattern>'", "verifier")
    if "answer" in rec:
        if isinstance(rec["answer"], bool) or not isinstance(rec["answer"], (str, int, float)):
            raise err("must be a string or a number", "answer")
        rec["answer"] = str(rec["answer"])
    return fmt, rec


def _text(v: object, field: str, err: Callable) -> str:
    if not isinstance(v, str) or not v.strip():
        raise err("missing or not a non-empty string", field)
    return v


def _check_messages(msgs: object, field: str, err: Callable) -> None:
    if not isinstance(msgs, list) or not msgs:
        raise err("must be a non-empty list of {role, content} messages", field)
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise err(f"expected a message (an object with role and content), got {type(m).__name__}", f"{field}[{i}]")
        if m.get("role") not in ROLES:
            raise err(f"role must be one of {', '.join(ROLES)}", f"{field}[{i}].role")
        if not isinstance(m.get("content"), str):
            raise err("must be a string", f"{field}[{i}].content")


def _sharegpt(conv: object, err: Callable) -> list[dict]:
    if not isinstance(conv, list) or not conv:
        raise err("must be a non-empty list of {from, value} turns", "conversations")
    out = []
    for i, t in enumerate(conv):
        if not isinstance(t, dict) or t.get("from") not in SHAREGPT_ROLES:
            raise err(f"from must be one of {', '.join(SHAREGPT_ROLES)}", f"conversations[{i}].from")
        if not isinstance(t.get("value"), str):
            raise err("must be a string", f"conversations[{i}].value")
        out.append({"role": SHAREGPT_ROLES[t["from"]], "content": t["value"]})
    return out


def read_trl(path: str | Path, on_bad: Callable[[int, object, InputError], None] | None = None
             ) -> Iterator[tuple[int, dict]]:
    """(line, TRL record) of every good record; a bad one raises, or goes to `on_bad` when given."""
    for line, raw in read_raw(path):
        try:
            _, rec = to_trl(raw, str(path), line)
        except InputError as e:
            if on_bad is None:
                raise
            on_bad(line, raw, e)
            continue
        yield line, rec


def _content(v: str | list) -> str:
    return v if isinstance(v, str) else "\n".join(m["content"] for m in v)


def prompt_text(rec: dict) -> str:
    """The prompt as plain text: `prompt`, or the contents of the turns before the last assistant turn."""
    if "messages" in rec:
        msgs = rec["messages"]
        cut = len(msgs) - 1 if msgs[-1]["role"] == "assistant" else len(msgs)
        return "\n".join(m["content"] for m in msgs[:cut])
    return _content(rec["prompt"])


def completion_text(rec: dict) -> str:
    """The answer as plain text: `completion`, `chosen`, the last assistant turn, or '' (prompt-only)."""
    if "messages" in rec:
        last = rec["messages"][-1]
        return last["content"] if last["role"] == "assistant" else ""
    for field in ("completion", "chosen"):
        if field in rec:
            return _content(rec[field])
    return ""


def map_texts(rec: dict, fn: Callable[[str, str], str]) -> dict:
    """A copy of `rec` with `fn(field, text)` applied to every text it trains on (all turns included)."""
    out = dict(rec)
    for field in ("messages", *TEXT_FIELDS):
        v = rec.get(field)
        if isinstance(v, str):
            out[field] = fn(field, v)
        elif isinstance(v, list):
            out[field] = [{**m, "content": fn(m["role"], m["content"])} for m in v]
    return out


WRITE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet")  # what `write_records` writes; no suffix: JSONL


def check_output_suffix(path: str | Path, option: str) -> None:
    """Before any work: a records file to write ends in a suffix `write_records` knows (o.xlsx would be JSONL
    under a spreadsheet's name)."""
    suffix = Path(path).suffix.lower()
    if suffix and suffix not in WRITE_SUFFIXES:
        raise ValueError(f"{option} {path}: unknown output format {suffix!r}; give a {', '.join(WRITE_SUFFIXES)} file")


def write_records(path: str | Path, records: Iterable[dict]) -> int:
    """Write TRL records atomically as JSONL (or JSON / Parquet by suffix); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    try:
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            recs = list(records)
            n = len(recs)
            cols = list(dict.fromkeys(k for r in recs for k in r))  # the union: from_pylist reads row 1's keys only
            pq.write_table(pa.Table.from_pydict({c: [r.get(c) for r in recs] for c in cols}), tmp)
        elif suffix == ".json":
            recs = list(records)
            n = len(recs)
            tmp.write_text(json.dumps(recs, ensure_ascii=False, indent=1), encoding="utf-8")
        else:
            with tmp.open("w", encoding="utf-8") as f:
                for r in records:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
                    n += 1
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n
