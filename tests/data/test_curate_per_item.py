"""curate on a skill whose items carry different verifiers: no item's verifier judges another item's record."""

import json

from dataladder.data.curate import CurateConfig, curate
from tests.skills.test_per_item_verifiers import city_file


def records(tmp_path, rows):
    p = tmp_path / "recs.jsonl"
    p.write_text("".join(json.dumps({"skill": "city", **r}) + "\n" for r in rows))
    return p


ROWS = [
    {"prompt": "Where is the Colosseum?", "completion": "<city>Rome</city>"},  # its item's own regex (Rome)
    {"prompt": "Where is the Colosseum?", "completion": "<city>Paris</city>"},  # refused by that regex
    {"prompt": "Where is the Trevi Fountain?", "completion": "<city>Rome</city>"},  # no item asks it
    {"prompt": "Where is the Mole?", "completion": "<city>Turin</city>", "verifier": "regex:<city>Turin</city>"},
]


def test_a_record_no_item_asks_is_never_judged_by_the_first_items_verifier(tmp_path):
    skill = str(city_file(tmp_path))
    steps = ["validate", "verify"]
    stats = curate(records(tmp_path, ROWS), tmp_path / "c", CurateConfig(skill=skill, steps=steps))
    kept = [json.loads(x) for x in (tmp_path / "c" / "kept.jsonl").read_text().splitlines()]
    # before: the Trevi record was checked against item 0's regex (Paris) and dropped as no_match
    assert [r["prompt"] for r in kept] == ["Where is the Colosseum?", "Where is the Trevi Fountain?",
                                           "Where is the Mole?"]
    assert stats["dropped"] == {"no_match": 1}  # the wrong city for the Colosseum, by the Rome item's regex
    assert stats["unverified_kept"] == 1 and stats["unverified_reasons"] == {"no_item_verifier": 1}
    strict = curate(records(tmp_path, ROWS), tmp_path / "s",
                    CurateConfig(skill=skill, steps=steps, require_verified=True))
    assert strict["dropped"] == {"no_match": 1, "no_item_verifier": 1} and strict["kept"] == 2
    row = [json.loads(x) for x in (tmp_path / "s" / "rejected.jsonl").read_text().splitlines()]
    assert [r["record"]["prompt"] for r in row if r["reason"] == "no_item_verifier"] == ["Where is the Trevi Fountain?"]
