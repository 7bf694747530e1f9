"""Pair construction: chosen always verifies, rejected never (before flipping); flips and sources recorded."""

import random

import pytest

from dataladder.data.pairs import build_pairs, flip, is_hard, slice_of, verifier_labels
from dataladder.skills import get_skill




def test_near_miss_pairs_verify_and_record_source():
    sk = get_skill("mul")
    pairs = build_pairs("mul", 200, ["near-miss"], seed=3)
    assert len(pairs) == 200
    items = {it.key: it for it in sk.items("train", 2000, 3)}
    for p in pairs:
        it = items[p["key"]]
        assert sk.score(p["chosen"], it).ok and not sk.score(p["rejected"], it).ok
        assert p["source"] == "near-miss" and p["flipped"] is False and p["skill"] == "mul"
        assert p["prompt"] == sk.formats["native"].prompt(it)
        assert p["hard"] == is_hard(p["rejected"], p["answer"])
    assert sum(p["hard"] for p in pairs) > 100  # near misses are mostly hard


def test_sampled_sources_keep_only_verified_pairs(monkeypatch):
    sk = get_skill("add")

    def fake_sample(self, prompts, k, temperature=1.0, top_p=1.0, seed=0):
        rng = random.Random(seed)
        out = []
        for p in prompts:
            a, b = p.text.rstrip("=").split("+")
            v = int(a) + int(b)
            pool = [f"{v}", f"{v} ok", f"{v + 1}", f"{v + 40}", "no idea", ""]
            out.append([rng.choice(pool) for _ in range(k)])
        return out

    monkeypatch.setattr("dataladder.generate.hf.HFGenerator.sample", fake_sample)
    pairs = build_pairs(sk, 120, ["self", "near-miss"], seed=1, model=object(), tokenizer=object())
    assert {p["source"] for p in pairs} == {"self", "near-miss"}
    assert sum(p["source"] == "self" for p in pairs) == 60  # an even share per source, interleaved
    assert [p["source"] for p in pairs[:4]] == ["self", "near-miss", "self", "near-miss"]
    for p in pairs:
        assert sk.verify(p["chosen"], p["answer"]).ok, p
        assert not sk.verify(p["rejected"], p["answer"]).ok, p
        assert p["prompt"] == f"{p['key']}="
        assert p["rejected"].strip()  # an empty sample is not a rejected answer
    easy = [p for p in pairs if not p["hard"]]
    assert easy and all(not is_hard(p["rejected"], p["answer"]) for p in easy)
    hard = build_pairs(sk, 60, ["self", "near-miss"], seed=1, model=object(), tokenizer=object(), hard_only=True)
    assert hard and all(p["hard"] for p in hard)


def test_flip_share_is_honoured_and_recorded():
    pairs = build_pairs("add", 100, ["near-miss"], seed=0)
    noisy = build_pairs("add", 100, ["near-miss"], seed=0, flip_share=0.3)
    assert sum(p["flipped"] for p in noisy) == 30
    for a, b in zip(pairs, noisy):
        if b["flipped"]:
            assert (b["chosen"], b["rejected"]) == (a["rejected"], a["chosen"])
        else:
            assert b == a
    with pytest.raises(ValueError):
        flip(pairs, 1.5)


def test_heldout_slice_is_disjoint_and_never_eval():
    sk = get_skill("mul")
    train = build_pairs("mul", 100, ["near-miss"], seed=0, split="train")
    held = build_pairs("mul", 100, ["near-miss"], seed=0, split="heldout")
    items = {it.key: it for it in sk.items("train", 1600, 0)}
    canon = lambda k: tuple(sorted(k.split("*")))  # noqa: E731
    assert not {canon(p["key"]) for p in train} & {canon(p["key"]) for p in held}
    assert all(slice_of(sk, items[p["key"]]) == "heldout" for p in held)
    eval_keys = {it.key for it in sk.items("eval", 400, 0)}
    assert not eval_keys & {p["key"] for p in train + held}


def test_source_errors_and_labels():
    with pytest.raises(ValueError, match="other model"):
        build_pairs("add", 10, ["other"])
    with pytest.raises(ValueError, match="unknown pair source"):
        build_pairs("add", 10, ["teacher"])
    with pytest.raises(ValueError, match="needs the model"):
        build_pairs("add", 10, ["self"])
    sk = get_skill("add")
    its = sk.items("train", 2, 0)
    assert verifier_labels("add", its, [its[0].answer, "x"]) == [True, False]
    assert is_hard("57", "56") and is_hard("65", "56") and not is_hard("560", "56") and not is_hard("none", "56")
