"""`dataladder dpo`: the DPO pair-count ladder from the command line, and its table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from dataladder.cli_common import (ChatTemplateOpt, CpusPerRunOpt, ExecutorOpt, GpusPerRunOpt, MaxNewTokensOpt,
                                   RayAddressOpt, ReportToOpt, StopOpt, SystemPromptOpt, ThreadsPerRunOpt, WorkersOpt,
                                   _quiet, check_writable, executor_from, parse_budget, progress, prompt_fields,
                                   step_bar, user_errors, validated)
from dataladder.cli_tables import console


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
    from dataladder.config import apply_overrides
    from dataladder.ladder.dpo import DPOConfig, check_config, dpo as dpo_fn

    if not skill and model != "tiny-arith":
        raise ValueError("--skill: name the skill, e.g. --skill tasks.jsonl:code (add is the default only for the "
                         "shipped tiny-arith)")
    max_pairs, max_minutes = parse_budget(budget)
    fields = {"model": model, "skill": skill or "add", "format": format, "target": target, "start": start,
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
    from dataladder.config import apply_overrides
    from dataladder.ladder.rm_policy import RMPolicyConfig, read_prefs, rm_policy as rm_policy_fn

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
