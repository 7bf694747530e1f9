"""`dataladder rl`: how many rollouts does RL need? GRPO on a skill, evaluated at growing rollout counts.

    dataladder rl --skill mul                       # the target format; a cold start if the check warns
    dataladder rl --skill div --filter-zero-signal  # drop prompts whose sampled groups all agree
    dataladder rl --skill mul --reward-model runs/prefs/reward_model --online-every 16

Before training, the zero-signal check samples completions of the first RL prompts at the
rollout temperature and predicts the share of groups that will carry no signal (see
`rl_checks`); it warns when that share is high, and then (by default) RL starts from a cold
start: a copy fine-tuned on a few verified examples, checked again. Training is one GRPO run cut into rungs at
geometric step counts (16, 32, 64, … steps of prompts × generations rollouts): each rung
continues from the previous rung's weights (a fresh trainer: constant learning rate, new
optimizer state), is evaluated greedily on the skill's held-out eval partition, and is
stored in the run store with its weights, so a rerun resumes at the last finished rung. Once
`rl.json` is written, only the last rung of a verifier arm keeps its weights (and the cold start
its own; reward-model arms keep all theirs); a rerun that ends at or continues from an earlier rung trains its chain again, checked to the bit
against the weight digest in each rung's result (`rl_arm.seek`). The
learning curve is fitted and the stop rule consulted as in `climb`, with rollouts in place of
examples. Writes `rl.json` and `rl.png`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from dataladder.ladder.rl_arm import (RLLadder, RLSpec, eval_greedy, fingerprint, gen_options, identity,
                                      observed_zero_signal, prune, restore_weights, schedule, train_skill_of)
from dataladder.ladder.rl_checks import diversity, signal_check
from dataladder.ladder.rl_config import RLConfig
from dataladder.core.store import RunStore
from dataladder.skills.spec import skill_key


def check_config(cfg: RLConfig) -> None:
    """Before any model loads: a budget that holds a rung, train prompts, the reward model's directory, vLLM."""
    import importlib.util

    from dataladder.ladder.rl_arm import schedule
    from dataladder.skills.base import no_train_items
    from dataladder.ladder.config import skill_of

    if cfg.rungs != "grow":
        raise ValueError(f"--rungs {cfg.rungs}: an RL ladder's rungs are GRPO step counts, each the last × --growth; "
                         "drop --rungs")
    schedule(cfg)  # a budget below one rung
    sk = skill_of(cfg)  # did-you-mean, bad lines of the prompts file (named by --skill, --prompts-file)
    if not sk.items("train", 1, 0):
        raise ValueError(no_train_items(sk))
    if cfg.format not in ("target", "auto") and cfg.format not in sk.formats:
        from dataladder.core.registry import did_you_mean

        raise ValueError("--format: " + did_you_mean(f"{sk.name} format", cfg.format, ["target", "auto", *sk.formats]))
    if cfg.reward_model is not None:
        import json

        conf = Path(cfg.reward_model) / "config.json"
        if not conf.is_file():
            raise ValueError(f"--reward-model {cfg.reward_model}: not a reward model directory (no config.json); give "
                             "the reward_model/ that `dataladder prefs` wrote")
        try:
            json.loads(conf.read_text(encoding="utf-8"))
        except (ValueError, OSError) as e:
            raise ValueError(f"--reward-model {cfg.reward_model}: its config.json is not readable JSON ({e}); give the "
                             "reward_model/ that `dataladder prefs` wrote") from None
        from dataladder.core.errors import for_option

        with for_option(f"--reward-model {cfg.reward_model}"):  # what prefs recorded beside it: checked, not trusted
            meta = reward_model_meta(cfg.reward_model)
        if (trained := meta.get("skill")) and not same_skill(trained, cfg.skill):
            raise ValueError(f"--skill {cfg.skill} with --reward-model {cfg.reward_model}: they contradict (the reward "
                             f"model was trained on skill {trained}, its dataladder.json says); give --skill {trained} "
                             f"or a reward model of {cfg.skill}")
        from dataladder.models.hub import check_model

        check_model(str(cfg.reward_model), "--reward-model")  # its tokenizer and weights, before any model loads
    if cfg.check_samples < cfg.hp.num_generations:
        raise ValueError(f"--check-samples {cfg.check_samples} with --num-generations {cfg.hp.num_generations}: they "
                         "contradict (the zero-signal check samples at least one group per prompt); raise the first")
    if cfg.cold_start != "auto" and "cold_start_examples" in cfg.model_fields_set:  # given, and never used
        raise ValueError(f"--cold-start {cfg.cold_start} with --cold-start-examples: they contradict (the examples are "
                         "the size of an 'auto' cold start); drop one")
    if cfg.online_every and not cfg.reward_model:
        raise ValueError("--online-every needs --reward-model (the reward model it retrains)")
    if cfg.hp.use_vllm and importlib.util.find_spec("vllm") is None:
        raise ValueError("--hp use_vllm=true: vllm is not installed here (TRL's vLLM rollouts need `pip install "
                         "vllm` on a CUDA machine)")


