"""DPO: pairs tokenized as SFT and generation see them; policies on tiny-arith and user-style chat models learn
held-out preferences (full and LoRA) without touching the base model."""

import copy

import pytest
import torch

from dataladder.train.dpo import DPOHparams, logp_margins, tokenize_pairs


@pytest.fixture(autouse=True)
def _one_thread():
    """Models of 0.1–1M parameters: one thread is as fast, and far faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_unchanged(model, before: dict):
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert "forward" not in model.__dict__  # TRL's fused LM head went on a copy, not on the caller's model


def test_steps_for_bounds():
    hp = DPOHparams(epochs=2, batch_size=16, min_steps=40, max_steps=100)
    assert (hp.steps_for(80), hp.steps_for(480), hp.steps_for(10_000)) == (40, 60, 100)
    with pytest.raises(ValueError):
        DPOHparams(lr=1e-3)  # extra="forbid": a misspelt --hp key is an error


def test_pairs_tokenize_as_sft_records(micro):
    from dataladder.train.sft import tokenize_records

    _, tok = micro
    pair = {"prompt": "Question: What is 3 plus 4?\nAnswer:", "chosen": " 7", "rejected": " 8"}
    row = tokenize_pairs(tok, [pair])[0]
    sft = tokenize_records(tok, [{"prompt": pair["prompt"], "completion": pair["chosen"]}])[0]
    n = len(row["prompt_ids"])
    assert row["prompt_ids"] + row["chosen_ids"] == sft["input_ids"] and sft["completion_mask"][n - 1 : n + 1] == [0, 1]
    assert row["chosen_ids"][-1] == row["rejected_ids"][-1] == tok.eos_token_id  # a raw prompt's answer ends with EOS
    assert tok.decode(row["rejected_ids"], skip_special_tokens=True) == " 8"


def test_conversational_pairs_end_with_the_end_of_turn(tmp_path):
    from transformers import AutoTokenizer

    from tests.usermodels import build_model

    tok = AutoTokenizer.from_pretrained(build_model("qwen", tmp_path / "qwen"))
    msgs = [{"role": "user", "content": "List the letters of cat, one per line."}]
    chat, raw = tokenize_pairs(tok, [{"prompt": msgs, "chosen": "c\na\nt", "rejected": "t\na\nc"},
                                     {"prompt": msgs[0]["content"], "chosen": "c\na\nt", "rejected": "x"}])
    assert tok.decode(chat["chosen_ids"]) == "c\na\nt<|im_end|>\n"  # the template's end of turn is learned
    assert tok.decode(chat["prompt_ids"]).endswith("<|im_start|>assistant\n")
    assert "<|im_start|>" not in tok.decode(raw["prompt_ids"]) and raw["chosen_ids"][-1] == tok.eos_token_id
    # a plain prompt that asks for the template (`chat: true`, as SFT records do) is rendered as a user turn
    flagged = tokenize_pairs(tok, [{"prompt": msgs[0]["content"], "chosen": "c\na\nt", "rejected": "x", "chat": True}])
    assert flagged[0] == chat | {"rejected_ids": flagged[0]["rejected_ids"]}


def test_pairs_whose_prompt_fills_max_length_are_dropped(micro):
    from dataladder.train.dpo import train_dpo

    model, tok = micro
    with pytest.raises(ValueError, match="max_length=4"):
        train_dpo(model, tok, [{"prompt": "12+34=", "chosen": "46", "rejected": "47"}], DPOHparams(max_length=4))


def test_logp_margins_are_summed_completion_log_probs(micro):
    model, tok = micro
    pairs = [{"prompt": "12+34=", "chosen": "46", "rejected": "47"},
             {"prompt": "7*8=", "chosen": "56", "rejected": "5"}]

    def logp(prompt, completion):
        row = tokenize_pairs(tok, [{"prompt": prompt, "chosen": completion, "rejected": ""}])[0]
        ids = torch.tensor([row["prompt_ids"] + row["chosen_ids"]])
        with torch.no_grad():
            lp = torch.log_softmax(model(ids).logits[0, :-1], -1).gather(-1, ids[0, 1:, None])[:, 0]
        return lp[len(row["prompt_ids"]) - 1 :].sum().item()

    want = [logp(p["prompt"], p["chosen"]) - logp(p["prompt"], p["rejected"]) for p in pairs]
    assert logp_margins(model, tok, pairs, batch_size=3) == pytest.approx(want, abs=1e-4)


@pytest.fixture(scope="module")
def arith():
    """tiny-arith with near-miss `add` pairs in the exam format (a format it has not learned): train and held out."""
    from dataladder.data.pairs import build_pairs
    from dataladder.models.hub import load_model

    model, tok = load_model("tiny-arith")
    train = build_pairs("add", 160, ["near-miss"], seed=0, fmt="exam")
    held = build_pairs("add", 80, ["near-miss"], seed=0, fmt="exam", split="heldout")
    assert {p["key"] for p in train}.isdisjoint(p["key"] for p in held)
    return model, tok, train, held


@pytest.mark.integration
def test_full_dpo_raises_heldout_preferences(arith):
    from dataladder.train.dpo import train_dpo

    model, tok, train, held = arith
    before, base_state = logp_margins(model, tok, held), state(model)
    seen = []
    hp = DPOHparams(min_steps=30, max_steps=30, batch_size=8)
    policy, stats = train_dpo(model, tok, train, hp, seed=0, on_step=lambda s, t: seen.append((s, t)))
    after = logp_margins(policy, tok, held)
    assert stats["pairs"] == 160 and stats["steps"] == 30 and seen[-1] == (30, 30)
    assert stats["tensors_changed"] > 0 and stats["flops"] > 0 and stats["last_loss"] < stats["first_loss"]
    assert 0 <= stats["reward_accuracy"] <= 1 and stats["margin"] > 0
    # margins that hold for any training order, not only this CPU's: over training seeds 0-7 the held-out pairs
    # preferred rose by 9-37 of 80 and the mean margin by 2.5-16.5 (an update that does nothing or the wrong
    # way moves neither)
    assert sum(m > 0 for m in after) > sum(m > 0 for m in before) + 0.05 * len(held), (before, after)
    assert sum(after) / len(after) > sum(before) / len(before) + 1
    assert_unchanged(model, base_state)
    assert not policy.training and "forward" not in policy.__dict__
    # the result is a plain model again: a deep copy runs its own weights (a later rung copies it)
    twin = copy.deepcopy(policy)
    with torch.no_grad():
        next(twin.parameters()).add_(1.0)
    assert logp_margins(twin, tok, held[:4]) != pytest.approx(after[:4])


@pytest.mark.integration
def test_lora_dpo_learns_and_leaves_the_base_alone(arith):
    from dataladder.train.dpo import train_dpo

    model, tok, train, held = arith
    before, base_state = logp_margins(model, tok, held), state(model)
    hp = DPOHparams(min_steps=30, max_steps=30, batch_size=8)
    policy, stats = train_dpo(model, tok, train, hp, lora_r=4, seed=0)
    after = logp_margins(policy, tok, held)
    assert stats["trainable_parameters"] < stats["parameters"] / 10 and stats["tensors_changed"] > 0
    assert type(policy) is type(model) and policy.state_dict().keys() == model.state_dict().keys()  # merged
    assert not policy.training and "forward" not in policy.__dict__
    assert sum(after) / len(after) > sum(before) / len(before) + 1, (before, after)
    assert_unchanged(model, base_state)


@pytest.mark.integration
def test_conversational_multiline_pairs_on_user_models(user_model_dir, tmp_path, monkeypatch):
    """Qwen-style (ChatML) and Llama-style (BOS, eot) models with message prompts and multi-line code answers;
    `tracking` reaches the trainer (TensorBoard, as `train.tracking` sets it up)."""
    from dataladder.models.hub import load_model
    from dataladder.train.dpo import train_dpo
    from tests.usermodels import task_items

    model, tok = load_model(str(user_model_dir))
    pairs = []
    for it in task_items():
        if it["skill"] == "code":
            prompt, answer = it["messages"][:1], it["messages"][1]["content"]
            pairs.append({"prompt": prompt, "chosen": answer, "rejected": answer.replace(" + ", " - ")})
    train, held = pairs[:30], pairs[30:]
    assert all("\n" in p["chosen"] for p in pairs)
    row = tokenize_pairs(tok, train[:1])[0]
    if tok.bos_token_id is not None:
        assert row["prompt_ids"].count(tok.bos_token_id) == 1  # the template's BOS, not a second one
    before, base_state = logp_margins(model, tok, held), state(model)
    hp = DPOHparams(min_steps=20, max_steps=20, batch_size=8, learning_rate=1e-3)
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    policy, stats = train_dpo(model, tok, train, hp, seed=0,
                              tracking={"report_to": ["tensorboard"], "run_name": "dpo-test", "logging_steps": 1})
    after = logp_margins(policy, tok, held)
    assert stats["pairs"] == 30 and stats["margin"] > 0 and stats["last_loss"] < stats["first_loss"]
    assert sum(after) / len(after) > sum(before) / len(before) + 1, (before, after)
    assert all(a > b for a, b in zip(after, before))
    assert_unchanged(model, base_state)
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
