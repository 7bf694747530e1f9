"""Skill specs and the task-specific hooks (problem key, wrong answers, features) on user-style skills."""

import json
import random

import pytest

from dataladder.skills import get_skill, resolve_skills
from dataladder.skills.spec import parse_spec
from dataladder.skills.text import is_near, text_key, wrong_candidates
from tests.usermodels import CHATML, LLAMA3, write_tasks


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    return write_tasks(tmp_path_factory.mktemp("tasks"))


def test_spec_parameters_names_and_errors(tmp_path):
    assert parse_spec("mul").params == () and not parse_spec("mul").file
    assert get_skill("mul:digits=3").spec == "mul:digits=3"
    assert max(max(it.data["operands"]) for it in get_skill("mul:digits=3").items("train", 200, 0)) >= 100
    assert max(max(it.data["operands"]) for it in get_skill("mul").items("train", 200, 0)) < 100
    with pytest.raises(ValueError, match="did you mean 'digits'"):
        get_skill("mul:digts=3")
    with pytest.raises(ValueError, match="positive integer"):
        get_skill("mul:digits=0")
    odd = tmp_path / "a:b.jsonl"  # a path with a colon in it
    odd.write_text('{"skill": "s", "prompt": "q", "completion": "a"}\n')
    sp = parse_spec(f"{odd}:s:eval_share=1")
    assert sp.base == str(odd) and sp.name == "s" and sp.params == (("eval_share", 1),)
    assert get_skill(f"{odd}:eval_share=1").items("eval", 5, 0)[0].answer == "a"
    with pytest.raises(ValueError, match="eval_share must be"):
        get_skill(f"{odd}:eval_share=2")


def test_jsonl_split_marked_hashed_and_stable(tmp_path):
    rows = [{"skill": "w", "prompt": f"word {i}?", "completion": str(i)} for i in range(200)]
    rows[0]["split"], rows[1]["split"] = "train", "test"
    p = tmp_path / "w.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sk = get_skill(str(p))
    ev, tr = sk.items("eval", 10**6, 0), sk.items("train", 10**6, 0)
    assert len(ev) + len(tr) == 200 and 70 < len(ev) < 130  # the hash share, 0.5 by default
    assert {it.key for it in ev}.isdisjoint(it.key for it in tr)
    assert "word 0?" in {it.key for it in tr} and "word 1?" in {it.key for it in ev}
    assert [it.key for it in sk.items("train", 10, 3)] == [it.key for it in get_skill(str(p)).items("train", 10, 3)]
    assert sk.items("train", 10, 3) != sk.items("train", 10, 4)  # each seed its own order
    few = get_skill(f"{p}:eval_share=0.1")
    assert len(few.items("eval", 10**6, 0)) < len(ev)


def test_a_user_skill_may_not_take_a_builtin_name(tmp_path):
    from dataladder.core.errors import InputError

    p = tmp_path / "add.jsonl"
    p.write_text('{"skill": "q", "prompt": "a", "completion": "b"}\n{"skill": "add", "prompt": "1+1", "completion": "2"}\n')
    with pytest.raises(InputError, match=r"add.jsonl:2: field 'skill': 'add' is the name of a built-in skill"):
        get_skill(f"{p}:q")


def test_text_key_is_one_question_raw_templated_or_messages():
    from jinja2 import Template

    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Write  add_3(x)."}]
    keys = {text_key(msgs), text_key("Write add_3(x)."), text_key([msgs[1]])}
    for tpl in (CHATML, LLAMA3):
        keys.add(text_key(Template(tpl).render(messages=msgs, add_generation_prompt=True, bos_token="<|begin_of_text|>")))
    keys.add(text_key("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWrite add_3(x). [/INST]"))
    assert keys == {"write add_3(x)."}


def test_problem_hook_finds_eval_items_however_asked(tasks):
    from jinja2 import Template

    code = get_skill(f"{tasks['eval']}:code")
    it = code.items("eval", 1, 0)[0]
    templated = Template(CHATML).render(messages=it.data["messages"], add_generation_prompt=True)
    assert code.eval_item_of(templated) == it and code.eval_item_of(it.data["messages"]) == it
    assert code.eval_item_of(code.items("train", 1, 0)[0].data["messages"]) is None  # a train item is no leak
    add = get_skill("add")
    ev = add.items("eval", 1, 0)[0]
    a, b = ev.data["operands"]
    assert add.eval_item_of(f"Please compute {b} plus {a}.") is not None  # any wording, either order