def run_check(gen, skill, items, fmt: str, cfg: RLConfig, seed: int) -> dict:
    prompts = [gen.prompt_for(skill, fmt, it) for it in items]
    comps = gen.sample(prompts, cfg.check_samples, cfg.hp.temperature, cfg.hp.top_p, seed)
    return signal_check(skill, items, comps, cfg.hp.num_generations, cfg.warn_at)


def draw_pool(skill, n: int, seed: int, exclude: frozenset[str] = frozenset()) -> list:
    """`n` distinct train items in a seeded random order, less those whose key is in `exclude` (the cold
    start's). The generator's own order is not random in difficulty (the few one-digit products are
    used up first), so every rung, and the check's first prompts, would otherwise see a different mix."""
    import random

    items = [it for it in skill.items("train", n, 1000 + seed) if it.key not in exclude]
    random.Random(f"rl-pool:{seed}").shuffle(items)
    return items


def cold_start_items(skill, n: int, seed: int) -> list:
    """The cold start's train items: a draw of its own, kept out of the RL prompts."""
    return skill.items("train", n, 2000 + seed)


def cold_start(cfg: RLConfig, store: RunStore, gen, skill, fmt: str, items: list) -> tuple[object, dict]:
    """SFT (full fine-tuning, `climb`'s defaults) on the verified `items` in format `fmt`: DeepSeek-R1's cold
    start, which gives RL groups that carry signal when the base model almost never answers in `fmt`.
    Stored in the run store with its weights, so a rerun loads it instead of training again."""
    from transformers import AutoModelForCausalLM

    from dataladder.train.sft import SFTHparams, tokenize_records, train_sft

    from dataladder.train.sizing import param_count, resolve, size_class

    n_params = param_count(cfg.model)
    # a pretrained model takes `epochs` passes over a handful of examples, not the rung floor: 10 steps on 4
    # examples memorised them (loss 4e-5) and left RL nothing to do; the tiny model keeps climb's defaults
    hp = resolve(SFTHparams(**({} if size_class(n_params) == "tiny" else {"min_steps": 1})), "sft", n_params)
    model, tok = gen.model, gen.tok
    key = {"kind": "rl-cold-start", "model": fingerprint(cfg.model), "skill": skill_key(cfg.skill, cfg.prompts_file),
           "format": fmt, "items": [it.key for it in items], "seed": cfg.seed, "hp": hp.model_dump()}
    if (prompts := cfg.prompt_key()) is not None:
        key["prompts"] = prompts
    got = store.get(key)
    if got is not None:
        return AutoModelForCausalLM.from_pretrained(store.path(key) / "model").eval(), {**got, "key": key}
    f = skill.formats[fmt]
    rows = [skill.example(fmt, it) for it in items if f.completion(it) is not None and skill.score(f.completion(it), it).ok]
    if not rows:
        raise ValueError(f"cold start: none of {len(items)} {cfg.skill} train items verifies in format {fmt}")
    model, st = train_sft(model, tok, tokenize_records(tok, rows, gen.policy), "full", None, hp, seed=cfg.seed)
    p = store.path(key)
    p.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(p / "model", ignore_errors=True)
    model.save_pretrained(p / "model")
    got = store.put(key, {"examples": len(items), "verified": len(rows), "steps": st["steps"],
                          "seconds": st["seconds"], "first_loss": st["first_loss"], "last_loss": st["last_loss"]})
    return model, {**got, "key": key}


