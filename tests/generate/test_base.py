"""The generation seam without a model: prompts, chat policy, stops, budgets, options."""

import pytest

from dataladder.generate import ChatPolicy, GenOptions, Prompt, PromptOptions, cut_at_stop
from dataladder.generate.chat import plain_text, qa_text


def test_cut_at_stop_takes_the_earliest():
    assert cut_at_stop("19\n20", ("\n",)) == "19"
    assert cut_at_stop("a END b\n", ("\n", "END")) == "a "
    assert cut_at_stop("no stop", ("\n",)) == "no stop" and cut_at_stop("x\ny", ()) == "x\ny"


def test_chat_policy_decides_per_item():
    msgs = [{"role": "user", "content": "hi"}]
    auto = ChatPolicy("auto", None, True)
    assert auto.prompt("12+7=").text == "12+7="  # a raw prompt stays raw
    assert auto.prompt(None, msgs).messages == tuple(msgs)  # a conversation is templated
    assert auto.prompt("Reverse abc.", wants_chat=True).messages == ({"role": "user", "content": "Reverse abc."},)
    on = ChatPolicy("on", "Be brief.", True, ("END",))
    p = on.prompt("12+7=", stop=("\n",))
    assert p.messages[0] == {"role": "system", "content": "Be brief."} and p.stop == ("\n", "END")
    off = ChatPolicy("off", None, True)  # never the template: a conversation gets the QA frame
    assert off.prompt(None, msgs).text == qa_text(msgs) == "Question: hi\nAnswer:" and off.prompt(None, msgs).qa
    assert off.prompt("12+7=").frame == "raw"
    no_template = ChatPolicy("auto", None, False)
    assert no_template.prompt(None, msgs).text == "Question: hi\nAnswer:"
    assert plain_text(msgs) == "user: hi\nassistant:"  # still the text key of a messages item (skills/jsonl.py)


def test_a_prompt_is_text_or_messages():
    with pytest.raises(ValueError):
        Prompt()
    with pytest.raises(ValueError):
        Prompt(text="a", messages=({"role": "user", "content": "a"},))
    assert Prompt(text="q").as_messages() == [{"role": "user", "content": "q"}]


def test_prompt_options_key_only_when_changed():
    assert PromptOptions().prompt_key() is None
    assert PromptOptions(chat_template="on").prompt_key()["chat_template"] == "on"
    opts = PromptOptions(stop=["\n\n"]).gen_options(backend="endpoint", endpoint_url="http://x/v1", endpoint_model="m")
    assert isinstance(opts, GenOptions) and opts.stop == ["\n\n"] and opts.backend == "endpoint"
    assert "api_key" not in GenOptions(api_key="secret").model_dump()  # never written to a result file


def test_cli_stop_escapes_and_bad_budgets():
    from dataladder.cli.common import prompt_fields

    assert prompt_fields("auto", None, ["\\n\\n", "END"], None)["stop"] == ["\n\n", "END"]
    with pytest.raises(ValueError, match="--max-new-tokens"):
        prompt_fields("auto", None, None, 0)
    with pytest.raises(ValueError, match="--stop"):
        prompt_fields("auto", None, [""], None)
    # without the template a conversation takes the QA frame, whose first line is the system prompt
    assert prompt_fields("off", "Be brief.", None, None)["system_prompt"] == "Be brief."


def test_endpoint_options_are_checked_before_any_request():
    from dataladder.generate import make_generator

    with pytest.raises(ValueError, match="--endpoint-url"):
        make_generator(GenOptions(backend="endpoint"))
    with pytest.raises(ValueError, match="expected http"):
        make_generator(GenOptions(backend="endpoint", endpoint_url="localhost:8000", endpoint_model="m"))
    with pytest.raises(ValueError, match="chat-template on"):
        make_generator(GenOptions(backend="endpoint", endpoint_url="http://x/v1", endpoint_model="m",
                                  endpoint_api="completions", chat_template="on"))
