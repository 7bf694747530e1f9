import json

import pytest

from dataladder.core.errors import InputError
from dataladder.skills import load_skills


def write(tmp_path, rows, name="s.jsonl"):
    p = tmp_path / name
    p.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return p


def test_prompt_completion_and_messages(tmp_path):
    p = write(tmp_path, [
        {"skill": "capital", "prompt": "Capital of France?", "completion": " Paris", "verifier": "contains"},
        {"skill": "capital", "messages": [{"role": "user", "content": "Capital of Italy?"},
                                          {"role": "assistant", "content": "Rome"}]},
        {"skill": "yesno", "prompt": "Is 2 even?", "completion": "yes", "verifier": "regex:^(yes|no)$"},
    ])
    skills = load_skills([f"{p}:eval_share=1"])  # every unmarked item an eval item
    assert [s.name for s in skills] == ["capital", "yesno"]
    cap = skills[0]
    items = cap.items("eval", 10, 0)
    assert len(items) == 2
    assert cap.score("It is Paris.", items[0]).ok  # contains
    assert cap.score("Rome", items[1]).ok and not cap.score("Roma", items[1]).ok  # exact (default)
    assert skills[1].score("no", skills[1].items("eval", 1, 0)[0]).ok  # regex
    assert cap.items("train", 1, 0) == []


@pytest.mark.parametrize("line,field", [
    ('{"skill": "x", "prompt": "a", "completion": "{}", "verifier": "json-schema"}', "schema"),
    ('{"skill": "x", "prompt": "a", "completion": "x = 1", "verifier": "python-tests"}', "tests"),
    ('{"skill": "x", "prompt": "a", "completion": "b", "stop": "\\n"}', "stop"),
    ('{"skill": "x", "prompt": "a", "completion": "b", "stop": [""]}', "stop"),
    ('{"skill": "x", "prompt": "a", "completion": "b", "max_new_tokens": 0}', "max_new_tokens"),
    ('{"skill": "x", "prompt": "a", "completion": "b", "max_new_tokens": "9"}', "max_new_tokens"),
    ('{"skill": "x", "prompt": "a"}', "completion"),
    ('{"prompt": "a", "completion": "b"}', "skill"),
    ('{"skill": "x", "prompt": "a", "completion": "b", "verifier": "numerc"}', "verifier"),
    ('{"skill": "x", "messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "x"}]}', "messages[1].role"),
    ('{"skill": "x", "messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]}', "messages[0]"),
])
def test_malformed_line_names_file_line_and_field(tmp_path, line, field):
    p = write(tmp_path, ['{"skill": "x", "prompt": "a", "completion": "b"}', line])
    with pytest.raises(InputError) as e:
        load_skills([str(p)])
    assert e.value.line == 2 and e.value.field == field and e.value.file == str(p)
    assert str(e.value).startswith(f"{p}:2: field '{field}'")


def test_bad_json(tmp_path):
    p = write(tmp_path, ["{not json"])
    with pytest.raises(InputError, match=r":1: not valid JSON"):
        load_skills([str(p)])


def test_extra_fields_reach_the_verifier(tmp_path):
    """A python-tests item carries its tests in its own field, as MBPP/HumanEval-style files do."""
    from dataladder.skills import get_skill

    path = tmp_path / "code.jsonl"
    line = {"skill": "double", "prompt": "Write double(x).", "completion": "def double(x):\n    return 2 * x",
            "verifier": "python-tests", "tests": "assert double(3) == 6\nassert double(-1) == -2"}
    path.write_text(json.dumps(line) + "\n")
    sk = get_skill(f"{path}:eval_share=1")
    (item,) = sk.items("eval", 10, 0)
    assert sk.score("def double(x):\n    return 2 * x", item).ok
    bad = sk.score("def double(x):\n    return x + 2", item)
    assert not bad.ok and bad.reason == "tests_failed"


def test_items_carry_stops_budgets_and_gold_that_passes(tmp_path):
    p = write(tmp_path, [
        {"skill": "list", "prompt": "Letters of ab?", "completion": "a\nb", "stop": ["\n\n"], "max_new_tokens": 9},
        {"skill": "list", "prompt": "Letters of cd?", "completion": "c\nd", "format": "chat"},
    ])
    sk = load_skills([f"{p}:eval_share=1"])[0]
    a, b = sk.items("eval", 10, 0)
    assert a.data["stop"] == ["\n\n"] and a.data["max_new_tokens"] == 9
    assert sk.max_new_tokens is None and sk.references == ("a\nb", "c\nd")  # the budget comes from the gold answers
    assert sk.formats["chat"].chat and not sk.formats["default"].chat
    assert sk.check_gold() == []  # a multi-line gold answer passes `exact`
    bad = write(tmp_path, [{"skill": "n", "prompt": "1+1?", "completion": "two", "answer": "2", "verifier": "numeric"}],
                "bad.jsonl")
    [(item, gold, verdict)] = load_skills([str(bad)])[0].check_gold()
    assert gold == "two" and verdict.reason == "no_number" and item.data["source"] == f"{bad}:1"


def test_a_skill_of_a_multi_skill_file_is_named_file_colon_skill(tmp_path):
    from dataladder.skills import get_skill, resolve_skills

    p = write(tmp_path, [{"skill": "a", "prompt": "x", "completion": "y"}, {"skill": "b", "prompt": "u", "completion": "v"}])
    assert [s.name for s in resolve_skills([str(p)])] == ["a", "b"]
    assert get_skill(f"{p}:b").name == "b" and [s.name for s in resolve_skills([f"{p}:a"])] == ["a"]
    with pytest.raises(ValueError, match=f"holds 2 skills \\(a, b\\); name one, e.g. {p}:a"):
        get_skill(str(p))
    with pytest.raises(ValueError, match="did you mean 'b'"):
        get_skill(f"{p}:bb")


def test_a_climb_evaluates_every_skill_of_an_eval_file(tmp_path):
    from dataladder.ladder.climb import ClimbConfig

    p = write(tmp_path, [{"skill": "a", "prompt": "x", "completion": "y"}, {"skill": "b", "prompt": "u", "completion": "v"}])
    cfg = ClimbConfig(skills=[f"{p}:a"], eval_skills=[str(p)])
    assert cfg.evaluated() == [f"{p}:a", f"{p}:b"] and cfg.format_for(f"{p}:a") == "default"


def test_a_misspelt_field_is_an_error_not_a_verifier_keyword(tmp_path):
    p = write(tmp_path, [{"skill": "s", "prompt": "q", "completion": "a", "verifer": "contains"}])
    with pytest.raises(InputError) as e:
        load_skills([str(p)])
    assert e.value.field == "verifer" and "did you mean 'verifier'" in str(e.value)
