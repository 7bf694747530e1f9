"""Base models (no chat template): conversations get the QA frame, in eval and training alike; generation stops
at the frame's next turn; training ends the answer with EOS; probe.json says which frame was used."""

import json

import pytest

from dataladder.generate import ChatPolicy, Generator, GenOptions, Prompt
from dataladder.generate.chat import QA_STOP, qa_text


def test_qa_text_frames_a_system_line_and_alternating_turns():
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"}, {"role": "user", "content": "3+3?"}]
    assert qa_text(msgs) == "Be brief.\n\nQuestion: 2+2?\nAnswer: 4\n\nQuestion: 3+3?\nAnswer:"
    assert qa_text(msgs[1:2]) == "Question: 2+2?\nAnswer:"


def test_policy_without_a_template_frames_conversations_and_their_stops():
    msgs = [{"role": "user", "content": "hi"}]
    policy = ChatPolicy("auto", "Be brief.", False, ("END",))
    p = policy.prompt(None, msgs, stop=("\n\n\n",))
    assert p.qa and p.frame == "qa-frame" and p.messages is None
    assert p.text == "Be brief.\n\nQuestion: hi\nAnswer:"  # the system prompt is the first line
    assert p.stop == ("\n\n\n",) + QA_STOP + ("END",) and "\nQuestion:" in p.stop
    chat_format = policy.prompt("Reverse abc.", wants_chat=True)  # a plain prompt in a `chat` format: framed too
    assert chat_format.qa and chat_format.text.endswith("Question: Reverse abc.\nAnswer:")
    raw = policy.prompt("12+7=", stop=("\n",))
    assert raw.frame == "raw" and raw.text == "12+7=" and raw.stop == ("\n", "END")  # no frame, no frame stops
    assert ChatPolicy("auto", None, True).prompt(None, msgs).frame == "chat-template"
    assert Prompt(text="Question: q\nAnswer:", qa=True).answer(" Rome") == "Rome"
    assert Prompt(text="q").answer(" Rome") == " Rome"  # a raw prompt's completion is left as it is
    with pytest.raises(ValueError):
        Prompt(messages=tuple(msgs), qa=True)


class _Echo(Generator):
    """A backend that answers every prompt with a fixed continuation, cut at its stops as backends do."""

    name = "echo"

    def __init__(self, policy, continuation):
        super().__init__(GenOptions(), policy)
        self.continuation, self.seen = continuation, []

    def _complete(self, prompts, k, sampling, on_batch):
        from dataladder.generate import cut_at_stop

        self.seen += prompts
        return [[cut_at_stop(self.continuation, p.stop)] * k for p in prompts]

    def render_text(self, p):
        return p.text

    def count_tokens(self, text):
        return len(text)


def test_generation_cuts_at_the_next_question_and_drops_the_frame_space():
    gen = _Echo(ChatPolicy("auto", None, False), " Rome\n\nQuestion: and France?\nAnswer: Paris")
    p = gen.policy.prompt(None, [{"role": "user", "content": "Capital of Italy?"}])
    assert gen.greedy([p]) == ["Rome"] and gen.sample([p], 2) == [["Rome", "Rome"]]
    assert gen.seen[0].stop == QA_STOP  # what the backend is given to stop on


@pytest.fixture(scope="module")
def base_llama(tmp_path_factory):
    """The Llama-style user model with its chat template removed (a base model), its tokenizer, and the tasks."""
    from transformers import AutoTokenizer

    from tests.usermodels import build_model, without_chat_template, write_tasks

    root = tmp_path_factory.mktemp("base-llama")
    d = without_chat_template(build_model("llama", root / "chat"), root / "base")
    tok = AutoTokenizer.from_pretrained(d)
    assert not tok.chat_template and not (d / "chat_template.jinja").exists()
    return d, tok, write_tasks(root / "tasks")


