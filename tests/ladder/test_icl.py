"""The `icl` kind: k demonstrations in the prompt, rendered through the generation layer, on a ladder of k."""

import json

import pytest

from dataladder.generate import GenOptions
from dataladder.generate.chat import QA_STOP
from dataladder.ladder.icl import ICLConfig, check_config, k_shot, train_pool


def _gen(tok, **opts):
    from dataladder.generate.hf import HFGenerator

    return HFGenerator(None, tok, GenOptions(**opts))  # prompts and rendering need only the tokenizer


@pytest.fixture(scope="module")
def arith_tok():
    from transformers import AutoTokenizer

    from dataladder.models.hub import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("tiny-arith"))


@pytest.fixture(scope="module")
def add():
    from dataladder.skills.spec import train_skill

    return train_skill("add")


@pytest.fixture(scope="module")
def letters(user_tasks):
    from dataladder.skills.spec import train_skill

    return train_skill(f"{user_tasks['eval']}:letters")


def _setup(skill, fmt, k):
    from dataladder.evals.probe import eval_items

    return eval_items(skill, 3, 0, [fmt])[fmt][0], train_pool(skill, fmt, k, 1000)


@pytest.mark.parametrize("system", [None, "Be brief."])
def test_a_conversation_gets_the_demonstrations_as_earlier_turns(arith_tok, add, system):
    gen = _gen(arith_tok, chat_template="on", system_prompt=system)
    item, demos = _setup(add, "exam", 3)
    query, p = gen.prompt_for(add, "exam", item), k_shot(gen, add, "exam", item, demos)
    head = [{"role": "system", "content": system}] if system else []
    assert len(p.messages) == 2 * 3 + 1 + len(head) and list(p.messages[: len(head)]) == head
    turns = p.messages[len(head):]
    assert [m["role"] for m in turns] == ["user", "assistant"] * 3 + ["user"]
    for d, (u, a) in zip(demos, zip(turns[0:-1:2], turns[1:-1:2])):
        assert u == gen.prompt_for(add, "exam", d).messages[-1] and a["content"] == f" {d.answer}"
    assert turns[-1] == query.messages[-1]  # the query is last, as the 0-shot prompt asks it
    assert (p.stop, p.max_new_tokens) == (query.stop, query.max_new_tokens)
    assert k_shot(gen, add, "exam", item, []) == query  # 0 shots: the probe's prompt


def test_conversational_items_on_a_chat_model(letters, user_tasks):
    from tests.usermodels import build_tokenizer

    gen = _gen(build_tokenizer("qwen"))
    item, demos = _setup(letters, "default", 2)
    p = k_shot(gen, letters, "default", item, demos)
    assert [m["role"] for m in p.messages] == ["user", "assistant"] * 2 + ["user"]
    assert [m["content"] for m in p.messages[1:4:2]] == [d.data["reference"] for d in demos]
    assert p.messages[-1] == item.data["messages"][-1]


@pytest.mark.parametrize("fmt,sep", [("native", "\n"), ("exam", "\n")])
def test_raw_text_puts_the_answered_demonstrations_before_the_query(arith_tok, add, fmt, sep):
    gen = _gen(arith_tok)  # auto: arithmetic prompts are raw text
    item, demos = _setup(add, fmt, 4)
    query, p = gen.prompt_for(add, fmt, item), k_shot(gen, add, fmt, item, demos)
    f = add.formats[fmt]
    assert p.messages is None and not p.qa
    assert p.text == "".join(f.prompt(d) + f.completion(d) + sep for d in demos) + query.text
    if fmt == "native":
        assert p.text.startswith(f"{demos[0].key}={demos[0].answer}\n")
    assert (p.stop, p.max_new_tokens) == (query.stop, query.max_new_tokens)


def test_the_qa_frame_gets_earlier_question_answer_blocks(letters):
    from tests.usermodels import build_tokenizer

    gen = _gen(build_tokenizer("llama"), chat_template="off", system_prompt="Be brief.")  # as a base model
    item, demos = _setup(letters, "default", 2)
    p = k_shot(gen, letters, "default", item, demos)
    assert p.qa and p.text.startswith("Be brief.\n\nQuestion: ") and p.text.count("Be brief.") == 1
    assert p.text.count("Question: ") == 3 and p.text.endswith(
        gen.prompt_for(letters, "default", item).text.removeprefix("Be brief.\n\n"))
    for d in demos:
        assert f"{d.data['messages'][-1]['content']}\nAnswer: {d.data['reference']}\n\n" in p.text
    assert set(QA_STOP) <= set(p.stop)


def test_demonstrations_are_train_items_never_eval_items(add, letters):
    from dataladder.evals.probe import eval_items

    for sk, fmt in ((add, "exam"), (letters, "default")):
        evals = eval_items(sk, 10_000 if sk.finite else 500, 0, [fmt])[fmt]
        pool = train_pool(sk, fmt, 64, 1000)
        assert pool and not any(sk.is_eval(d) for d in pool)
        assert not {sk.key_of(d) for d in pool} & {sk.key_of(e) for e in evals}
        assert train_pool(sk, fmt, 3, 1000) == pool[:3]  # nested: a rung of k is the first k of the seed's draw
    assert train_pool(add, "exam", 8, 1001) != train_pool(add, "exam", 8, 1000)  # seeds draw apart


