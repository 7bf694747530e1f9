"""The ladder commands besides `climb`: `prefs`, `rl`, `dpo` and `rm-policy` (each a kind of the ladder engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from dataladder.cli.common import (ChatTemplateOpt, CpusPerRunOpt, ExecutorOpt, GpusPerRunOpt, MaxNewTokensOpt,
                                   RayAddressOpt, ReportToOpt, StopOpt, SystemPromptOpt, ThreadsPerRunOpt, WorkersOpt,
                                   _quiet, check_writable, executor_from, parse_budget, progress, prompt_fields,
                                   step_bar, user_errors, validated)
from dataladder.cli.tables import console, print_prefs, print_rl


@user_errors
def dpo(
    model: Annotated[str, typer.Option(help="base policy: 'tiny-arith' or a local causal LM directory")] = "tiny-arith",
    skill: Annotated[Optional[str], typer.Option(help="skill, built-in or JSONL (default add, for tiny-arith only)")] = None,
    format: Annotated[Optional[str], typer.Option(help="prompt format of the pairs and the target (default: the skill's target format)")] = None,
    train_sources: Annotated[str, typer.Option(help="pair sources: near-miss, self (comma-separated)")] = "near-miss",
    target: Annotated[float, typer.Option(help="greedy accuracy of the policy to reach")] = 0.9,
    start: Annotated[int, typer.Option(help="pairs in the first rung")] = 20,
    growth: Annotated[float, typer.Option(help="each rung's pair count over the previous one's")] = 2.0,
    seeds: Annotated[int, typer.Option(help="training seeds per rung")] = 2,
    budget: Annotated[Optional[str], typer.Option(help="max pairs and/or run time (default 2560): 2560, 30m, 2560,30m")] = None,
    delta: Annotated[float, typer.Option(help="smallest gain per doubling worth paying for")] = 0.01,
    eval_n: Annotated[int, typer.Option(help="eval items per format at every rung")] = 200,
    lora_r: Annotated[Optional[int], typer.Option(help="LoRA rank (default: full fine-tuning)")] = None,
    hp: Annotated[Optional[list[str]], typer.Option(help="DPO hyperparameter key=value, e.g. beta=0.05")] = None,
    prompts_file: Annotated[Optional[Path], typer.Option(help="more train prompts for a JSONL skill, in its line format")] = None,
    chat_template: ChatTemplateOpt = "auto",
    system_prompt: SystemPromptOpt = None,
    stop: StopOpt = None,
    max_new_tokens: MaxNewTokensOpt = None,
    output_dir: Annotated[Path, typer.Option(help="where runs/, dpo.json and dpo.png go")] = Path("runs/dpo"),
    report_to: ReportToOpt = "none",
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    cpus_per_run: CpusPerRunOpt = 1.0,
    gpus_per_run: GpusPerRunOpt = 0.0,
    threads_per_run: ThreadsPerRunOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """DPO on a ladder of verified preference-pair counts: the policy's accuracy, forgetting, saturation."""
    check_writable(output_dir, "--output-dir")
    from dataladder.core.config import apply_overrides
    from dataladder.ladder.dpo import DPOConfig, check_config
    from dataladder.ladder.dpo import dpo as dpo_fn

    skill = _default_skill(skill, model, "add")
    max_pairs, max_minutes = parse_budget(budget)
    fields = {"model": model, "skill": skill, "format": format, "target": target, "start": start,
              "growth": growth, "seeds": seeds, "delta": delta, "eval_n": eval_n, "lora_r": lora_r,
              "train_sources": [x.strip() for x in train_sources.split(",") if x.strip()],
              "prompts_file": str(prompts_file) if prompts_file else None, "hp": apply_overrides({}, hp or []),
              "report_to": report_to, **prompt_fields(chat_template, system_prompt, stop, max_new_tokens)}
    fields.update({k: v for k, v in (("max_pairs", max_pairs), ("max_minutes", max_minutes)) if v})
    cfg = validated(DPOConfig, fields)
    from dataladder.models.hub import check_model

    check_model(cfg.model)
    check_config(cfg)
    ex = executor_from(executor, ray_address, cpus_per_run, gpus_per_run, threads_per_run, workers)
    _quiet()
    with progress() as bar:
        on_train, on_rung = step_bar(bar, "DPO steps")
        doc = dpo_fn(cfg, output_dir, on_rung=on_rung, on_train=on_train, executor=ex)
    print_dpo(doc)
    console.print(f"wrote {output_dir / 'dpo.json'} and {output_dir / 'dpo.png'}")


