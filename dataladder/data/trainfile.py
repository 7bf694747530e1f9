"""Training files as users have them: messages, TRL (conversational) prompt/completion, Alpaca, ShareGPT.

    for line, rec in read_train_file(Path("train.jsonl")):   # rec: {prompt: str | messages, completion: str, skill}
        ...

JSONL, a JSON array or Parquet, read by `data.formats` (one reader for every command); a bad record
raises `InputError` naming the file, the line and the field. `climb --train-file` and plans'
`train_file` draw their rungs from these records; prompts are rendered for training exactly as for
evaluation (`dataladder.generate.chat`).
"""

from __future__ import annotations

import json
from pathlib import Path

from dataladder.data.formats import read_trl
from dataladder.core.errors import InputError


def prompt_key(prompt: str | list) -> str:
    """A prompt's identity for decontamination: its turns without any system turn, whitespace normalized; a raw
    prompt counts as one user turn, so the same question meets itself in every form (Alpaca, messages, chat)."""
    turns = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    return json.dumps([[m["role"], " ".join(m["content"].split())] for m in turns if m["role"] != "system"])


def read_train_file(path: Path) -> list[tuple[int, dict]]:
    """(line, record) of every training record of `path` as TRL prompt/completion (a string or messages
    prompt, a string completion, `skill` kept); any format `data.formats` reads. Bad records raise InputError."""
    out = []
    for line, rec in read_trl(path):
        if "messages" in rec:
            msgs = rec["messages"]
            if msgs[-1]["role"] != "assistant" or len(msgs) < 2:
                raise InputError("the last message must be the assistant's answer, after at least one other turn",
                                 str(path), line, f"messages[{len(msgs) - 1}].role")
            prompt, completion = msgs[:-1], msgs[-1]["content"]
        elif "completion" in rec:
            prompt, completion = rec["prompt"], rec["completion"]
            if isinstance(completion, list):
                if completion[-1]["role"] != "assistant":
                    raise InputError("a conversational completion must end with the assistant's turn", str(path),
                                     line, "completion")
                completion = completion[-1]["content"]
        else:
            raise InputError("a training record needs an answer: messages ending with the assistant's turn, "
                             "prompt/completion, instruction/output or conversations", str(path), line, "completion")
        if not completion.strip():  # an empty assistant turn trains the model to stop at once
            field = f"messages[{len(rec['messages']) - 1}].content" if "messages" in rec else "completion"
            raise InputError("the answer is empty; give the assistant's answer or drop the record", str(path), line,
                             field)
        out.append((line, {"prompt": prompt, "completion": completion, "skill": rec.get("skill")}))
    return out  # not empty: read_raw refuses a file without a record


def names_skill(name: str | None, spec: str, sk) -> bool:
    """Whether a train record's `skill` names the climbed skill: absent, its name, its spec, or its file (`tasks.jsonl`
    for a file of one skill, `tasks.jsonl:code` for one of several), however the path is written."""
    from dataladder.skills.spec import jsonl_spec

    if name in (None, spec, sk.name, sk.spec):
        return True
    mine, theirs = jsonl_spec(sk.spec), jsonl_spec(name)
    if mine is None or theirs is None or theirs[0].resolve() != mine[0].resolve():
        return False
    return theirs[1] == sk.name or (theirs[1] is None and mine[1] is None)