def test_base_model_trains_on_the_eval_prompt_then_the_answer_and_eos(base_llama):
    from dataladder.generate import encode_prompt
    from dataladder.skills import resolve_skills
    from dataladder.train.dpo import tokenize_pairs
    from dataladder.train.reward import encode
    from dataladder.train.sft import tokenize_records

    _, tok, tasks = base_llama
    policy = ChatPolicy.for_tokenizer(tok)
    gen = _Echo(policy, "")
    for sk in resolve_skills([str(tasks["eval"])]):
        fmt = list(sk.formats)[0]
        it = sk.items("eval", 1, 0)[0]
        p = gen.prompt_for(sk, fmt, it)
        question = it.data["messages"][-1]["content"] if "messages" in it.data else it.data["prompt"]
        assert p.frame == "qa-frame" and p.text == f"Question: {question}\nAnswer:", sk.name
        eval_ids = encode_prompt(tok, p)
        assert tok.decode(eval_ids) == tok.bos_token + p.text and eval_ids.count(tok.bos_token_id) == 1
        gold = sk.formats[fmt].completion(it)
        answer = tok(" " + gold, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        row = tokenize_records(tok, [sk.example(fmt, it)], policy)[0]
        assert row["input_ids"] == eval_ids + answer, sk.name  # eval prompt + " " + answer + EOS
        assert row["completion_mask"] == [0] * len(eval_ids) + [1] * len(answer)
        assert tok.decode(row["input_ids"][len(eval_ids):]) == " " + gold + tok.eos_token
        prompt = sk.example(fmt, it)["prompt"]  # the reward model (given a conversation) and DPO read the same tokens
        assert isinstance(prompt, str) or encode(tok, prompt, gold) == eval_ids + answer
        pair = tokenize_pairs(tok, [{**sk.example(fmt, it), "chosen": gold, "rejected": "x"}], policy)[0]
        assert pair["prompt_ids"] == eval_ids and pair["chosen_ids"] == answer
    assert gen.prompt_frame == "qa-frame"


class _FakeLM:
    """Stands in for the model: `generate` appends a fixed continuation and records what it was asked."""

    device = "cpu"

    def __init__(self, tok, continuation, eos):
        from types import SimpleNamespace

        self.tok, self.calls = tok, []
        self.ids = tok(continuation, add_special_tokens=False)["input_ids"]
        self.generation_config = SimpleNamespace(eos_token_id=eos)

    def generate(self, input_ids, num_return_sequences, **kw):
        import torch

        self.calls.append(kw)
        rows = input_ids.repeat_interleave(num_return_sequences, 0)
        return torch.cat([rows, torch.tensor([self.ids] * len(rows))], 1)


def test_hf_generation_of_a_base_model_stops_at_the_frame_and_probe_says_so(base_llama):
    import torch

    from dataladder.generate.hf import HFGenerator
    from dataladder.evals.probe import probe
    from dataladder.report.html import probe_section
    from dataladder.skills import resolve_skills

    d, tok, tasks = base_llama
    eos = json.loads((d / "generation_config.json").read_text())["eos_token_id"]
    lm = _FakeLM(tok, " c\na\nt\n\nQuestion: List the letters of dog.\nAnswer: d", eos)
    gen = HFGenerator(lm, tok)
    skills = [s for s in resolve_skills([str(tasks["eval"])]) if s.name == "letters"]
    report, samples = probe(gen, skills, n=2)
    assert [s["completion"] for s in samples] == ["c\na\nt", "c\na\nt"]  # cut before the next turn, no frame space
    assert samples[0]["prompt"].startswith("Question: List the letters of") and samples[0]["prompt"].endswith("Answer:")
    call = lm.calls[0]
    assert tok.eos_token_id in call["eos_token_id"]  # the EOS training teaches ends generation too
    criterion = call["stopping_criteria"][0]
    assert all("\nQuestion:" in stops for stops in criterion.stops)
    width = len(tok(samples[0]["prompt"])["input_ids"])
    stop_row = torch.tensor([[0] * width + tok(" c\na\nt\n\nQuestion:", add_special_tokens=False)["input_ids"]])
    going = torch.tensor([[0] * width + tok(" c\na\nt\n", add_special_tokens=False)["input_ids"]])
    criterion.start, criterion.stops = width, [QA_STOP]
    assert criterion(stop_row, None).tolist() == [True] and criterion(going, None).tolist() == [False]
    assert report["prompt_frame"] == "qa-frame"
    assert "Prompt frame: <b>qa-frame</b>" in probe_section({**report, "model": str(d)})


def test_probe_frame_follows_the_template_and_the_items(base_llama):
    from transformers import AutoTokenizer

    from dataladder.generate.hf import HFGenerator
    from dataladder.evals.probe import probe
    from dataladder.skills import get_skill, resolve_skills

    d, tok, tasks = base_llama
    letters = [s for s in resolve_skills([str(tasks["eval"])]) if s.name == "letters"]
    chat_tok = AutoTokenizer.from_pretrained(d.parent / "chat")  # the same model with its template
    frame = {name: probe(HFGenerator(_FakeLM(t, " a", [t.eos_token_id]), t), skills, n=1)[0]["prompt_frame"]
             for name, t, skills in [("chat", chat_tok, letters), ("base", tok, letters),
                                     ("arith", tok, [get_skill("add")])]}
    assert frame == {"chat": "chat-template", "base": "qa-frame", "arith": "raw"}


def test_grpo_reward_reads_a_qa_framed_completion_as_evaluation_does():
    from types import SimpleNamespace

    from dataladder.skills import Format, Item, Skill
    from dataladder.train.grpo import verifier_reward

    seen = []

    def verify(text, answer, **_):  # records exactly what the reward hands the verifier
        seen.append(text)
        return SimpleNamespace(ok=text == answer)

    it = Item(skill="cap", key="0", answer="Rome", data={})
    sk = Skill(name="cap", items=lambda split, k, seed: [it], verify=verify, is_eval=lambda _: True,
               formats={"chat": Format(prompt=lambda _: "Capital of Italy?", completion=lambda i: i.answer, chat=True)},
               target_format="chat", verifier="exact")
    reward = verifier_reward(sk, {"0": it})
    done = " Rome\nQuestion: and France?"
    assert reward(["p"], [done], ["Rome"], key=["0"], stop=[list(QA_STOP)], qa=[True]) == [1.0]
    policy = ChatPolicy("auto", None, False)
    p = policy.prompt(None, [{"role": "user", "content": "Capital of Italy?"}])
    assert _Echo(policy, done).greedy([p]) == [seen[-1]] == ["Rome"]  # evaluation reads the same text
    assert reward(["p"], [" Rome"], ["Rome"], key=["0"], stop=[[]], qa=[False]) == [0.0]  # a raw prompt's space stays
    assert seen[-1] == " Rome"