def print_dpo(doc: dict) -> None:
    """dpo.json: the policy's accuracy by pair count, forgetting, forecast, saturation and stop."""
    t = Table(title=f"DPO on {doc['skill']} ({doc['format']} format): the policy's greedy accuracy by pair count",
              caption="accuracy [Wilson 95%] pooled over seeds; forgetting = worst change in the skill's other formats")
    for c in ("pairs", "accuracy", "worst forgetting", "DPO preference accuracy (train)"):
        t.add_column(c, justify="right")
    b = doc["base"]
    t.add_row("0 (base)", f"{b['accuracy']:.3f} [{b['ci_low']:.2f}–{b['ci_high']:.2f}]", "", "")
    for r in doc["rungs"]:
        pa = [x for x in r["preference_accuracy"] if x is not None]
        t.add_row(f"{r['n']:,}", f"{r['accuracy']:.3f} [{r['ci_low']:.2f}–{r['ci_high']:.2f}]",
                  "—" if r["worst_forgetting"] is None else f"{r['worst_forgetting']:+.3f}",
                  f"{sum(pa) / len(pa):.3f}" if pa else "—")
    console.print(t)
    fmt_n = lambda v: "∞" if v is None else f"{v:,.0f}"  # noqa: E731
    if doc.get("fit"):
        nt = doc["fit"]["n_target"]
        console.print(f"pairs to reach {doc['config']['target']:g}: {fmt_n(nt['median'])} [80%: {fmt_n(nt['lo80'])}–"
                      f"{fmt_n(nt['hi80'])}], P(reachable) {doc['fit']['p_reachable']:.2f}", highlight=False)
    if sat := doc.get("saturation"):
        console.print(f"saturation (10× more pairs gains < {sat['delta']:g}): {fmt_n(sat['median'])} pairs "
                      f"[80%: {fmt_n(sat['lo80'])}–{fmt_n(sat['hi80'])}]", highlight=False)
    console.print(f"stop: {doc['stop']['reason']}; reached at: {doc['reached_at'] or '—'}; {doc['seconds']:.0f} s",
                  highlight=False)


