import sys

import pytest

from dataladder.verify import get_verifier
from dataladder.verify.core import parse_number


@pytest.mark.parametrize("text,value", [("19", 19), (" 1,000 apples", 1000), ("4.0", 4), ("-3\nmore", -3),
                                        ("3/4", 0.75), ("x", None), ("0.50", 0.5)])
def test_parse_number(text, value):
    got = parse_number(text)
    assert (got is None) if value is None else (got == value)


def test_numeric():
    v = get_verifier("numeric")
    assert v("19", "19").ok and v(" 19.", "19").ok and v("1,000", "1000").ok and v("4.0", "4").ok
    assert v("18", "19") == (False, "wrong_answer")
    assert v("", "19") == (False, "no_number")
    assert not v("12\n19", "19").ok  # the first number is the answer (the arithmetic formats end at the newline)


@pytest.mark.parametrize("rule,text,ok", [
    ("last", "3 apples and 4 pears make 7", True),
    ("first", "3 apples and 4 pears make 7", False),
    ("gsm8k", "She has 3 + 4 = 7 apples.\n#### 7", True),
    ("gsm8k", "She has 7 apples.", False),  # no #### line: no answer
    ("boxed", "so $x = \\boxed{7}$", True),
    ("boxed", "\\boxed{\\frac{1}{2}} then \\boxed{7}", True),  # the last box
    ("answer", "Work: 3+4.\nAnswer: 7", True),
    ("answer", "the answer is 7.", True),
    ("final", "#### 7", True), ("final", "\\boxed{7}", True), ("final", "3 then 7", True),
])
def test_numeric_rules(rule, text, ok):
    assert get_verifier(f"numeric:{rule}")(text, "7").ok is ok


def test_unknown_numeric_rule_is_an_error():
    with pytest.raises(ValueError, match="numeric rule"):
        get_verifier("numeric:lst")


def test_exact_compares_whole_multiline_completions():
    gold = "a\np\np\nl\ne"
    assert get_verifier("exact")(gold + "\n", gold).ok  # the list's gold passes its own verifier
    assert not get_verifier("exact")("a\np", gold).ok
    assert get_verifier("exact-line")("Paris\nmore text", "Paris").ok
    assert get_verifier("regex:(?m)^b$")("a\nb\nc", None).ok  # the whole completion, multi-line flags honoured


def test_exact_contains_regex():
    assert get_verifier("exact")(" Paris ", "Paris").ok
    assert not get_verifier("exact")("paris", "Paris").ok
    assert get_verifier("contains")("it is Paris.", "Paris").ok
    assert get_verifier("regex:^\\d+$")("123", None).ok
    assert not get_verifier("regex:^\\d+$")("12a", None).ok


def test_module_function(tmp_path, monkeypatch):
    (tmp_path / "myverif.py").write_text(
        "def even(completion, answer, **item):\n    return int(completion) % 2 == 0\n"
        "def why(completion, answer, **item):\n    return (False, 'nope')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("myverif", None)
    assert get_verifier("myverif:even")("4", "").ok
    assert get_verifier("myverif:even")("3", "") == (False, "rejected")
    assert get_verifier("myverif:why")("3", "") == (False, "nope")


def test_unknown_names():
    with pytest.raises(ValueError, match="did you mean 'numeric'"):
        get_verifier("numerc")
    with pytest.raises(ValueError, match="cannot import"):
        get_verifier("no_such_module_xyz:f")
    with pytest.raises(ValueError, match="invalid pattern"):
        get_verifier("regex:(")
