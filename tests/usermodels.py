"""User-style test models and tasks, built offline in seconds: what a real user brings, not tiny-arith.

- `build_model(style, dir)`: a tiny causal LM with a byte-level BPE tokenizer trained by the `tokenizers`
  library on the tasks' text. `qwen`: Qwen2 architecture, ChatML template, `<|im_end|>` as EOS, no BOS.
  `llama`: Llama architecture, BOS added to every encode, `<|endoftext|>` as the tokenizer's EOS, a
  Llama-3-style template ending turns with `<|eot_id|>`, and `generation_config.eos_token_id` a list of both.
- `write_tasks(dir)`: four multi-line and one-line tasks as JSONL skills: `letters` (a letter-per-line
  list, `exact`), `code` (a function, `python-tests`), `person` (pretty-printed JSON, `json-schema`) and
  `reverse` (a one-line string, `exact`, a plain prompt in a `chat` format); a skill file whose items carry
  `split` (10 eval and 30 train items a task) and the train items again as a `messages` file.
- `without_chat_template(src, dst)`: a copy of a model directory with no chat template (a base model).
- `pretrain(dir, steps)`: a brief plain-PyTorch training run on the chat-rendered train items, so the
  model answers in whole multi-line completions (partly right), for parity tests.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = ["apple", "river", "stone", "cloud", "green", "tiger", "piano", "ocean", "lemon", "horse", "candle",
         "window", "forest", "silver", "garden", "rocket", "planet", "bridge", "castle", "dragon", "mirror",
         "pencil", "rabbit", "summer", "winter", "yellow", "orange", "purple", "basket", "butter", "dinner",
         "flower", "guitar", "island", "jacket", "kitten", "ladder", "marble", "needle", "pepper"]
NAMES = ["Ada", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lou", "Max", "Ned", "Ola", "Pat"]

CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
LLAMA3 = ("{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
          " + message['content'] + '<|eot_id|>' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")


def task_items() -> list[dict]:
    """Every item of the four tasks, as JSONL skill lines (messages, or a plain prompt in the `chat` format)."""
    items = []
    for w in WORDS:
        items.append({"skill": "letters", "verifier": "exact", "messages": [
            {"role": "user", "content": f"List the letters of {w}, one per line."},
            {"role": "assistant", "content": "\n".join(w)}]})
        items.append({"skill": "reverse", "verifier": "exact", "format": "chat", "prompt": f"Reverse the word {w}.",
                      "completion": w[::-1]})
    for k in range(1, 41):
        items.append({"skill": "code", "verifier": "python-tests",
                      "tests": [f"assert add_{k}(1) == {k + 1}", f"assert add_{k}(10) == {k + 10}"], "messages": [
                          {"role": "user", "content": f"Write a Python function add_{k}(x) that returns x plus {k}."},
                          {"role": "assistant", "content": f"def add_{k}(x):\n    return x + {k}"}]})
    rng = random.Random(0)
    for i in range(40):
        name, age = NAMES[i % len(NAMES)], 20 + rng.randrange(60)
        schema = {"type": "object", "required": ["name", "age"], "additionalProperties": False,
                  "properties": {"name": {"const": name}, "age": {"const": age}}}
        items.append({"skill": "person", "verifier": "json-schema", "schema": schema, "messages": [
            {"role": "user", "content": f"Describe {name}, aged {age}, as a JSON object."},
            {"role": "assistant", "content": json.dumps({"name": name, "age": age}, indent=2)}]})
    return items


def _split(items: list[dict]) -> tuple[list[dict], list[dict]]:
    """(eval, train): every fourth item of each skill is an eval item."""
    seen: dict[str, int] = {}
    ev, tr = [], []
    for it in items:
        i = seen[it["skill"]] = seen.get(it["skill"], -1) + 1
        (ev if i % 4 == 0 else tr).append(it)
    return ev, tr


def as_messages(it: dict) -> list[dict]:
    if "messages" in it:
        return it["messages"]
    return [{"role": "user", "content": it["prompt"]}, {"role": "assistant", "content": it["completion"]}]


def write_tasks(d: Path) -> dict[str, Path]:
    """{'eval': every item, marked `split: eval` or `split: train` (a skill file with both partitions), 'train': the
    train items again as `messages` records (with `skill`), as a user's separate train file}."""
    d.mkdir(parents=True, exist_ok=True)
    ev, tr = _split(task_items())
    paths = {"eval": d / "tasks.jsonl", "train": d / "train.jsonl"}
    paths["eval"].write_text("".join(json.dumps({**it, "split": "eval"}) + "\n" for it in ev)
                             + "".join(json.dumps({**it, "split": "train"}) + "\n" for it in tr))
    paths["train"].write_text("".join(json.dumps({"skill": it["skill"], "messages": as_messages(it)}) + "\n"
                                      for it in tr))
    return paths


def _corpus() -> list[str]:
    out = []
    for it in task_items():
        out += [m["content"] for m in as_messages(it)]
    return out


def build_tokenizer(style: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = {"qwen": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                "llama": ["<|begin_of_text|>", "<|endoftext|>", "<|start_header_id|>", "<|end_header_id|>",
                          "<|eot_id|>", "<|pad|>"]}[style]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_corpus() + ["user", "assistant", "system", "\n\n"], trainer)
    if style == "qwen":
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                       clean_up_tokenization_spaces=False)
        fast.chat_template = CHATML
    else:
        bos = tok.token_to_id("<|begin_of_text|>")
        tok.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                                           pair="<|begin_of_text|> $A $B",
                                                           special_tokens=[("<|begin_of_text|>", bos)])
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|endoftext|>",
                                       pad_token="<|pad|>", clean_up_tokenization_spaces=False)
        fast.chat_template = LLAMA3
    return fast


