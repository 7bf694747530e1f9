"""Training files as users have them: messages, conversational and plain prompt/completion, Alpaca, ShareGPT."""

import json

import pytest

from dataladder.data.trainfile import prompt_key, read_train_file
from dataladder.core.errors import InputError


def _write(tmp_path, name, rows):
    p = tmp_path / name
    p.write_text("".join(json.dumps(r) + "\n" for r in rows) if name.endswith(".jsonl") else json.dumps(rows))
    return p


def test_every_format_becomes_prompt_and_completion(tmp_path):
    turns = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a\nb"}]
    p = _write(tmp_path, "t.jsonl", [
        {"messages": turns, "skill": "x"},
        {"prompt": turns[:2], "completion": [turns[2]]},
        {"prompt": "q", "completion": "a\nb"},
        {"instruction": "q", "input": "", "output": "a\nb"},
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a\nb"}]},
    ])
    recs = [r for _, r in read_train_file(p)]
    assert all(r["completion"] == "a\nb" for r in recs)
    assert recs[0]["prompt"] == turns[:2] and recs[0]["skill"] == "x" and recs[1]["prompt"] == turns[:2]
    assert recs[2]["prompt"] == recs[3]["prompt"] == "q"
    assert recs[4]["prompt"] == [{"role": "user", "content": "q"}]
    # decontamination keys ignore system turns and whitespace, so templated and raw forms of one prompt meet
    assert prompt_key(recs[0]["prompt"]) == prompt_key([{"role": "user", "content": " q "}])


def test_a_json_array_reads_like_jsonl(tmp_path):
    p = _write(tmp_path, "t.json", [{"instruction": "q", "output": "a"}])
    assert [r["completion"] for _, r in read_train_file(p)] == ["a"]


@pytest.mark.parametrize("row,field", [
    ({"messages": [{"role": "user", "content": "q"}]}, "messages[0].role"),
    ({"prompt": "q"}, "completion"),
    ({"prompt": "q", "completion": 3}, "completion"),
    ({"prompt": [{"role": "user", "content": "q"}], "completion": [{"role": "user", "content": "a"}]}, "completion"),
])
def test_bad_records_name_file_line_and_field(tmp_path, row, field):
    p = _write(tmp_path, "t.jsonl", [{"prompt": "ok", "completion": "ok"}, row])
    with pytest.raises(InputError) as e:
        read_train_file(p)
    assert e.value.line == 2 and e.value.field == field and str(p) in str(e.value)


def test_an_empty_file_is_an_error(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_text("\n")
    with pytest.raises(InputError, match="holds no records"):
        read_train_file(p)


def test_a_byte_order_mark_and_crlf_are_fine(tmp_path):
    from dataladder.skills import load_skills

    p = tmp_path / "bom.jsonl"
    p.write_bytes("\ufeff".encode() + b'{"skill": "s", "prompt": "q", "completion": "a"}\r\n')
    assert [r["completion"] for _, r in read_train_file(p)] == ["a"]
    assert load_skills([f"{p}:eval_share=1"])[0].items("eval", 1, 0)[0].answer == "a"