@pytest.mark.parametrize("style,user,asst,end", [
    ("qwen", "<|im_start|>user\n", "<|im_start|>assistant\n", "<|im_end|>"),
    ("llama", "<|start_header_id|>user<|end_header_id|>", "<|start_header_id|>assistant<|end_header_id|>",
     "<|eot_id|>")])
def test_the_chat_template_renders_one_turn_per_demonstration(letters, style, user, asst, end):
    from tests.usermodels import build_tokenizer

    gen, k = _gen(build_tokenizer(style)), 3
    item, demos = _setup(letters, "default", k)
    text = gen.render_text(k_shot(gen, letters, "default", item, demos))
    assert text.count(user) == k + 1 and text.count(asst) == k + 1  # k demonstrations, then the query's turn
    assert text.count(end) == 2 * k + 1 and text.endswith(asst + ("\n\n" if style == "llama" else ""))
    if style == "llama":
        assert text.count("<|begin_of_text|>") == 1
    for d in demos:
        assert d.data["reference"] + end in text


def test_config_and_checks_name_the_option(tmp_path):
    with pytest.raises(ValueError, match="max_shots"):
        ICLConfig(start=8, max_shots=4)
    with pytest.raises(ValueError, match="--format.*did you mean 'exam'"):
        check_config(ICLConfig(format="exma"))
    only_eval = tmp_path / "ev.jsonl"
    line = {"skill": "sum", "prompt": "1+1=", "completion": "2", "verifier": "exact", "split": "eval"}
    only_eval.write_text(json.dumps(line) + "\n")
    with pytest.raises(ValueError, match="no train items"):
        check_config(ICLConfig(skill=str(only_eval)))
    check_config(ICLConfig())


def _done(out):
    return sorted(p.parent.name for p in (out / "runs").glob("*/done"))


@pytest.mark.integration
def test_icl_ladder_on_tiny_arith_end_to_end_and_resumed(tmp_path):
    from dataladder.evals.probe import eval_items, score_formats
    from dataladder.generate.hf import HFGenerator
    from dataladder.ladder.icl import icl
    from dataladder.models.hub import load_model
    from dataladder.skills.spec import train_skill

    cfg, lines, evals = ICLConfig(eval_n=40, max_shots=4, seeds=1), [], []
    doc = icl(cfg, tmp_path, on_rung=lines.append, on_eval=evals.append)
    assert [r["n"] for r in doc["rungs"]] == [1, 2, 4] and doc["stop"]["reason"] == "budget-exhausted"
    assert (doc["kind"], doc["unit"], doc["format"]) == ("icl", "demonstrations", "exam")
    assert doc["metric"] == "greedy accuracy with k demonstrations in the prompt (exam format)"
    for key in ("config", "model", "skill", "base", "fit", "saturation", "reached_at", "executor", "seconds",
                "peak_memory_bytes"):
        assert key in doc
    for r in doc["rungs"]:
        assert r["total"] == 40 and len(r["seeds"]) == 1 and len(r["run_dirs"]) == 1 and "forecast" in r
        assert r["over_context"] is False  # tiny-arith's 256 positions hold 4 exam demonstrations
    assert doc["rungs"][0]["prompt_tokens"] < doc["rungs"][1]["prompt_tokens"] < doc["rungs"][2]["prompt_tokens"]
    assert len(lines) == 3 and lines[0].startswith("add ICL exam n=1 demonstrations:")
    assert sum(evals) == 4 * 40  # the base and three rungs, each item reported as it is scored
    skill = train_skill("add")  # the base is the 0-shot score: the probe's own prompts on the same items
    model, tok = load_model("tiny-arith")
    probe = score_formats(HFGenerator(model, tok), skill, eval_items(skill, 40, 0, ["exam"]), ["exam"])[0]["exam"]
    assert (doc["base"]["correct"], doc["base"]["total"]) == (probe["correct"], 40)
    assert (tmp_path / "icl.json").exists() and (tmp_path / "icl.png").exists()
    done = _done(tmp_path)
    assert len(done) == 4  # the base and three rungs
    again = icl(cfg, tmp_path)
    assert _done(tmp_path) == done and again["rungs"] == doc["rungs"] and again["base"] == doc["base"]
    assert json.loads((tmp_path / "icl.json").read_text())["rungs"] == doc["rungs"]


@pytest.mark.integration
def test_icl_on_user_models_with_a_jsonl_skill(user_model_dir, user_tasks, tmp_path):
    from dataladder.ladder.icl import icl

    cfg = ICLConfig(model=str(user_model_dir), skill=f"{user_tasks['eval']}:reverse", eval_n=10, max_shots=2, seeds=2,
                    max_new_tokens=8)
    doc = icl(cfg, tmp_path)
    assert doc["format"] == "chat" and [r["n"] for r in doc["rungs"]] == [1, 2]
    assert all(r["total"] == 20 and len(r["seeds"]) == 2 for r in doc["rungs"])
    assert doc["base"]["total"] == 10 and doc["context_tokens"] == 512
