"""A JSONL skill whose items carry their own verifiers: each item judges itself, no item speaks for the rest."""

import json

from typer.testing import CliRunner

from dataladder.cli.main import app
from dataladder.skills import load_skills

CITIES = [("Where is the Louvre?", "Paris", "train"), ("Where is the Colosseum?", "Rome", "train"),
          ("Where is the Prado?", "Madrid", "eval")]


def city_file(tmp_path, same=False):
    p = tmp_path / "cities.jsonl"
    regex = lambda c: "regex:<city>[A-Z][a-z]+</city>" if same else f"regex:<city>{c}</city>"  # noqa: E731
    p.write_text("".join(json.dumps({"skill": "city", "split": split, "prompt": q, "completion": f"<city>{c}</city>",
                                     "verifier": regex(c)}) + "\n" for q, c, split in CITIES))
    return p


def test_each_item_is_judged_by_its_own_verifier_and_none_speaks_for_the_rest(tmp_path):
    sk = load_skills([str(city_file(tmp_path))])[0]
    rome = sk.problem_of("Where is the Colosseum?")
    assert sk.score("<city>Rome</city>", rome).ok and not sk.score("<city>Paris</city>", rome).ok
    assert sk.verifier == "per item (regex)" and sk.per_item
    # without its item, the first item's regex (Paris) must not judge a completion: an honest refusal
    v = sk.verify("<city>Rome</city>", "")
    assert not v.ok and v.reason == "no_item_verifier"
    shared = load_skills([str(city_file(tmp_path, same=True))])[0]
    assert shared.verifier == "regex:<city>[A-Z][a-z]+</city>" and not shared.per_item
    assert shared.verify("<city>Oslo</city>", "").ok  # items that agree: their verifier is the skill's


def test_skills_command_shows_per_item_not_the_first_items_regex(tmp_path):
    r = CliRunner().invoke(app, ["skills", str(city_file(tmp_path))], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "per item (regex)" in r.output and "Paris" not in r.output


def test_json_agrees_compares_documents_not_layout():
    from dataladder.skills.text import json_agrees

    gold = '{"name": "Ana", "age": 31, "city": "Lisbon"}'
    assert json_agrees('```json\n{"city": "Lisbon",\n "age": 31.0, "name": "Ana"}\n```', gold).ok
    assert json_agrees('{"name": "Ana", "age": 31, "city": "Porto"}', gold).reason == "disagrees_with_gold"
    assert json_agrees('{"name": "Ana", "age": 31}', gold).reason == "disagrees_with_gold"  # a key lost
    assert json_agrees('{"ok": 1}', '{"ok": true}').reason == "disagrees_with_gold"  # true is not 1
    assert json_agrees('{"name": "Bo"}', "").ok and json_agrees('{"name": "Bo"}', None).ok  # no gold: no check