@pytest.mark.parametrize("name", ["code", "person", "letters", "reverse"])
def test_wrong_answers_keep_the_type_and_fail_the_verifier(tasks, name):
    sk = get_skill(f"{tasks['eval']}:{name}")
    rng = random.Random(0)
    fmt = sk.target_format
    for it in sk.items("train", 8, 0):
        gold = sk.formats[fmt].completion(it)
        bad = sk.wrong_answer(it, fmt, rng)
        assert bad is not None and bad != gold and not sk.score(bad, it).ok
        if name == "person":
            assert isinstance(json.loads(bad), dict) and "\n  " in bad  # still a JSON object, in the gold's layout
        if name == "code":
            assert bad.startswith("def ") and "\n    " in bad  # still a program
        assert is_near(bad, gold) or name == "person"  # one edit away (JSON edits may change a few characters)


def test_arithmetic_wrong_answer_is_a_near_number():
    sk = get_skill("mul")
    rng = random.Random(1)
    for it in sk.items("train", 20, 0):
        bad = sk.wrong_answer(it, "exam", rng)
        assert bad.startswith(" ") and bad.strip().lstrip("-").isdigit() and not sk.score(bad, it).ok


def test_generic_candidates_cover_numbers_json_and_other_answers():
    rng = random.Random(0)
    assert next(wrong_candidates("42", rng)) != "42"
    js = next(wrong_candidates('{"a": 1}', rng))
    assert json.loads(js) != {"a": 1}
    got = list(wrong_candidates("abc", rng, others=["xyz"]))
    assert "xyz" in got and all(g != "abc" for g in got)


def test_features_are_the_skills_own(tasks):
    add = get_skill("add")
    it = add.items("train", 1, 0)[0]
    assert set(add.item_features(it, "exam")) == {"operand_digits", "answer_digits"}
    code = resolve_skills([f"{tasks['eval']}:code"])[0]
    f = code.item_features(code.items("train", 1, 0)[0], code.target_format)
    assert f["answer_lines"] == "2" and f["prompt_words"].startswith("≤")


def test_a_prompts_file_adds_train_items_never_eval_ones(tasks, tmp_path):
    from dataladder.core.errors import InputError
    from dataladder.skills.spec import train_skill

    spec = f"{tasks['eval']}:code"
    code = get_skill(spec)
    leak = code.items("eval", 1, 0)[0]
    lines = [{"prompt": f"Write a Python function sub_{k}(x) that returns x minus {k}.",  # no skill, no completion
              "verifier": "python-tests", "tests": [f"assert sub_{k}(10) == {10 - k}"]} for k in range(1, 6)]
    lines.append({"messages": leak.data["messages"], "verifier": "python-tests", "tests": leak.data["tests"]})
    lines.append({"skill": "person", "prompt": "x", "completion": "{}", "verifier": "json-schema", "schema": {}})
    p = tmp_path / "prompts.jsonl"
    p.write_text("".join(json.dumps(x) + "\n" for x in lines))
    more = train_skill(spec, str(p))
    train = more.items("train", 1000, 0)
    assert len(train) == len(code.items("train", 1000, 0)) + 5  # the eval item and the other skill's line: not added
    assert more.items("eval", 1000, 0) == code.items("eval", 1000, 0)
    sub_1 = next(it for it in train if "sub_1(" in it.key)
    assert more.score("def sub_1(x):\n    return x - 1", sub_1).ok and not more.score("def sub_1(x):\n    return x", sub_1).ok
    assert len(list(more.records("train", 1000, 0))) == len(train) - 5  # no gold answer: no SFT record
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "q"}\n')  # exact needs an answer
    with pytest.raises(InputError, match=r"bad.jsonl:1: field 'answer'"):
        train_skill(spec, str(bad))
    with pytest.raises(InputError, match="generates its own train items"):
        train_skill("mul", str(p))
