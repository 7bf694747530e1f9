import json

import pytest

from dataladder.verify import get_verifier, verify_batch

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
          "required": ["name", "age"], "additionalProperties": False}


@pytest.fixture
def v():
    return get_verifier("json-schema")


def test_valid_and_violations(v):
    assert v('{"name": "Ada", "age": 36}', None, schema=SCHEMA) == (True, None)
    assert v('{"name": "Ada"}', None, schema=SCHEMA) == (False, "schema_violation")
    assert v('{"name": "Ada", "age": -1}', None, schema=SCHEMA) == (False, "schema_violation")
    assert v('{"name": "Ada", "age": 3, "x": 1}', None, schema=SCHEMA) == (False, "schema_violation")


def test_invalid_json(v):
    for text in ['{"name": "Ada", ', "name: Ada", "", "Here it is: {\"name\": \"Ada\", \"age\": 1}", "[" * 100_000]:
        assert v(text, None, schema=SCHEMA) == (False, "invalid_json"), text[:40]


def test_fences_and_schema_sources(v):
    fenced = 'Sure.\n```json\n{"name": "Ada", "age": 36}\n```\n'
    assert v(fenced, None, schema=SCHEMA).ok
    assert v(fenced, None, schema=json.dumps(SCHEMA)).ok   # the schema as JSON text
    # the answer is never taken as the schema: a gold document {"name": ...} would accept anything, '42' included
    assert v("42", '{"name": "Ada", "age": 36}') == (False, "no_schema")


def test_bad_schema(v):
    assert v("{}", None) == (False, "no_schema")                           # no schema at all
    assert v("{}", None, schema="not json") == (False, "bad_schema")
    assert v("{}", None, schema={"type": "no-such-type"}) == (False, "bad_schema")


def test_batch(v):
    items = [{"schema": SCHEMA}] * 3
    assert verify_batch(v, ['{"name": "a", "age": 1}', "{}", "nope"], [None] * 3, items) == [
        (True, None), (False, "schema_violation"), (False, "invalid_json")]
