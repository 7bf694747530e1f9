"""Chat templates, special tokens and end-of-turn ids on user-style tokenizers: eval and training see the same prompt."""

import json

import pytest

pytestmark = pytest.mark.integration


def _skills(path):
    from dataladder.skills import resolve_skills

    return {s.name: s for s in resolve_skills([str(path)])}


def test_eval_and_training_prompt_tokens_are_identical(user_model_dir, user_tasks):
    from dataladder.generate import GenOptions, encode_prompt
    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model
    from dataladder.train.sft import tokenize_records

    model, tok = load_model(str(user_model_dir))
    for options in (GenOptions(), GenOptions(chat_template="on", system_prompt="Be brief."), GenOptions(chat_template="off")):
        gen = HFGenerator(model, tok, options)
        for sk in _skills(user_tasks["eval"]).values():
            fmt = list(sk.formats)[0]
            it = sk.items("eval", 1, 0)[0]
            p = gen.prompt_for(sk, fmt, it)
            eval_ids = encode_prompt(tok, p)
            row = tokenize_records(tok, [sk.example(fmt, it)], gen.policy)[0]
            n_prompt = row["completion_mask"].index(1)
            assert row["input_ids"][:n_prompt] == eval_ids, (options, sk.name)
            # never a double BOS: the Llama-style tokenizer adds one, the template writes one, the prompt has one
            if tok.bos_token_id is not None:
                assert eval_ids.count(tok.bos_token_id) == 1 and eval_ids[0] == tok.bos_token_id
            completion = tok.decode(row["input_ids"][n_prompt:])
            if p.messages is not None:  # the assistant turn is the loss, its end-of-turn token included
                end = "<|im_end|>" if "<|im_end|>" in tok.get_vocab() else "<|eot_id|>"
                assert completion.startswith(sk.formats[fmt].completion(it)) and end in completion
                assert options.system_prompt is None or p.messages[0] == {"role": "system", "content": "Be brief."}
            else:
                assert completion.endswith(tok.eos_token)


def test_chat_template_auto_follows_the_item(user_model_dir, user_tasks):
    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model

    model, tok = load_model(str(user_model_dir))
    gen = HFGenerator(model, tok)
    sk = _skills(user_tasks["eval"])
    letters = gen.prompt_for(sk["letters"], "default", sk["letters"].items("eval", 1, 0)[0])
    assert letters.messages is not None and letters.stop == ()  # a conversation: templated; no newline stop
    reverse = gen.prompt_for(sk["reverse"], "chat", sk["reverse"].items("eval", 1, 0)[0])
    assert reverse.messages is not None  # a raw prompt in a `chat` format asks for the template
    assert gen.render_text(letters).startswith(tok.bos_token or "<|im_start|>")


def test_every_end_id_stops_generation(user_model_dir):
    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model

    model, tok = load_model(str(user_model_dir))
    ids = HFGenerator(model, tok).eos_ids(chat=True)
    vocab = tok.get_vocab()
    if "<|eot_id|>" in vocab:  # Llama-style: the tokenizer's EOS, the generation_config list, the template's end
        assert set(ids) == {vocab["<|endoftext|>"], vocab["<|eot_id|>"]}
    else:
        assert ids == [vocab["<|im_end|>"]]


def test_budget_comes_from_the_longest_gold_answer_in_tokens(user_model_dir, user_tasks):
    from dataladder.generate import GenOptions
    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model

    model, tok = load_model(str(user_model_dir))
    sk = _skills(user_tasks["eval"])["person"]
    it = sk.items("eval", 1, 0)[0]
    longest = max(len(tok(r, add_special_tokens=False)["input_ids"]) for r in sk.references)
    assert HFGenerator(model, tok).prompt_for(sk, "default", it).max_new_tokens == longest + max(16, -(-longest // 4))
    assert HFGenerator(model, tok, GenOptions(max_new_tokens=7)).prompt_for(sk, "default", it).max_new_tokens == 7
    own = type(it)(it.skill, it.key, it.answer, {**it.data, "max_new_tokens": 3})
    assert HFGenerator(model, tok, GenOptions(max_new_tokens=7)).prompt_for(sk, "default", own).max_new_tokens == 3


def test_chat_template_on_without_a_template_is_an_error(micro):
    import copy

    from dataladder.generate import GenOptions
    from dataladder.generate.hf import HFGenerator

    model, tok = micro
    bare = copy.deepcopy(tok)  # the micro tokenizer has a template: remove it on a copy
    bare.chat_template = None
    with pytest.raises(ValueError, match="no chat template"):
        HFGenerator(model, bare, GenOptions(chat_template="on"))


def test_messages_train_file_rows_equal_the_eval_rendering(user_model_dir, user_tasks, tmp_path):
    """A `messages` train file trains on exactly the prompt tokens the eval sees for the same conversation."""
    from dataladder.data.trainfile import read_train_file
    from dataladder.generate import encode_prompt
    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model
    from dataladder.train.sft import record_prompt, tokenize_records

    model, tok = load_model(str(user_model_dir))
    gen = HFGenerator(model, tok)
    recs = [r for _, r in read_train_file(user_tasks["train"])][:5]
    rows = tokenize_records(tok, recs, gen.policy)
    for r, row in zip(recs, rows):
        ids = encode_prompt(tok, record_prompt(gen.policy, r))
        assert row["input_ids"][: len(ids)] == ids and row["completion_mask"][len(ids)] == 1
    # the same records as Alpaca and ShareGPT read the same
    alpaca = tmp_path / "a.json"
    alpaca.write_text(json.dumps([{"instruction": r["prompt"][-1]["content"], "output": r["completion"]} for r in recs]))
    share = tmp_path / "s.jsonl"
    share.write_text("".join(json.dumps({"conversations": [{"from": "human", "value": r["prompt"][-1]["content"]},
                                                           {"from": "gpt", "value": r["completion"]}]}) + "\n"
                             for r in recs))
    assert [r["completion"] for _, r in read_train_file(alpaca)] == [r["completion"] for r in recs]
    assert [r["prompt"] for _, r in read_train_file(share)] == [r["prompt"] for r in recs]


def test_raw_train_prompts_follow_a_chat_evaluation_unless_templated_by_hand(user_model_dir):
    from dataladder.generate import encode_prompt
    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model
    from dataladder.train.sft import record_prompt, tokenize_records

    model, tok = load_model(str(user_model_dir))
    policy = HFGenerator(model, tok).policy
    msgs = [{"role": "user", "content": "Reverse the word apple."}]
    chat_ids = encode_prompt(tok, policy.prompt(None, msgs))
    by_hand = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    for prompt in ("Reverse the word apple.", by_hand):  # a raw prompt, and one templated by hand
        row = tokenize_records(tok, [{"prompt": prompt, "completion": "elppa", "chat": True}], policy)[0]
        assert row["input_ids"][: len(chat_ids)] == chat_ids and row["completion_mask"][len(chat_ids)] == 1
    assert record_prompt(policy, {"prompt": by_hand, "chat": True}, tok).text == by_hand
