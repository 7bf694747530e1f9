import json

import pytest

from dataladder.data.formats import completion_text, prompt_text, read_trl, to_trl, write_records
from dataladder.core.errors import InputError

RECORDS = [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                  {"role": "assistant", "content": "4"}], "skill": "add"},
    {"prompt": "12+7=", "completion": "19", "skill": "add", "answer": "19"},
    {"prompt": "Is 7 odd?", "chosen": "yes", "rejected": "no"},
    {"prompt": "Tell me a story."},
]


def test_alpaca_and_sharegpt_become_trl():
    fmt, rec = to_trl({"instruction": "Add the numbers.", "input": "12 and 7", "output": "19", "id": 3}, "f", 1)
    assert fmt == "alpaca" and rec == {"prompt": "Add the numbers.\n\n12 and 7", "completion": "19", "id": 3}
    fmt, rec = to_trl({"instruction": "Say hi.", "input": "", "output": "hi"}, "f", 1)
    assert rec == {"prompt": "Say hi.", "completion": "hi"}
    fmt, rec = to_trl({"conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "q"},
                                         {"from": "gpt", "value": "a"}]}, "f", 1)
    assert fmt == "sharegpt" and rec["messages"] == [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                                                     {"role": "assistant", "content": "a"}]
    assert prompt_text(rec) == "s\nq" and completion_text(rec) == "a"


def test_detects_each_trl_format_and_text_views():
    fmts = [to_trl(r, "f", i)[0] for i, r in enumerate(RECORDS, 1)]
    assert fmts == ["messages", "prompt_completion", "preference", "prompt_only"]
    assert [completion_text(r) for r in RECORDS] == ["4", "19", "yes", ""]
    conv = {"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "assistant", "content": "yo"}]}
    assert to_trl(conv, "f", 1)[0] == "prompt_completion" and completion_text(conv) == "yo"


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".parquet"])
def test_round_trip(tmp_path, suffix):
    p = tmp_path / f"data{suffix}"
    assert write_records(p, RECORDS) == len(RECORDS)
    back = [rec for _, rec in read_trl(p)]
    assert back == RECORDS
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("suffix,line", [(".jsonl", 3), (".json", 2), (".parquet", 2)])
def test_errors_name_file_line_and_field(tmp_path, suffix, line):
    good = {"prompt": "a", "completion": "b"}
    bad = {"prompt": "a", "completion": ""}
    p = tmp_path / f"bad{suffix}"
    if suffix == ".jsonl":
        p.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")  # a blank line still counts
    else:
        write_records(p, [good, bad])
    with pytest.raises(InputError) as e:
        list(read_trl(p))
    assert str(e.value).startswith(f"{p}:{line}: field 'completion':")


def test_bad_roles_and_missing_fields():
    with pytest.raises(InputError, match="field 'messages\\[1\\].role'"):
        to_trl({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]}, "f", 1)
    with pytest.raises(InputError, match="field 'conversations\\[0\\].from'"):
        to_trl({"conversations": [{"from": "robot", "value": "a"}]}, "f", 1)
    with pytest.raises(InputError, match="field 'rejected'"):
        to_trl({"prompt": "a", "chosen": "b"}, "f", 1)
    with pytest.raises(InputError, match="no known format"):
        to_trl({"text": "a"}, "f", 1)


def test_on_bad_collects_instead_of_raising(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"prompt": "a"}\n[1]\n{"prompt": "b", "completion": "c"}\n')
    bad = []
    good = list(read_trl(p, on_bad=lambda line, raw, err: bad.append((line, err.field))))
    assert [line for line, _ in good] == [1, 3] and bad == [(2, "record")]