def filter_pool(gen, skill, fmt: str, cfg: RLConfig, need: int, on_rung: Callable[[str], None],
                exclude: frozenset[str] = frozenset()) -> list:
    """Train items whose check samples do not all agree, until `need` are kept or 8× need were tried."""
    n = 8 * need
    while n >= cfg.check_prompts:
        try:  # as many candidates as the train partition holds, up to 8× need; rungs cycle over what is kept
            cands = draw_pool(skill, n, cfg.seed, exclude)
            break
        except ValueError:
            n = n * 3 // 4
    else:
        raise ValueError(f"--filter-zero-signal: skill {cfg.skill} has fewer than {cfg.check_prompts} train items")
    kept, tried = [], 0
    for s in range(0, len(cands), 512):
        chunk = cands[s : s + 512]
        comps = gen.sample([gen.prompt_for(skill, fmt, it) for it in chunk], cfg.hp.num_generations,
                           cfg.hp.temperature, cfg.hp.top_p, s)
        tried += len(chunk)
        for it, cs in zip(chunk, comps):
            k = sum(skill.score(c, it).ok for c in cs)
            if 0 < k < len(cs):
                kept.append(it)
        if len(kept) >= need:
            break
    on_rung(f"filter: kept {len(kept)} of {tried} prompts whose {cfg.hp.num_generations} samples disagree")
    if not kept:
        raise ValueError(f"--filter-zero-signal: none of {tried} {cfg.skill} prompts carries signal; "
                         "the skill is missing from the model (train it with `dataladder climb` first)")
    return kept


def rl(cfg: RLConfig, output_dir: Path, on_rung: Callable[[str], None] = print,
       on_train: Callable[[int, int], None] | None = None, on_eval: Callable[[int], None] | None = None,
       executor=None) -> dict:
    """Check, train and evaluate every arm of `cfg` into `output_dir`; returns the rl.json document (also written)."""
    from dataladder.ladder.driver import drive
    from dataladder.ladder.rl_plot import plot_rl

    if cfg.online_every and not cfg.reward_model:
        raise ValueError("--online-every needs --reward-model (the reward model to retrain)")
    if cfg.check_samples < cfg.hp.num_generations:
        raise ValueError(f"check_samples ({cfg.check_samples}) must be ≥ num_generations ({cfg.hp.num_generations})")
    from dataladder.train.sizing import resolve_cfg

    cfg = resolve_cfg(cfg, "grpo")  # defaults by the policy's size (train/sizing.py)
    skill = train_skill_of(cfg)
    if cfg.format not in ("auto", "target") and cfg.format not in skill.formats:
        raise ValueError(f"--format {cfg.format!r}: skill {cfg.skill} has formats {', '.join(skill.formats)}")
    return drive(output_dir, [], before=lambda d: prework(cfg, skill, d.store, on_rung),
                 ladders=lambda d: build_arms(cfg, d, on_rung), describe=lambda d: describe(cfg, d),
                 after=lambda doc, d: after_formats(cfg, doc, d, on_rung),
                 written=lambda doc, d: _prune(d.store, doc["arms"], on_rung), document="rl.json", plot=plot_rl,
                 executor=executor, on_train=on_train, on_eval=on_eval, report_to=cfg.report_to)


