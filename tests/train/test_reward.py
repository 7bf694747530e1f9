"""Reward models: scoring is padding-invariant; a micro model learns easy pairs (beats chance); save/load."""

import random

import pytest

from dataladder.train.reward import RewardHparams, accuracy_of, pairwise_accuracy, score_texts


def easy_pairs(n, seed):
    """Right answers against letters: learnable by a micro model in a few steps."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        junk = "".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 3)))
        out.append({"prompt": f"{a}+{b}=", "chosen": str(a + b), "rejected": junk, "source": "test", "hard": False})
    return out


def test_scores_do_not_depend_on_batching(micro):
    from dataladder.train.reward import reward_model_from

    model, tok = micro
    rm = reward_model_from(model, tok, seed=0)
    rm.eval()
    assert rm.config.num_labels == 1 and rm.config.pad_token_id == tok.pad_token_id
    prompts = ["1+2=", "12+34=", "7*8=", "Question: What is 3 plus 4?\nAnswer:"]
    comps = ["3", "46", "56", " 7"]
    together = score_texts(rm, tok, prompts, comps, batch_size=4)
    alone = [score_texts(rm, tok, [p], [c])[0] for p, c in zip(prompts, comps)]
    assert together == pytest.approx(alone, abs=1e-5)
    assert len(set(round(x, 6) for x in together)) == 4
    with pytest.raises(ValueError):
        score_texts(rm, tok, prompts, comps[:2])
    # from a reward model (online retraining): a copy with its head, not a fresh head
    again = reward_model_from(rm, tok, seed=5)
    assert again is not rm and score_texts(again, tok, prompts, comps) == pytest.approx(together, abs=1e-6)


def test_accuracy_counts_ties_as_wrong():
    a = accuracy_of([1.0, -1.0, 0.0, 2.0])
    assert (a["correct"], a["n"], a["accuracy"]) == (2, 4, 0.5)
    assert a["ci_low"] < 0.5 < a["ci_high"] and a["margin"] == pytest.approx(0.5)


def test_the_untrained_base_is_averaged_over_fresh_heads(micro):
    """Each head row equals the model with that head put in; the base accuracy is the mean over heads, and a
    head that reverses another reverses every margin, so over such a pair the base is exactly one half."""
    import torch

    from dataladder.train.reward import accuracy_over_heads, head_margins, pair_margins, reward_model_from

    model, tok = micro
    rm = reward_model_from(model, tok, seed=0).eval()
    pairs = easy_pairs(12, 3)
    own = pair_margins(rm, tok, pairs)
    rows = head_margins(rm, tok, pairs, 4)
    assert len(rows) == 4 and all(len(r) == 12 for r in rows)
    assert pair_margins(rm, tok, pairs) == pytest.approx(own, abs=1e-6)  # the model's own head is put back
    head = rm.score.weight.data.clone()
    for k in (0, 3):
        torch.manual_seed(0)
        rm.score.weight.data = (torch.randn(rm.score.in_features, generator=torch.Generator().manual_seed(k))
                                * rm.config.initializer_range).reshape(1, -1)
        assert pair_margins(rm, tok, pairs) == pytest.approx(rows[k], abs=1e-5)
    rm.score.weight.data = head
    base = accuracy_over_heads(rows)
    one = [accuracy_of(r)["accuracy"] for r in rows]
    assert base["accuracy"] == pytest.approx(sum(one) / 4) and base["one_head"] == one[0] and base["heads"] == 4
    assert base["ci_low"] <= base["accuracy"] <= base["ci_high"] and base["n"] == 12
    both = accuracy_over_heads([rows[0], [-m for m in rows[0]]])  # a head and its mirror: every pair split evenly
    assert both["accuracy"] == pytest.approx(0.5) and both["ci_low"] == both["ci_high"] == pytest.approx(0.5)


@pytest.mark.integration
def test_micro_reward_model_beats_chance_and_round_trips(micro, tmp_path):
    from dataladder.train.reward import load_reward_model, reward_model_from, save_reward_model, train_reward

    model, tok = micro
    train, held = easy_pairs(160, 0), easy_pairs(100, 1)
    before = pairwise_accuracy(reward_model_from(model, tok, 0), tok, held)
    hp = RewardHparams(learning_rate=2e-3, min_steps=30, max_steps=30, batch_size=16)
    rm, stats = train_reward(model, tok, train, hp, seed=0)
    assert stats["steps"] == 30 and stats["tensors_changed"] > 0 and stats["pairs"] == 160
    acc = pairwise_accuracy(rm, tok, held)
    assert acc["ci_low"] > 0.5, (before, acc)  # beats chance with its Wilson interval
    assert acc["margin"] > before["margin"]
    assert not rm.training
    save_reward_model(rm, tok, tmp_path / "rm")
    rm2, tok2 = load_reward_model(tmp_path / "rm")
    assert pairwise_accuracy(rm2, tok2, held) == pytest.approx(acc)
    # LoRA (SEQ_CLS: the score head trains in full) also learns, with far fewer trainable parameters
    lrm, lstats = train_reward(model, tok, train, hp.model_copy(update={"learning_rate_lora": 1e-2}), lora_r=4, seed=0)
    assert lstats["trainable_parameters"] < stats["trainable_parameters"] / 4
    assert pairwise_accuracy(lrm, tok, held)["accuracy"] > 0.5
