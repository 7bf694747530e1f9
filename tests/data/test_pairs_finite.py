"""Held-out pair prompts of a small finite (JSONL) skill: a fixed share of its train items, never luck, never eval."""

import json

import pytest

from dataladder.data.pairs import _items, build_pairs, slice_of
from dataladder.skills import load_skills


def small_skill(tmp_path, n_train, n_eval=6):
    p = tmp_path / f"u{n_train}.jsonl"
    rows = [{"skill": "u", "split": "train", "prompt": f"Say the word number {i}.", "completion": f"word{i}"}
            for i in range(n_train)]
    rows += [{"skill": "u", "split": "eval", "prompt": f"Say the eval word {i}.", "completion": f"eval{i}"}
             for i in range(n_eval)]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return load_skills([str(p)])[0]


@pytest.mark.parametrize("n_train,held", [(64, 13), (20, 4), (5, 1)])
def test_a_finite_skill_holds_out_a_fixed_share_of_its_train_items(tmp_path, n_train, held):
    sk = small_skill(tmp_path, n_train)
    for seed in range(10):  # before: a draw of 8 items could hold none out (`prefs` refused the skill)
        assert _items(sk, "heldout", 1, seed)
    heldout = {it.key for it in _items(sk, "heldout", 1 << 20, 0)}
    train = {it.key for it in _items(sk, "train", 1 << 20, 0)}
    assert len(heldout) == held and len(train) == n_train - held and not heldout & train
    assert heldout == {it.key for it in _items(sk, "heldout", 1 << 20, 7)}  # stable across seeds
    assert not heldout & {it.key for it in sk.items("eval", 100, 0)}
    assert all(slice_of(sk, it) == "heldout" for it in _items(sk, "heldout", 1 << 20, 0))
    pairs = build_pairs(sk, 50, ["near-miss"], split="heldout")
    assert pairs and {p["key"] for p in pairs} <= heldout


def test_too_few_train_items_refuse_held_out_pairs_saying_how_many(tmp_path):
    sk = small_skill(tmp_path, 4)
    with pytest.raises(ValueError, match=r"skill u: 4 train problems are too few for held-out pairs: holding out "
                                         r"20% needs at least 5"):
        _items(sk, "heldout", 1, 0)
    assert len(_items(sk, "train", 100, 0)) == 4  # training pairs (dpo) still use every item
