from transformers import AutoTokenizer

from dataladder.models.tokenizer import build_char_tokenizer


def test_round_trip_save_and_reload(tmp_path):
    tok = build_char_tokenizer()
    text = "Question: What is 12 plus 7?\nAnswer: 19 {~}"
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id and len(ids) == len(text) + 1
    assert tok.decode(ids, skip_special_tokens=True) == text
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(text)["input_ids"] == ids
    assert again.decode(ids, skip_special_tokens=True) == text
    assert again.padding_side == "left" and again.pad_token == "<pad>"
    assert tok(text, add_special_tokens=False)["input_ids"] == ids[1:]


def test_chat_template():
    tok = build_char_tokenizer()
    msgs = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    assert tok.apply_chat_template(msgs[:1], add_generation_prompt=True, tokenize=False) == "user: 2+2?\nassistant:"
    full = tok.apply_chat_template(msgs, tokenize=False)
    assert full == "user: 2+2?\nassistant: 4<eos>\n"
    out = tok.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    mask = out["assistant_masks"]
    assert sum(mask) == len("4") + 1  # the answer and its EOS


def test_unknown_characters_map_to_unk():
    tok = build_char_tokenizer()
    assert tok("é", add_special_tokens=False)["input_ids"] == [tok.unk_token_id]
