"""Structured-output verifiers: `json-schema` and `python-tests` (candidate programs run in the sandbox).

    get_verifier("json-schema")('{"a": 1}', None, schema={"type": "object"})          # Verdict(True)
    get_verifier("python-tests")("def f(): return 1", None, tests=["assert f() == 1"])
    get_verifier("python-tests:wall_s=5,memory_mb=256")                              # own limits
    verify_batch(get_verifier("python-tests"), completions, answers, items)           # in parallel

`python-tests` reads the item's `tests` (a string of test code, or a list of them), else MBPP's
`test_list` (or `test`); with HumanEval's `entry_point`, `check(<entry_point>)` runs after the
tests. `json-schema` reads the item's `schema` (a dict or JSON text). Without them the verdict is
`no_tests` / `no_schema` (a JSONL skill refuses such items when it is loaded): the gold answer is
never its own test or schema.
A fenced block (```python / ```json) in the completion is taken in place of the whole text.
Their lenient readings (`lenient("json-schema")`): the first JSON object anywhere in the text, prose around it or
not; the program from its first line of code (`def`, `import`...) where no block is fenced.
"""

from __future__ import annotations

import json
import re
import threading
from functools import lru_cache
from typing import Sequence

from dataladder.verify.core import LENIENT, VERIFIERS, Reading, Verdict, Verifier
from dataladder.verify.sandbox import Limits, Sandbox

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


def extract_block(text: str, languages: Sequence[str]) -> str:
    """The first fenced block in one of `languages`, else the first fenced block, else the text."""
    blocks = _FENCE.findall(text)
    for lang, body in blocks:
        if lang.lower() in languages:
            return body
    return blocks[0][1] if blocks else text


# json-schema


@lru_cache(maxsize=256)
def _validator(schema_json: str):
    import jsonschema

    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _schema_of(schema: object) -> str | None:
    spec = schema
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError:
            return None
    return json.dumps(spec, sort_keys=True) if isinstance(spec, (dict, bool)) else None


def schema_problem(schema: object) -> str | None:
    """Why `schema` (a dict or bool) is not a valid JSON Schema for its draft, in one line; None if it is."""
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        where = "/".join(map(str, e.path))
        return " ".join(f"{where + ': ' if where else ''}{e.message}".split())[:200]
    return None


def _schema_check(schema: object):
    """The validator of the item's schema, or the Verdict that refuses every completion for want of one."""
    import jsonschema

    if schema is None:
        return Verdict(False, "no_schema")  # never the gold document as its own schema: '42' would pass
    key = _schema_of(schema)
    if key is None:
        return Verdict(False, "bad_schema")
    try:
        return _validator(key)
    except jsonschema.SchemaError:
        return Verdict(False, "bad_schema")


@VERIFIERS.register("json-schema")
def _json_schema(arg: str | None = None) -> Verifier:
    import jsonschema  # noqa: F401  (a missing dependency fails here, where the verifier is named)

    def json_schema(completion: str, answer: object = None, schema: object = None, **_: object) -> Verdict:
        validator = _schema_check(schema)
        if isinstance(validator, Verdict):
            return validator
        try:
            doc = json.loads(extract_block(completion, ("json",)).strip())
        except (json.JSONDecodeError, RecursionError):
            return Verdict(False, "invalid_json")
        return Verdict(True) if validator.is_valid(doc) else Verdict(False, "schema_violation")

    return json_schema


def first_json_object(text: str, tries: int = 64) -> dict | None:
    """The first JSON object in `text`, decoded from each `{` in turn (prose before and after it is ignored)."""
    decoder, i = json.JSONDecoder(), text.find("{")
    for _ in range(tries):  # a bound: `{{{{...` would otherwise cost a decode per brace
        if i < 0:
            return None
        try:
            return decoder.raw_decode(text, i)[0]
        except (json.JSONDecodeError, RecursionError):
            i = text.find("{", i + 1)
    return None


