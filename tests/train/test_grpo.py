import pytest

from dataladder.skills import get_skill
from dataladder.train.grpo import GRPOHparams, verifier_reward


def test_verifier_reward_cuts_at_the_rows_stop_strings_then_verifies():
    sk = get_skill("mul", digits=1)
    items = sk.items("train", 3, 0)
    reward = verifier_reward(sk, {it.key: it for it in items})
    comps = [items[0].answer + "\n3*3=9", str(int(items[1].answer) + 1), "x\n" + items[2].answer]
    kw = dict(prompts=["p"] * 3, completions=comps, answer=[it.answer for it in items], key=[it.key for it in items])
    assert reward(**kw, stop=[["\n"]] * 3) == [1.0, 0.0, 0.0]  # the arithmetic formats stop at the newline
    assert reward(**kw) == [1.0, 0.0, 1.0]  # without a stop string the verifier sees the whole completion
    # TRL's conversational completions are lists of assistant turns
    chat = [[{"role": "assistant", "content": c}] for c in comps]
    assert reward(**{**kw, "completions": chat}, stop=[["\n"]] * 3) == [1.0, 0.0, 0.0]


def test_rollouts_per_step():
    assert GRPOHparams(prompts_per_step=4, num_generations=8).rollouts_per_step == 32


@pytest.mark.integration
def test_micro_grpo_changes_parameters_and_logs_trl_metrics(micro):
    import torch

    from dataladder.train.grpo import train_grpo

    model, tok = micro
    sk = get_skill("add", digits=1)
    items = sk.items("train", 8, 0)
    rows = [{"prompt": sk.formats["native"].prompt(it), "answer": it.answer, "key": it.key, "stop": ["\n"]} for it in items]
    # a reward that varies within every group (completion length parity), so every step has signal
    def parity(prompts, completions, **_):
        return [float(len(c) % 2) for c in completions]

    hp = GRPOHparams(learning_rate=1e-3, prompts_per_step=2, num_generations=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trained, stats = train_grpo(model, tok, rows, [parity, verifier_reward(sk)], hp, steps=3, seed=0,
                                max_completion_length=6, reward_weights=[1.0, 0.0])
    assert stats["tensors_changed"] > 0
    assert any(not torch.equal(before[k], v) for k, v in trained.state_dict().items())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the base is untouched
    assert len(stats["log"]) == 3 and stats["rollouts"] == 3 * 8
    for h in stats["log"]:
        for k in ("reward", "reward_std", "frac_reward_zero_std", "rewards/parity/mean", "rewards/verifier/mean"):
            assert k in h
        assert 0.0 <= h["frac_reward_zero_std"] <= 1.0
    assert not trained.training


def test_too_few_prompts_is_an_error(micro):
    from dataladder.train.grpo import train_grpo

    model, tok = micro
    with pytest.raises(ValueError, match="need 16 prompts"):
        train_grpo(model, tok, [{"prompt": "1+1=", "answer": "2"}], [lambda **k: [0.0]], GRPOHparams(prompts_per_step=8),
                   steps=2, seed=0)
