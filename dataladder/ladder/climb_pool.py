"""What a climb draws its rungs from: the skill a spec names, and each (skill, seed)'s nested train records.

Shared by the climb (`ladder/climb.py`) and its estimate (`ladder/estimate.py`), which counts the records before
any model is loaded. `cfg` is a `ClimbConfig` (its `train_file`, `max_examples`, `eval_n` and `format_for`).
"""

from __future__ import annotations

from pathlib import Path

from dataladder.evals.probe import eval_items


def one_skill(name: str):
    """The one skill `name` names (a built-in spec, or a JSONL file or `file.jsonl:name`)."""
    from dataladder.skills import get_skill, resolve_skills

    skills = resolve_skills([name])
    return skills[0] if len(skills) == 1 else get_skill(name)  # several: get_skill says how to name one


def pool_records(cfg, skill: str, seed: int) -> list[dict]:
    """The prompt/completion records a climb of `skill` draws its nested rungs from, for one seed."""
    if cfg.train_file:
        return file_pool(cfg, skill, seed)
    sk = one_skill(skill)
    tf = cfg.format_for(skill)
    fmt = sk.formats[tf]
    items = [it for it in sk.items("train", cfg.max_examples, 1000 + seed) if fmt.completion(it) is not None]
    bad = [it.key for it in items if not sk.score(fmt.completion(it), it).ok]
    if bad:  # grounding: every template item must pass the skill's own verifier
        raise ValueError(f"skill {skill}: {len(bad)} generated items fail verification, e.g. {bad[0]}")
    return [sk.example(tf, it) for it in items]


def file_pool(cfg, skill: str, seed: int) -> list[dict]:
    """The train file's records for `skill`, minus any that ask an eval item (the skill's `problem` hook, or the
    same turns as an eval prompt), shuffled by seed."""
    import random

    from dataladder.data.trainfile import names_skill, prompt_key, read_train_file

    sk = one_skill(skill)
    evals = [sk.example(f, it) for f, its in eval_items(sk, cfg.eval_n, 0).items() for it in its]
    eval_prompts = {prompt_key(e["prompt"]) for e in evals}
    # evaluation in the chat template (conversational items, a `chat` format): raw train prompts get it too
    chat = [e for e in evals if not isinstance(e["prompt"], str) or e.get("chat")]
    path = Path(cfg.train_file)
    records = [{"prompt": r["prompt"], "completion": r["completion"], **({"chat": True} if chat else {})}
               for _, r in read_train_file(path)
               if names_skill(r["skill"], skill, sk) and prompt_key(r["prompt"]) not in eval_prompts
               and sk.eval_item_of(r["prompt"]) is None]
    random.Random(f"{path.name}:{seed}").shuffle(records)
    return records


def check_sizes(cfg, sizes: dict[str, int]) -> None:
    """Every climbed skill has records to draw its rungs from (`sizes`: records per skill), before any model."""
    from dataladder.skills.base import no_train_items

    for skill, size in sizes.items():
        if size == 0 and not cfg.train_file:
            raise ValueError(no_train_items(one_skill(skill)))
        if size == 0:
            raise ValueError(f"--train-file {cfg.train_file}: no training records for skill {skill} (records name "
                             "their skill in 'skill'; those whose prompt asks an eval item are dropped)")