@user_errors
def rm_policy(
    prefs: Annotated[Path, typer.Option(help="a prefs output directory (prefs.json and its runs)")] = Path("runs/prefs"),
    steps: Annotated[int, typer.Option(help="GRPO steps of every RL run (one per reward model, one with the verifier)")] = 32,
    target: Annotated[float, typer.Option(help="verified greedy accuracy of the policy to reach")] = 0.8,
    eval_n: Annotated[int, typer.Option(help="held-out eval items of the policy")] = 300,
    seed: Annotated[int, typer.Option(help="RL seed and prompt draw")] = 0,
    hp: Annotated[Optional[list[str]], typer.Option(help="GRPO hyperparameter key=value, e.g. learning_rate=5e-5")] = None,
    output_dir: Annotated[Path, typer.Option(help="where runs/, rm-policy.json and rm-policy.png go")] = Path("runs/rm-policy"),
    report_to: ReportToOpt = "none",
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    cpus_per_run: CpusPerRunOpt = 1.0,
    gpus_per_run: GpusPerRunOpt = 0.0,
    threads_per_run: ThreadsPerRunOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Better reward model → better policy? RL with each prefs reward model, scored by verified accuracy."""
    check_writable(output_dir, "--output-dir")
    from dataladder.core.config import apply_overrides
    from dataladder.ladder.rm_policy import RMPolicyConfig, read_prefs
    from dataladder.ladder.rm_policy import rm_policy as rm_policy_fn

    cfg = validated(RMPolicyConfig, {"prefs": str(prefs), "steps": steps, "target": target, "eval_n": eval_n,
                                     "seed": seed, "hp": apply_overrides({}, hp or []), "report_to": report_to})
    read_prefs(cfg)  # the prefs ladder must be there: one line before any work
    ex = executor_from(executor, ray_address, cpus_per_run, gpus_per_run, threads_per_run, workers)
    _quiet()
    with progress() as bar:
        on_step, on_rung = step_bar(bar, "GRPO steps")
        doc = rm_policy_fn(cfg, output_dir, on_rung=on_rung, on_step=on_step, executor=ex)
    c = doc["verifier_ceiling"]
    for r in doc["rungs"]:
        console.print(f"{r['n']:>7,} pairs: reward model {r['reward_model_heldout_accuracy']:.3f} held-out → policy "
                      f"{r['accuracy']:.3f} [{r['ci_low']:.3f}–{r['ci_high']:.3f}] verified", highlight=False)
    console.print(f"before RL {doc['base']['accuracy']:.3f}; the verifier as reward ({cfg.steps} steps): "
                  f"{c['accuracy']:.3f} [{c['ci_low']:.3f}–{c['ci_high']:.3f}]; stop: {doc['stop']['reason']}",
                  highlight=False)
    console.print(f"wrote {output_dir / 'rm-policy.json'} and {output_dir / 'rm-policy.png'}")


@user_errors
def prefs(
    model: Annotated[str, typer.Option(help="base model of the reward models and the `self` source")] = "tiny-arith",
    skill: Annotated[Optional[str], typer.Option(help="skill whose answers the reward model judges: a built-in or a "
                                                      "JSONL skill (default mul, for tiny-arith only)")] = None,
    format: Annotated[Optional[str], typer.Option(help="prompt format of the pairs (default: the skill's native one)")] = None,
    train_sources: Annotated[str, typer.Option(help="sources trained on: self, near-miss, other, endpoint (comma-separated)")] = "near-miss",
    heldout_sources: Annotated[str, typer.Option(help="unseen sources, only evaluated (comma-separated; '' for none)")] = "self",
    other_model: Annotated[Optional[str], typer.Option(help="local causal LM directory for the `other` source")] = None,
    endpoint_url: Annotated[Optional[str], typer.Option(help="OpenAI-compatible server for the `endpoint` source")] = None,
    endpoint_model: Annotated[Optional[str], typer.Option(help="model name on --endpoint-url")] = None,
    target: Annotated[float, typer.Option(help="held-out pairwise accuracy to reach")] = 0.9,
    start: Annotated[int, typer.Option(help="pairs in the first rung")] = 50,
    growth: Annotated[float, typer.Option(help="each rung's pair count over the previous one's")] = 2.0,
    seeds: Annotated[int, typer.Option(help="training seeds per rung")] = 2,
    max_pairs: Annotated[int, typer.Option(help="budget: most pairs in a rung")] = 3200,
    max_minutes: Annotated[Optional[float], typer.Option(help="budget: minutes of stored training time of the ladder")] = None,
    delta: Annotated[float, typer.Option(help="smallest gain worth paying for (per doubling; per 10× for saturation)")] = 0.02,
    heldout_n: Annotated[int, typer.Option(help="held-out pairs per source")] = 400,
    hard_only: Annotated[bool, typer.Option(help="train on hard pairs (near misses) only")] = False,
    flip_share: Annotated[float, typer.Option(help="label noise: share of training pairs with chosen/rejected swapped")] = 0.0,
    lora_r: Annotated[Optional[int], typer.Option(help="LoRA rank (default: full fine-tuning)")] = None,
    hp: Annotated[Optional[list[str]], typer.Option(help="reward-model hyperparameter key=value, e.g. learning_rate=1e-3")] = None,
    prompts_file: Annotated[Optional[Path], typer.Option(help="more train prompts for a JSONL skill, in its line format "
                                                              "(skill and completion optional)")] = None,
    output_dir: Annotated[Path, typer.Option(help="where runs/, prefs.json, prefs.png and reward_model/ go")] = Path("runs/prefs"),
    report_to: ReportToOpt = "none",
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    cpus_per_run: CpusPerRunOpt = 1.0,
    gpus_per_run: GpusPerRunOpt = 0.0,
    threads_per_run: ThreadsPerRunOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Reward models on a ladder of pair counts: held-out pairwise accuracy, margin, saturation point."""
    check_writable(output_dir, "--output-dir")
    from dataladder.core.config import apply_overrides
    from dataladder.ladder.prefs import PrefsConfig, check_config
    from dataladder.ladder.prefs import prefs as prefs_fn
    from dataladder.skills.spec import train_skill

    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    skill = _default_skill(skill, model)
    cfg = validated(PrefsConfig, {
        "model": model, "skill": skill, "format": format, "train_sources": split(train_sources),
        "heldout_sources": split(heldout_sources), "other_model": other_model, "endpoint_url": endpoint_url,
        "endpoint_model": endpoint_model, "target": target, "start": start, "growth": growth, "seeds": seeds,
        "max_pairs": max_pairs, "max_minutes": max_minutes, "delta": delta, "heldout_n": heldout_n,
        "hard_only": hard_only, "flip_share": flip_share, "lora_r": lora_r,
        "prompts_file": str(prompts_file) if prompts_file else None, "hp": apply_overrides({}, hp or []),
        "report_to": report_to})
    train_skill(cfg.skill, cfg.prompts_file)  # did-you-mean, bad lines of the prompts file: before any work
    from dataladder.models.hub import check_model

    check_model(cfg.model)
    check_config(cfg)
    ex = executor_from(executor, ray_address, cpus_per_run, gpus_per_run, threads_per_run, workers)
    _quiet()
    with progress() as bar:
        on_train, on_rung = step_bar(bar, "training steps")
        doc = prefs_fn(cfg, output_dir, on_rung=on_rung, on_train=on_train, executor=ex)
    print_prefs(doc)
    console.print(f"wrote {output_dir / 'prefs.json'}, {output_dir / 'prefs.png'} and {output_dir / 'reward_model'}")


def _default_skill(skill: str | None, model: str, default: str = "mul") -> str:
    """`default` (mul; add for dpo) is the shipped model's default skill; any other model names its own."""
    if skill:
        return skill
    if model != "tiny-arith":
        raise ValueError(f"--skill: name the skill, e.g. --skill tasks.jsonl:code ({default} is the default only for "
                         "the shipped tiny-arith)")
    return default


@user_errors
def rl_command(
    model: Annotated[str, typer.Option(help="policy model: 'tiny-arith' or a local causal LM directory")] = "tiny-arith",
    skill: Annotated[Optional[str], typer.Option(help="skill to train with RL, built-in or JSONL (should be partly "
                                                      "known: see `probe`; default mul, for tiny-arith only)")] = None,
    format: Annotated[str, typer.Option(help="prompt format: 'target' (the skill's, as in probe and climb), 'auto' (the one the zero-signal check finds most signal in) or a format name")] = "target",
    cold_start: Annotated[str, typer.Option(help="verified SFT examples before RL: 'auto' (20 when the zero-signal check warns), 0 (never) or N")] = "auto",
    target: Annotated[float, typer.Option(help="greedy accuracy to reach")] = 0.8,
    reward_model: Annotated[Optional[Path], typer.Option(help="reward model directory from `dataladder prefs` (default: the verifier)")] = None,
    online_every: Annotated[Optional[int], typer.Option(help="retrain the reward model every K steps on verifier-labelled rollouts")] = None,
    filter_zero_signal: Annotated[bool, typer.Option(help="drop prompts whose sampled completions all score the same")] = False,
    num_generations: Annotated[int, typer.Option(help="completions per prompt (the GRPO group)")] = 8,
    start_steps: Annotated[int, typer.Option(help="GRPO steps in the first rung")] = 16,
    growth: Annotated[float, typer.Option(help="each rung's steps over the previous one's")] = 2.0,
    budget: Annotated[Optional[str], typer.Option(help="max rollouts and/or training time per arm (default 16384): 16384, 10m, 16384,10m")] = None,
    eval_n: Annotated[int, typer.Option(help="held-out eval items at every rung")] = 300,
    check_prompts: Annotated[int, typer.Option(help="prompts sampled by the zero-signal check")] = 128,
    warn_at: Annotated[float, typer.Option(help="predicted zero-signal share that triggers the warning")] = 0.9,
    seed: Annotated[int, typer.Option(help="training seed and prompt draw")] = 0,
    hp: Annotated[Optional[list[str]], typer.Option(help="GRPO hyperparameter key=value, e.g. learning_rate=5e-5 "
                                                         "(use_vllm=true vllm_mode=colocate: TRL's vLLM rollouts)")] = None,
    prompts_file: Annotated[Optional[Path], typer.Option(help="more train prompts for a JSONL skill, in its line format "
                                                              "(skill and completion optional)")] = None,
    chat_template: ChatTemplateOpt = "auto",
    system_prompt: SystemPromptOpt = None,
    stop: StopOpt = None,
    max_new_tokens: MaxNewTokensOpt = None,
    output_dir: Annotated[Path, typer.Option(help="where runs/, rl.json and rl.png go")] = Path("runs/rl"),
    report_to: ReportToOpt = "none",
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    cpus_per_run: CpusPerRunOpt = 1.0,
    gpus_per_run: GpusPerRunOpt = 0.0,
    threads_per_run: ThreadsPerRunOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """RL with GRPO: zero-signal check, then greedy accuracy at growing rollout counts, fit and stop rule."""
    check_writable(output_dir, "--output-dir")
    from dataladder.core.config import apply_overrides
    from dataladder.ladder.rl import RLConfig
    from dataladder.ladder.rl import rl as rl_fn
    from dataladder.skills.base import no_train_items
    from dataladder.skills.spec import train_skill

    max_rollouts, max_minutes = parse_budget(budget)
    skill = _default_skill(skill, model)
    if cold_start != "auto" and not cold_start.isdigit():
        raise ValueError(f"--cold-start {cold_start}: 'auto', 0 (never) or a number of examples")
    if reward_model is not None and not (reward_model / "config.json").is_file():
        raise ValueError(f"--reward-model {reward_model}: not a reward model directory (no config.json); "
                         "run `dataladder prefs` first")
    fields = {"model": model, "skill": skill, "format": format, "cold_start": cold_start, "target": target,
              "start_steps": start_steps,
              "growth": growth, "eval_n": eval_n, "check_prompts": check_prompts, "warn_at": warn_at, "seed": seed,
              "filter_zero_signal": filter_zero_signal, "online_every": online_every,
              "reward_model": str(reward_model) if reward_model else None,
              "prompts_file": str(prompts_file) if prompts_file else None,
              "hp": apply_overrides({"num_generations": num_generations}, hp or []), "report_to": report_to,
              **prompt_fields(chat_template, system_prompt, stop, max_new_tokens)}
    if max_rollouts:
        fields["max_rollouts"] = max_rollouts
    if max_minutes:
        fields["max_minutes"] = max_minutes
    cfg = validated(RLConfig, fields)
    from dataladder.ladder.rl_arm import schedule

    schedule(cfg)  # a budget below one rung: one line now, not after the model loads
    rl_skill = train_skill(cfg.skill, cfg.prompts_file)  # did-you-mean, bad lines: before any work
    if not rl_skill.items("train", 1, 0):
        raise ValueError(no_train_items(rl_skill))
    from dataladder.models.hub import check_model

    check_model(cfg.model)
    if online_every is not None and online_every < 1:
        raise ValueError(f"--online-every {online_every}: must be ≥ 1")
    if cfg.online_every and not cfg.reward_model:
        raise ValueError("--online-every needs --reward-model (the reward model it retrains)")
    if cfg.hp.use_vllm:
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise ValueError("--hp use_vllm=true: vllm is not installed here (TRL's vLLM rollouts need `pip install "
                             "vllm` on a CUDA machine)")
    ex = executor_from(executor, ray_address, cpus_per_run, gpus_per_run, threads_per_run, workers)
    _quiet()
    with progress() as bar:
        on_step, on_note = step_bar(bar, "GRPO steps")
        doc = rl_fn(cfg, output_dir, on_note=on_note, on_step=on_step, executor=ex)
    print_rl(doc)
    console.print(f"wrote {output_dir / 'rl.json'} and {output_dir / 'rl.png'}")