@LENIENT.register("json-schema")
def _json_schema_lenient(arg: str | None = None) -> Reading:
    def first_object(completion: str, answer: object = None, schema: object = None, **_: object) -> Verdict:
        validator = _schema_check(schema)
        if isinstance(validator, Verdict):
            return validator
        doc = first_json_object(completion)
        if doc is None:
            return Verdict(False, "no_json_object")
        return Verdict(True) if validator.is_valid(doc) else Verdict(False, "schema_violation")

    return first_object


# python-tests

_SANDBOXES: dict[Limits, Sandbox] = {}
_SANDBOX_LOCK = threading.Lock()


def shared_sandbox(limits: Limits) -> Sandbox:
    """One sandbox (and thread pool) per distinct limits, shared by every verifier instance."""
    with _SANDBOX_LOCK:
        if limits not in _SANDBOXES:
            _SANDBOXES[limits] = Sandbox(limits)
        return _SANDBOXES[limits]


def item_tests(answer: object, item: dict) -> list[str] | None:
    """The item's tests as a list of Python sources, or None when it has none."""
    tests = item.get("tests", item.get("test_list", item.get("test")))  # never the gold code as its own test
    if isinstance(tests, str):
        tests = [tests] if tests.strip() else []
    if not isinstance(tests, (list, tuple)) or not all(isinstance(t, str) for t in tests) or not tests:
        return None
    tests = list(tests)
    if isinstance(item.get("entry_point"), str):
        tests.append(f"check({item['entry_point']})")
    return tests


_PYTHON = ("python", "py", "python3")
_CODE_LINE = re.compile(r"^(?:def |class |import |from [\w.]+ import |async def |@\w)", re.M)


def lenient_program(completion: str) -> str:
    """The first fenced block (a ```python one first), else the text from its first line of code on."""
    if _FENCE.search(completion):
        return extract_block(completion, _PYTHON)
    m = _CODE_LINE.search(completion)
    return completion[m.start():] if m else completion


@VERIFIERS.register("python-tests")
def _python_tests(arg: str | None = None) -> Verifier:
    limits = Limits.parse(arg)

    def python_tests(completion: str, answer: object = None, **item: object) -> Verdict:
        return python_tests.many([completion], [answer], [item])[0]

    def many(completions: Sequence[str], answers: Sequence[object], items: Sequence[dict]) -> list[Verdict]:
        jobs, where = [], []
        out: list[Verdict | None] = []
        for completion, answer, item in zip(completions, answers, items, strict=True):
            tests = item_tests(answer, item)
            if tests is None:
                out.append(Verdict(False, "no_tests"))
                continue
            where.append(len(out))
            out.append(None)
            jobs.append((extract_block(completion, _PYTHON), tests))
        for i, r in zip(where, shared_sandbox(limits).run_many(jobs)):
            out[i] = r.verdict
        return out

    python_tests.many = many
    python_tests.limits = limits
    return python_tests


@LENIENT.register("python-tests")
def _python_tests_lenient(arg: str | None = None) -> Reading:
    strict = _python_tests(arg)

    def code_anywhere(completion: str, answer: object = None, **item: object) -> Verdict | None:
        program = lenient_program(completion)
        if program == extract_block(completion, _PYTHON):
            return None  # the program the strict verifier ran: no second sandbox run
        return strict(program, answer, **item)

    return code_anywhere


def verify_batch(verifier: Verifier, completions: Sequence[str], answers: Sequence[object],
                 items: Sequence[dict] | None = None) -> list[Verdict]:
    """Verdicts for many completions; sandboxed verifiers run them in parallel."""
    items = list(items) if items is not None else [{} for _ in completions]
    many = getattr(verifier, "many", None)
    if many is not None:
        return many(completions, answers, items)
    return [verifier(c, a, **it) for c, a, it in zip(completions, answers, items, strict=True)]
