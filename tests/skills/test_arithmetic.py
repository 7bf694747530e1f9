import random
import re

import pytest

from dataladder.models.corpus import examples
from dataladder.skills import get_skill
from dataladder.skills.arithmetic import _evaluate, in_eval_partition, partition_key, random_item

NAMES = ["add", "sub", "mul", "div", "mixed"]


@pytest.mark.parametrize("name", NAMES)
def test_generator_is_deterministic_and_distinct(name):
    s = get_skill(name)
    a = s.items("eval", 100, seed=3)
    b = s.items("eval", 100, seed=3)
    c = s.items("eval", 100, seed=4)
    assert [i.key for i in a] == [i.key for i in b]
    assert [i.key for i in a] != [i.key for i in c]
    assert len({i.key for i in a}) == 100


@pytest.mark.parametrize("name", NAMES)
def test_eval_and_train_partitions_are_disjoint(name):
    s = get_skill(name)
    ev = s.items("eval", 300, seed=0)
    tr = s.items("train", 3000, seed=0)
    assert all(s.is_eval(i) for i in ev)
    assert not any(s.is_eval(i) for i in tr)
    assert not {i.key for i in ev} & {i.key for i in tr}


def test_commutative_pairs_share_a_partition():
    # a+b and b+a are the same problem: both sides must land in the same partition
    for a in range(100):
        for b in range(100):
            assert in_eval_partition("add", partition_key("add", f"{a}+{b}", (a, b))) == in_eval_partition(
                "add", partition_key("add", f"{b}+{a}", (b, a)))


def test_one_digit_space_is_split_exhaustively():
    s = get_skill("add", digits=1)
    ev = {i.key for i in s.items("eval", 10, seed=0)}
    assert ev and all(s.is_eval(i) for i in s.items("eval", 10, seed=1))


def test_pretraining_corpus_never_contains_an_eval_item():
    gen = examples({"add": 0.4, "sub": 0.2, "mul": 0.3, "div": 0.1}, 2, random.Random(0))
    for _ in range(20000):
        it, text = next(gen)
        skill = get_skill(it.skill)
        assert not skill.is_eval(it), text
        a, b = it.data["operands"]
        assert str(a) in text and str(b) in text and text.rstrip(".").endswith(it.answer)
        assert "Question:" not in text and "What is" not in text and "Answer:" not in text  # never the exam wrapper


def test_answers_are_correct():
    for name, op in [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
                     ("div", lambda a, b: a // b)]:
        for it in get_skill(name).items("train", 200, seed=1):
            a, b = it.data["operands"]
            assert int(it.answer) == op(a, b)
    assert _evaluate("7+3*4") == 19 and _evaluate("7-3*4+2") == -3 and _evaluate("2*3*4-1") == 23
    for it in get_skill("mixed").items("eval", 100, seed=0):
        assert int(it.answer) == _evaluate(it.key)
        assert "*" in it.key and re.search(r"[-+]", it.key)


def test_digits_knob_bounds_operands():
    for it in get_skill("mul", digits=3).items("train", 300, seed=0):
        assert all(0 <= x < 1000 for x in it.data["operands"])
    assert any(x >= 100 for it in get_skill("mul", digits=3).items("train", 300, seed=0) for x in it.data["operands"])


def test_formats_and_verifier():
    s = get_skill("add")
    it = s.items("eval", 1, seed=0)[0]
    assert s.formats["native"].prompt(it) == f"{it.key}="
    assert s.formats["exam"].prompt(it).startswith("Question: What is ")
    assert s.score(s.formats["exam"].completion(it), it).ok
    assert not s.score("-1", it).ok


def test_random_item_respects_split():
    rng = random.Random(0)
    s = get_skill("div")
    assert all(not s.is_eval(random_item("div", rng, 2)) for _ in range(500))
    assert all(s.is_eval(random_item("div", rng, 2, "eval")) for _ in range(100))


def test_unknown_skill_suggests():
    with pytest.raises(KeyError, match="did you mean 'mul'"):
        get_skill("mull")
