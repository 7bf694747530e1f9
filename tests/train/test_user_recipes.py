"""Reward models and GRPO on user-style models with conversational prompts: the chat template in training too."""

import json

import pytest

pytestmark = pytest.mark.integration


def _skill(user_tasks, name):
    from dataladder.skills import resolve_skills

    return next(s for s in resolve_skills([str(user_tasks["eval"])]) if s.name == name)


def test_reward_model_scores_conversations_with_their_end_of_turn(trained_user_model_dir, user_tasks):
    from dataladder.models.hub import load_model
    from dataladder.train.reward import RewardHparams, encode, pairwise_accuracy, train_reward

    model, tok = load_model(str(trained_user_model_dir))
    sk = _skill(user_tasks, "person")
    pairs = []
    for it in sk.items("eval", 100, 0):
        gold = json.loads(it.data["reference"])
        wrong = json.dumps({**gold, "age": gold["age"] + 1}, indent=2)
        assert sk.score(it.data["reference"], it).ok and not sk.score(wrong, it).ok
        pairs.append({"prompt": it.data["messages"], "chosen": it.data["reference"], "rejected": wrong})
    ids = encode(tok, pairs[0]["prompt"], pairs[0]["chosen"])
    text = tok.decode(ids)
    end = "<|im_end|>" if "<|im_end|>" in tok.get_vocab() else "<|eot_id|>"
    assert text.count(end) == 2 and text.rstrip().endswith(end)  # the user's turn and the answer's, each closed once
    if tok.bos_token_id is not None:
        assert ids.count(tok.bos_token_id) == 1
    rm, stats = train_reward(model, tok, pairs, RewardHparams(min_steps=60), seed=0)
    assert stats["tensors_changed"] > 0
    assert pairwise_accuracy(rm, tok, pairs)["accuracy"] >= 0.8  # it learned to prefer the verified JSON


def test_grpo_on_conversational_prompts_stops_at_the_templates_end_of_turn(trained_user_model_dir, user_tasks):
    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model
    from dataladder.train.grpo import GRPOHparams, train_grpo, verifier_reward

    model, tok = load_model(str(trained_user_model_dir))
    gen = HFGenerator(model, tok)
    sk = _skill(user_tasks, "letters")
    items = sk.items("eval", 8, 0)
    prompts = [gen.prompt_for(sk, "default", it) for it in items]
    rows = [{"prompt": list(p.messages), "answer": it.answer, "key": it.key, "stop": list(p.stop)}
            for p, it in zip(prompts, items)]
    seen = []

    def spy(prompts, completions, completion_ids, **_):  # records what TRL scored; a reward with signal in every group
        seen.extend(zip(prompts, completions, completion_ids))
        return [float(len(ids) % 2) for ids in completion_ids]

    hp = GRPOHparams(prompts_per_step=4, num_generations=4, learning_rate=1e-3)
    budget = max(p.max_new_tokens for p in prompts)
    trained, stats = train_grpo(model, tok, rows, [verifier_reward(sk, {it.key: it for it in items}), spy], hp,
                                steps=2, seed=0, max_completion_length=budget, reward_weights=[0.0, 1.0])
    assert stats["tensors_changed"] > 0 and len(stats["log"]) == 2
    end_ids = set(gen.eos_ids(chat=True))
    assert seen and all(isinstance(p, list) and p[-1]["role"] == "user" for p, _, _ in seen)  # TRL templated them
    texts = [c[0]["content"] for _, c, _ in seen]
    # What the code guarantees, whatever a sample happens to hold on this CPU: the answers are multi-line, so a
    # newline is no stop and no end id; a rollout ends only at an end id of the template or at the token budget,
    # never earlier (not cut at a newline); the end-of-turn token never shows in the text that is scored.
    assert not any("\n" in s for p in prompts for s in p.stop)
    newline_ids = set(tok("\n", add_special_tokens=False)["input_ids"])
    assert not newline_ids & end_ids and tok.convert_tokens_to_ids("<|im_end|>" if "<|im_end|>" in tok.get_vocab()
                                                                    else "<|eot_id|>") in end_ids
    assert all(ids and (ids[-1] in end_ids or len(ids) == budget) for _, _, ids in seen)
    assert all(not set(ids[:-1]) & end_ids for _, _, ids in seen)  # generation stopped at the first end id
    assert not any("<|im_end|>" in t or "<|eot_id|>" in t for t in texts)
