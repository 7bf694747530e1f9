"""The format-lenient reading of each verifier (`verify.lenient`): strict ok is lenient ok; the answer amid prose too."""

import pytest

from dataladder.verify import get_verifier, lenient
from dataladder.verify.code import first_json_object, lenient_program

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"]}


@pytest.mark.parametrize("spec,completion,answer,strict_ok,lenient_ok", [
    # numeric: the gold number anywhere (GSM8K-style word problems without `####`)
    ("numeric", "3 apples and 4 more make 7 apples.", "7", False, True),
    ("numeric:gsm8k", "She has 3 + 4 = 7 apples.", "She has 7.\n#### 7", False, True),
    ("numeric:gsm8k", "She has 3 + 4 = 8 apples.", "#### 7", False, False),
    ("numeric", " 19", "19", True, True),
    ("numeric", " 1,000 apples", "1000", True, True),
    ("numeric", "no digits here", "7", False, False),
    # exact, exact-line: the answer anywhere as a whole word or phrase
    ("exact", "The capital is Paris.", "Paris", False, True),
    ("exact", "14", "4", False, False),
    ("exact-line", "I don't know", "no", False, False),
    ("exact-line", "Sure!\nNew York City is the answer", "New York", False, True),
    ("exact", "Paris", "Paris", True, True),
    # regex: a match anywhere, ^ and $ at each (stripped) line too
    (r"regex:^\d+$", "The answer:\n  42  \n", None, False, True),
    (r"regex:^\d+$", "forty-two", None, False, False),
    # contains has no looser reading
    ("contains", "Rome, Italy", "Paris", False, False),
])
def test_text_readings(spec, completion, answer, strict_ok, lenient_ok):
    assert get_verifier(spec)(completion, answer).ok is strict_ok
    assert lenient(spec)(completion, answer).ok is lenient_ok


def test_reasons():
    assert lenient("numeric")("no digits", "7") == (False, "no_number")
    assert lenient("numeric")("6 or 8", "7") == (False, "wrong_answer")
    assert lenient("numeric")("7", "seven") == (False, "answer_not_numeric")  # the strict verdict stands
    assert lenient("exact")("Rome", "Paris") == (False, "not_contained")
    assert lenient("exact")("anything", "  ") == (False, "mismatch")  # an empty answer is in every text: strict


def test_json_schema_first_object():
    strict, le = get_verifier("json-schema"), lenient("json-schema")
    prose = 'Here you go: {"name": "Ada", "age": 36}\nLet me know if you need anything else {'
    assert strict(prose, None, schema=SCHEMA) == (False, "invalid_json")
    assert le(prose, None, schema=SCHEMA) == (True, None)
    # the first object is the model's answer: a later valid one does not rescue a wrong first one
    assert le('{"name": "Ada"} or {"name": "Ada", "age": 1}', None, schema=SCHEMA) == (False, "schema_violation")
    assert le("no object {here", None, schema=SCHEMA) == (False, "no_json_object")
    assert le('{"name": "Ada", "age": 1}', None) == (False, "no_schema")  # never without a schema
    # equal to a gold document is not asked: the lenient reading is about format only
    assert le('{"name": "Bob", "age": 2} ok', '{"name": "Ada", "age": 36}', schema=SCHEMA).ok


def test_first_json_object():
    assert first_json_object('a {b} then {"x": [1, {"y": 2}]} tail') == {"x": [1, {"y": 2}]}
    assert first_json_object("no braces") is None
    assert first_json_object("{" * 100_000) is None  # bounded, no recursion blow-up
    assert first_json_object('{"a": ' * 5000 + "1" + "}" * 5000) is None  # too deep to decode: no crash


def test_python_program():
    fenced = "Here:\n```python\ndef f():\n    return 1\n```\nThat's it."
    assert lenient_program(fenced) == "def f():\n    return 1\n"
    assert lenient_program("Sure, here is the function:\ndef f():\n    return 1") == "def f():\n    return 1"
    assert lenient_program("from math import pi\nprint(pi)") == "from math import pi\nprint(pi)"
    assert lenient_program("just prose") == "just prose"


def test_python_tests_code_after_prose():
    strict, le = get_verifier("python-tests"), lenient("python-tests")
    text = "Sure, here is the function:\ndef f():\n    return 1"
    assert not strict(text, None, tests=["assert f() == 1"]).ok
    assert le(text, None, tests=["assert f() == 1"]).ok
    assert le("def f():\n    return 2", None, tests=["assert f() == 1"]) == (False, "tests_failed")


def test_user_verifier_has_no_lenient_reading():
    fn = lenient("tests.verify.test_lenient:yes_only")
    assert not hasattr(fn, "loose")
    assert fn("yes, indeed", None) == (False, "not_yes")


def yes_only(completion, answer, **item):
    return completion == "yes", None if completion == "yes" else "not_yes"


def test_regex_lenient_finds_the_items_answer_outside_the_tags():
    from dataladder.verify import get_verifier, lenient

    strict, loose = get_verifier(r"regex:<city>\s*Athens\s*</city>"), lenient(r"regex:<city>\s*Athens\s*</city>")
    text = "The capital of Greece is Athens."
    assert not strict(text, "Athens").ok and loose(text, "Athens").ok
    assert not loose("The capital of Greece is Sparta.", "Athens").ok
    assert not loose("Athensville", "Athens").ok  # a whole word, not a prefix
