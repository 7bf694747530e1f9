"""`Skill.score_lenient`: the lenient reading of the item's own verifier, asked through the skill."""

import json

from dataladder.skills import Format, Item, Skill, get_skill, load_skills
from dataladder.verify import Verdict


def test_arithmetic_reads_numeric_leniently():
    add = get_skill("add")
    it = Item(skill="add", key="12+7", answer="19", data={"operands": [12, 7]})
    assert not add.score("12 plus 7 is 19", it).ok
    assert add.score_lenient("12 plus 7 is 19", it).ok
    assert add.score_lenient(" 19", it) == (True, None)
    assert add.score_lenient(" 18", it) == (False, "wrong_answer")


def test_each_item_its_own_verifier(tmp_path):
    p = tmp_path / "mixed.jsonl"
    rows = [{"skill": "m", "prompt": "Capital of France?", "completion": "Paris", "verifier": "exact", "split": "eval"},
            {"skill": "m", "prompt": "2+2?", "completion": "4", "verifier": "numeric", "split": "eval"},
            {"skill": "m", "prompt": "Capital of Italy?", "completion": "Rome", "verifier": "contains", "split": "eval"}]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sk = load_skills([str(p)])[0]
    capital, four, rome = sk.items("eval", 10, 0)
    assert sk.score_lenient("It is Paris.", capital).ok and not sk.score("It is Paris.", capital).ok
    assert sk.score_lenient("2 and 2 make 4", four).ok
    assert sk.score_lenient("Roma", rome) == sk.score("Roma", rome) == (False, "not_contained")


def test_strict_verdict_given_is_not_recomputed():
    calls = []

    def verify(completion, answer, **_):
        calls.append(completion)
        return Verdict(completion == answer, None if completion == answer else "mismatch")

    it = Item(skill="t", key="k", answer="yes")
    sk = Skill(name="t", items=lambda *a: [it], formats={"default": Format(lambda i: "q", lambda i: i.answer)},
               verify=verify, is_eval=lambda i: True)
    assert sk.score_lenient("yes", it, strict=Verdict(True)) == (True, None) and calls == []
    # no verifier spec: no lenient reading known, the strict verdict stands
    assert sk.score_lenient("well, yes", it) == (False, "mismatch") and calls == ["well, yes"]