def _main(cfg: RLConfig, arms: list):
    """The main arm: the online one when the reward model is retrained, else the first."""
    return arms[-1] if cfg.online_every else arms[0]


def prework(cfg: RLConfig, skill, store: RunStore, on_rung: Callable[[str], None]) -> dict:
    """Before the arms, with the policy loaded here: the zero-signal check of each candidate format and the one
    chosen, the greedy accuracy in every format, the cold start, the filter and the prompts' diversity. The policy
    is not kept (the workers load their own: no copy idles here meanwhile)."""
    from dataladder.evals.probe import eval_items as draw_eval
    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model

    eval_items = draw_eval(skill, cfg.eval_n, 0)  # up to eval_n items of each format
    model, tok = load_model(cfg.model)
    gen = HFGenerator(model, tok, gen_options(cfg))
    need = schedule(cfg)[-1] * cfg.hp.prompts_per_step
    pool = draw_pool(skill, need, cfg.seed) if not cfg.filter_zero_signal else None
    check_items = (pool or draw_pool(skill, cfg.check_prompts, cfg.seed))[: cfg.check_prompts]
    rm_format = reward_model_format(cfg.reward_model)
    target = rm_format or skill.target_format
    formats = {"auto": list(skill.formats), "target": [target]}.get(cfg.format, [cfg.format])
    if not (formats := [f for f in formats if eval_items[f]]):  # a format without eval items cannot be scored
        raise ValueError(f"skill {cfg.skill}: no eval items in the {cfg.format if cfg.format != 'auto' else 'any'} "
                         "format; mark some \"split\": \"eval\", or pick another --format")
    if rm_format and cfg.format not in ("auto", "target", rm_format):
        on_rung(f"warning: the reward model was trained on {rm_format}-format prompts; RL prompts it in {cfg.format}")
    checks = {f: run_check(gen, skill, check_items, f, cfg, cfg.seed) for f in formats}
    fmt = min(formats, key=lambda f: (checks[f]["predicted_zero_signal"], f != skill.native_format))
    base_evals = {f: eval_greedy(gen, skill, eval_items, f) for f in skill.formats if eval_items[f]}
    check = checks[fmt]
    on_rung(f"format {fmt}" + {"auto": " (auto: most signal)", "target": " (the reward model's)" if rm_format
                               else " (the skill's target format)"}.get(cfg.format, "")
            + f"; base greedy accuracy {base_evals[fmt]['accuracy']:.3f}; zero-signal check: mean pass rate "
            f"{check['mean_pass_rate']:.2f}, predicted share of groups with no signal {check['predicted_zero_signal']:.2f}")
    n_cold = cfg.cold_start if cfg.cold_start != "auto" else cfg.cold_start_examples if check["warning"] else 0
    if n_cold and skill.finite:  # a fixed train split: the cold start takes at most half, the rest are RL prompts
        n_cold = min(n_cold, len(skill.items("train", 1 << 30, 0)) // 2)
    _warn(check, cfg, on_rung, hint="" if cfg.filter_zero_signal else "; --filter-zero-signal drops such prompts"
          + (f"; cold start first: SFT on {n_cold} verified {fmt} examples (--cold-start 0 skips it)" if n_cold else ""))
    cold, base_model_evals = None, base_evals
    if n_cold:
        cold_items = cold_start_items(skill, n_cold, cfg.seed)
        model, cold = cold_start(cfg, store, gen, skill, fmt, cold_items)
        gen = gen.with_model(model)
        keys = frozenset(it.key for it in cold_items)
        pool = [it for it in pool if it.key not in keys] if pool is not None else None
        check_items = (pool or draw_pool(skill, cfg.check_prompts + n_cold, cfg.seed, keys))[: cfg.check_prompts]
        base_evals = {f: eval_greedy(gen, skill, eval_items, f) for f in skill.formats if eval_items[f]}
        cold = {**cold, "reason": "auto: the check warned" if cfg.cold_start == "auto" else "requested",
                "check_before": {k: v for k, v in check.items() if k != "per_prompt"},
                "formats_before": base_model_evals, "formats_after": base_evals}
        check = run_check(gen, skill, check_items, fmt, cfg, cfg.seed + 2)
        on_rung(f"cold start ({cold['verified']} examples, {cold['steps']} SFT steps): greedy accuracy "
                f"{base_model_evals[fmt]['accuracy']:.3f} → {base_evals[fmt]['accuracy']:.3f}; predicted share of "
                f"groups with no signal {check['predicted_zero_signal']:.2f}")
        _warn(check, cfg, on_rung, hint="" if cfg.filter_zero_signal else "; --filter-zero-signal drops such prompts")
    prediction = check
    if cfg.filter_zero_signal:
        pool = filter_pool(gen, skill, fmt, cfg, need, on_rung, frozenset(cold["key"]["items"]) if cold else frozenset())
        # predict for the prompts actually trained on, with fresh samples (not the ones that selected them)
        prediction = run_check(gen, skill, pool[: cfg.check_prompts], fmt, cfg, cfg.seed + 1)
        on_rung(f"after the filter: predicted share of groups with no signal {prediction['predicted_zero_signal']:.2f}")
    div = diversity(skill, pool, [skill.formats[fmt].prompt(it) for it in pool], fmt)
    return {"skill": skill, "eval_items": eval_items, "gen": gen.with_model(None), "checks": checks, "fmt": fmt,
            "check": check, "prediction": prediction, "base_evals": base_evals, "cold": cold, "pool": pool,
            "diversity": div}


def build_arms(cfg: RLConfig, d, on_rung: Callable[[str], None]) -> list[RLLadder]:
    """The verifier's arm, else the reward model's (and its online retraining), from the policy `prework` chose."""
    p, fmt = d.prep, d.prep["fmt"]
    if cfg.reward_model is None:
        arms = [("verifier", "verifier", None)]
    else:
        arms = [("reward model", "reward-model", None)]
        if cfg.online_every:
            arms.append((f"reward model, online every {cfg.online_every}", "online", cfg.online_every))
    cold_key, pool = (p["cold"]["key"] if p["cold"] else None), tuple(p["pool"])
    return [RLLadder(RLSpec(cfg, label, reward, every, fmt, pool, identity(cfg, reward, every, fmt, cold_key), cold_key,
                            str(d.store.root)), p["base_evals"][fmt], on_rung) for label, reward, every in arms]


def describe(cfg: RLConfig, d) -> dict:
    """rl.json's body: the checks, the cold start, before and after, the main arm's ladder fields, every arm."""
    p, fmt = d.prep, d.prep["fmt"]
    done = [lad.document() for lad in d.ladders]
    main = _main(cfg, done)
    for a in done:
        a["zero_signal"] = {"predicted": p["prediction"]["predicted_zero_signal"],
                            "predicted_before_filter": p["check"]["predicted_zero_signal"],
                            **observed_zero_signal(a, cfg.start_steps)}
    b, last = p["base_evals"][fmt], main["rungs"][-1]
    return {
        "config": cfg.model_dump(), "skill": cfg.skill, "format": fmt, "metric": "greedy accuracy",
        "eval": {"split": "eval", "n": cfg.eval_n, "n_by_format": {f: len(its) for f, its in p["eval_items"].items()}},
        "base_formats": p["base_evals"], "cold_start": p["cold"],
        "check": {f: {k: v for k, v in c.items() if k != "per_prompt"} for f, c in p["checks"].items()},
        "check_after_filter": ({k: v for k, v in p["prediction"].items() if k != "per_prompt"}
                               if cfg.filter_zero_signal else None),
        "zero_signal": main["zero_signal"], "diversity": p["diversity"],
        "before": {k: b[k] for k in ("accuracy", "ci_low", "ci_high", "correct", "total")},
        "after": {**{k: last[k] for k in ("accuracy", "ci_low", "ci_high", "correct", "total")}, "rollouts": last["n"]},
        "improved": last["ci_low"] > b["ci_high"],
        **{k: main[k] for k in ("kind", "unit", "label", "base", "rungs", "fit", "saturation", "stop", "reached_at")},
        "recommendation": recommend(main, cfg), "arms": done,
    }


def after_formats(cfg: RLConfig, doc: dict, d, on_rung: Callable[[str], None]) -> dict:
    """The main arm's last weights scored greedily in every format (forgetting in the others); recomputed first
    when a run that climbed further pruned them."""
    from transformers import AutoModelForCausalLM

    p, last = d.prep, doc["rungs"][-1]
    restored = None
    if not (d.store.root / last["run_dirs"][0] / "model").is_dir():  # pruned by a run that climbed further
        on_rung(f"the weights of the last rung ({last['steps']} steps) were pruned: recomputing them")
        restored = restore_weights(_main(cfg, d.ladders), last["steps"], d.executor)
        if restored and restored["exact"] is False:
            on_rung("warning: the recomputed weights differ from the measured rung's (not bit-exact here); "
                    "the other formats are scored on the recomputed ones")
    final = AutoModelForCausalLM.from_pretrained(d.store.root / last["run_dirs"][0] / "model").eval()
    skill, items = p["skill"], p["eval_items"]
    return {"after_formats": {f: eval_greedy(p["gen"].with_model(final), skill, items, f)
                              for f in skill.formats if items[f]}, "after_weights_restored": restored}


def _prune(store: RunStore, arms: list[dict], on_rung: Callable[[str], None]) -> None:
    """Once rl.json is written: the weights of earlier rungs go (`rl_arm.prune`)."""
    if freed := prune(store, arms):
        on_rung(f"weights: kept the verifier arm's last rung; deleted {freed / 2**20:,.0f} MiB of earlier rungs' "
                "(a rerun that needs them recomputes them)")


def reward_model_meta(path: str | None) -> dict:
    """What `prefs` recorded next to a reward model (its dataladder.json: skill, format, pairs), through the result
    validator (one that is not JSON, or holds a skill that is no name, is an InputError); {} where there is none
    (a reward model from elsewhere)."""
    from dataladder.core.results import read_model_meta

    return read_model_meta(path) if path else {}


def reward_model_format(path: str | None) -> str | None:
    """The prompt format a `prefs` reward model was trained on (its dataladder.json), if recorded."""
    return reward_model_meta(path).get("format")


def same_skill(a: str, b: str) -> bool:
    """Whether two skill specs may name the same skill: the same built-in (any parameters), or JSONL files of the
    same name (a relative path may be another's from elsewhere) without two different skill names."""
    from dataladder.skills.spec import parse_spec

    try:
        x, y = parse_spec(a), parse_spec(b)
    except ValueError:
        return a == b
    base = lambda s: Path(s.base).name if s.file else s.base  # noqa: E731
    return x.file == y.file and base(x) == base(y) and (x.name is None or y.name is None or x.name == y.name)


def _warn(check: dict, cfg: RLConfig, on_rung: Callable[[str], None], hint: str) -> None:
    if check["warning"]:
        on_rung(f"warning: {check['predicted_zero_signal']:.0%} of {cfg.hp.num_generations}-sample groups are predicted "
                f"to carry no signal (≥ {cfg.warn_at:.0%}; prompts all failed in the sample: "
                f"{check['share_all_fail']:.0%}, all passed: {check['share_all_pass']:.0%}); RL needs a skill the model "
                "partly knows" + hint)


def recommend(arm: dict, cfg: RLConfig) -> dict:
    fit = arm["fit"] or {}
    return {"target": cfg.target, "verdict": "reached" if arm["reached_at"] else "not reached",
            "rollouts": arm["reached_at"], "predicted_rollouts": fit.get("n_target"),
            "p_reachable": fit.get("p_reachable"), "p_reach_within_budget": fit.get("p_reach_within_budget"),
            "stop_reason": arm["stop"]["reason"]}