def build_model(style: str, d: Path, seed: int = 0) -> Path:
    """A randomly initialised user-style model saved as a local model directory."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    tok = build_tokenizer(style)
    common = dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True,
                  pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    if style == "qwen":
        model = Qwen2ForCausalLM(Qwen2Config(**common, eos_token_id=tok.eos_token_id, bos_token_id=None))
        model.generation_config.eos_token_id = tok.eos_token_id
    else:
        eot = tok.convert_tokens_to_ids("<|eot_id|>")
        model = LlamaForCausalLM(LlamaConfig(**common, bos_token_id=tok.bos_token_id, eos_token_id=[tok.eos_token_id, eot]))
        model.generation_config.eos_token_id = [tok.eos_token_id, eot]
        model.generation_config.bos_token_id = tok.bos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    d.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


def pretrain(d: Path, steps: int = 300, seed: int = 0, chat: bool = True, skills: tuple[str, ...] = ()) -> Path:
    """Briefly train the model in `d` on the train items (all tokens), in place: chat-rendered, or (`chat=False`)
    as raw `prompt\ncompletion` text, as pretraining text would have them; only `skills` when given."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 100k-parameter model: one thread is as fast, and far faster on a busy machine
    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(d)
    model = AutoModelForCausalLM.from_pretrained(d)
    _, tr = _split(task_items())
    tr = [it for it in tr if not skills or it["skill"] in skills]
    if chat:
        texts = [tok.apply_chat_template(as_messages(it), tokenize=False) for it in tr]
    else:
        texts = [f"{m[0]['content']}\n{m[1]['content']}{tok.eos_token}" for m in map(as_messages, tr)]
    seqs = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    opt = torch.optim.AdamW(model.parameters(), lr=6e-3)
    rng = random.Random(seed)
    pad = tok.pad_token_id
    model.train()
    for _ in range(steps):
        batch = rng.sample(seqs, 16)
        width = max(map(len, batch))
        ids = torch.tensor([s + [pad] * (width - len(s)) for s in batch])
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in batch])
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    model.save_pretrained(d)
    torch.set_num_threads(threads)
    return d


def without_chat_template(src: Path, dst: Path) -> Path:
    """A copy of the model directory `src` at `dst` with its chat template removed, as a base model ships."""
    import shutil

    shutil.copytree(src, dst)
    for name in ("chat_template.jinja", "chat_template.json"):
        (dst / name).unlink(missing_ok=True)
    cfg = dst / "tokenizer_config.json"
    doc = json.loads(cfg.read_text())
    doc.pop("chat_template", None)
    cfg.write_text(json.dumps(doc, indent=2))
    return dst
