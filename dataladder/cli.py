"""The `dataladder` command: one subcommand per job. Run `dataladder --help`."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from dataladder.cli_tables import (console, print_compare, print_curate, print_noise, print_prefs, print_pretrain,
                                   print_probe, print_recommendations, print_rl, print_sandbox, print_study, print_synth,
                                   print_verdict)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="How much post-training data will fix my model's problem? Evals first, then the ladder.")
err_console = Console(stderr=True)

DEFAULT_SKILLS = ["add", "sub", "mul", "div", "mixed"]


def user_errors(fn: Callable) -> Callable:
    """Turn input errors into one red line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from dataladder.errors import InputError
        from dataladder.registry import UnknownName

        try:
            return fn(*args, **kwargs)
        except (InputError, UnknownName, ValueError) as e:
            err_console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=err_console, transient=True)


def step_bar(bar: Progress, label: str) -> tuple[Callable[[int, int], None], Callable[[str], None]]:
    """(on_step, on_line): a step bar shown while training, hidden while a result line prints
    (a line starting with 'warning' in yellow)."""
    steps = bar.add_task(label, total=1, visible=False)

    def on_step(step: int, total: int) -> None:
        bar.update(steps, completed=step, total=total, visible=True)

    def on_line(line: str) -> None:
        bar.update(steps, visible=False)
        style = "[yellow]" if line.startswith("warning") else ""
        console.print(f"  {style}{line}", highlight=False)

    return on_step, on_line


def _quiet() -> None:
    from dataladder.logs import quiet

    quiet()


@app.command()
@user_errors
def probe(
    model: Annotated[str, typer.Option(help="'tiny-arith' (shipped), a local model directory, or a hub id")] = "tiny-arith",
    skill: Annotated[Optional[list[str]], typer.Option(help="skill name or JSONL file; repeat for several")] = None,
    n: Annotated[int, typer.Option(help="eval items per skill")] = 300,
    target_format: Annotated[str, typer.Option(help="the prompt format post-training aims at")] = "exam",
    digits: Annotated[int, typer.Option(help="max operand digits of the arithmetic skills (mixed keeps 1)")] = 2,
    seed: Annotated[int, typer.Option(help="which eval items are drawn")] = 0,
    batch_size: Annotated[int, typer.Option(help="generation batch size")] = 128,
    mastered_at: Annotated[float, typer.Option(help="accuracy at which a skill counts as mastered")] = 0.8,
    partial_at: Annotated[float, typer.Option(help="accuracy below which a skill counts as missing")] = 0.15,
    output_dir: Annotated[Path, typer.Option(help="where probe.json and samples.jsonl go")] = Path("runs/probe"),
) -> None:
    """Evals first: per-skill, per-format accuracy with Wilson intervals, and a diagnosis of each gap."""
    report = run_probe(model, skill or DEFAULT_SKILLS, n, target_format, digits, seed, batch_size, mastered_at,
                       partial_at, output_dir)
    print_probe(report)
    console.print(f"wrote {output_dir / 'probe.json'} and {output_dir / 'samples.jsonl'}")


def run_probe(model: str, skills: list[str], n: int, target_format: str, digits: int, seed: int, batch_size: int,
              mastered_at: float, partial_at: float, output_dir: Path) -> dict:
    from dataladder.probe import run_probe as run_probe_fn

    _quiet()
    with progress() as bar:
        task = bar.add_task("probing", total=None)
        return run_probe_fn(model, skills, output_dir, n, target_format, digits, seed, batch_size, mastered_at,
                            partial_at, on_total=lambda t: bar.update(task, total=t),
                            on_batch=lambda k: bar.advance(task, k))


@app.command()
@user_errors
def pretrain(
    config: Annotated[Optional[Path], typer.Option(help="a PretrainConfig YAML (see the shipped pretrain.yaml)")] = None,
    output_dir: Annotated[Path, typer.Option(help="where the model directory goes")] = Path("runs/pretrain"),
    steps: Annotated[Optional[int], typer.Option(help="override: optimizer steps")] = None,
    seed: Annotated[Optional[int], typer.Option(help="override: seed")] = None,
) -> None:
    """Pretrain a tiny Llama from scratch on generated arithmetic (the recipe behind tiny-arith)."""
    import yaml

    from dataladder.config import load_yaml_model
    from dataladder.models.pretrain import PretrainConfig
    from dataladder.models.pretrain import pretrain as pretrain_fn

    cfg = load_yaml_model(PretrainConfig, config) if config else PretrainConfig()
    overrides = {k: v for k, v in {"steps": steps, "seed": seed}.items() if v is not None}
    cfg = cfg.model_copy(update=overrides)
    _quiet()
    console.print(yaml.safe_dump(cfg.model_dump(), sort_keys=False).rstrip())
    with progress() as bar:
        task = bar.add_task("pretraining", total=cfg.steps)

        def on_step(step: int, loss: float) -> None:
            bar.update(task, completed=step, description=f"pretraining (loss {loss:.3f})")

        report = pretrain_fn(cfg, output_dir, on_step)
    print_pretrain(report)
    console.print(f"wrote {output_dir}")


def parse_budget(text: str | None) -> tuple[int | None, float | None]:
    """'5120', '30m', '2h' or '5120,30m' → (max examples, max minutes)."""
    examples, minutes = None, None
    for part in (text or "").split(","):
        part = part.strip().lower()
        if not part:
            continue
        try:
            if part.endswith("h"):
                minutes = float(part[:-1]) * 60
            elif part.endswith("m"):
                minutes = float(part[:-1])
            elif part.endswith("s"):
                minutes = float(part[:-1]) / 60
            else:
                examples = int(part)
        except ValueError:
            raise ValueError(f"--budget {text!r}: expected examples (5120), time (30m, 2h) or both (5120,30m)") from None
    return examples, minutes


@app.command()
@user_errors
def climb(
    model: Annotated[Optional[list[str]], typer.Option(help="base model; repeat to compare bases side by side")] = None,
    skill: Annotated[Optional[list[str]], typer.Option(help="skill to climb; repeat for several")] = None,
    target: Annotated[float, typer.Option(help="accuracy to reach in the target format")] = 0.9,
    target_format: Annotated[str, typer.Option(help="prompt format of the target")] = "exam",
    method: Annotated[str, typer.Option(help="full | lora")] = "full",
    lora_ranks: Annotated[str, typer.Option(help="LoRA ranks for --method lora, e.g. 1,4,16")] = "1,4,16",
    start: Annotated[int, typer.Option(help="examples in the first rung")] = 20,
    growth: Annotated[float, typer.Option(help="each rung's size over the previous one's")] = 2.0,
    seeds: Annotated[int, typer.Option(help="training seeds per rung")] = 2,
    budget: Annotated[Optional[str], typer.Option(help="max examples and/or wall time per arm: 5120, 30m, 5120,30m")] = None,
    delta: Annotated[float, typer.Option(help="smallest gain per doubling worth paying for")] = 0.01,
    eval_n: Annotated[int, typer.Option(help="eval items per skill and format at every rung")] = 200,
    eval_skill: Annotated[Optional[list[str]], typer.Option(help="skills evaluated at every rung (default: all built-in)")] = None,
    digits: Annotated[int, typer.Option(help="max operand digits of the arithmetic skills (mixed keeps 1)")] = 2,
    hp: Annotated[Optional[list[str]], typer.Option(help="hyperparameter override key=value, e.g. learning_rate_full=5e-4")] = None,
    train_file: Annotated[Optional[Path], typer.Option(help="prompt/completion JSONL to climb on instead of the skill's generator")] = None,
    output_dir: Annotated[Path, typer.Option(help="where runs/, ladder.json and ladder.png go")] = Path("runs/climb"),
    executor: Annotated[str, typer.Option(help="local (in this process) | ray (runs of a rung concurrently on Ray workers)")] = "local",
    ray_address: Annotated[Optional[str], typer.Option(help="ray: 'auto', ray://host:port, or none for a local cluster")] = None,
    cpus_per_run: Annotated[float, typer.Option(help="ray: num_cpus per run (0.5: two runs per core)")] = 1.0,
    gpus_per_run: Annotated[float, typer.Option(help="ray: num_gpus per run (1: one run per GPU, 0.5: two)")] = 0.0,
    threads_per_run: Annotated[Optional[int], typer.Option(help="ray: torch threads per run (default max(1, cpus per run))")] = None,
    workers: Annotated[Optional[int], typer.Option(help="ray: long-lived workers (default: as many as resources allow)")] = None,
) -> None:
    """The ladder: fine-tune on 20, 40, 80… examples until the target is reached or returns diminish."""
    from dataladder.config import apply_overrides
    from dataladder.ladder.climb import ClimbConfig, climb as climb_fn
    from dataladder.skills import get_skill

    max_examples, max_minutes = parse_budget(budget)
    try:
        ranks = [int(r) for r in lora_ranks.split(",") if r.strip()]
    except ValueError:
        raise ValueError(f"--lora-ranks {lora_ranks!r}: expected integers like 1,4,16") from None
    fields = {"models": model or ["tiny-arith"], "skills": skill or ["add"], "target": target,
              "target_format": target_format, "method": method, "lora_ranks": ranks, "start": start, "growth": growth,
              "seeds": seeds, "delta": delta, "eval_n": eval_n, "digits": digits, "hp": apply_overrides({}, hp or [])}
    if eval_skill:
        fields["eval_skills"] = eval_skill
    if train_file:
        if not train_file.is_file():
            raise ValueError(f"--train-file {train_file}: no such file")
        fields["train_file"] = str(train_file)
    if max_examples:
        fields["max_examples"] = max_examples
    if max_minutes:
        fields["max_minutes"] = max_minutes
    cfg = validated(ClimbConfig, fields)
    for s in cfg.skills + cfg.eval_skills:
        get_skill(s)  # did-you-mean before any work
    from dataladder.executors import ExecutorConfig, make_executor

    ex_cfg = validated(ExecutorConfig, {"kind": executor, "ray": {
        "address": ray_address, "cpus_per_run": cpus_per_run, "gpus_per_run": gpus_per_run,
        "threads_per_run": threads_per_run, "workers": workers}})
    _quiet()
    doc = climb_fn(cfg, output_dir, make_executor(ex_cfg), on_rung=lambda line: console.print(line, highlight=False))
    print_recommendations(doc)
    console.print(f"wrote {output_dir / 'ladder.json'} and {output_dir / 'ladder.png'}")


def validated(model_cls, fields: dict):
    from pydantic import ValidationError

    try:
        return model_cls.model_validate(fields)
    except ValidationError as e:
        err = e.errors()[0]
        raise ValueError(f"option {'.'.join(str(x) for x in err['loc'])}: {err['msg']}") from None


@app.command("skills")
def list_skills() -> None:
    """List the built-in skills, their formats and prerequisites."""
    from dataladder.skills import SKILLS, get_skill

    t = Table(title="built-in skills")
    for c in ("skill", "what", "formats", "prerequisites"):
        t.add_column(c)
    for name in SKILLS.names():
        s = get_skill(name)
        t.add_row(name, s.description, ", ".join(s.formats), ", ".join(s.prerequisites) or "—")
    console.print(t)


@app.command()
@user_errors
def synth(
    skill: Annotated[str, typer.Option(help="built-in skill (its train partition supplies the prompts)")],
    n: Annotated[int, typer.Option(help="examples to write")] = 1000,
    source: Annotated[str, typer.Option(help="template | self | endpoint")] = "template",
    output: Annotated[Optional[Path], typer.Option(help="JSONL to write (default runs/synth/<skill>-<source>.jsonl)")] = None,
    stats: Annotated[Optional[Path], typer.Option(help="stats JSON (default: next to --output, .stats.json)")] = None,
    model: Annotated[Optional[str], typer.Option(help="self: 'tiny-arith' or a local model directory")] = None,
    k: Annotated[int, typer.Option(help="self/endpoint: completions sampled per prompt")] = 4,
    temperature: Annotated[float, typer.Option(help="self/endpoint: sampling temperature")] = 0.5,
    top_p: Annotated[float, typer.Option(help="self: nucleus sampling")] = 1.0,
    sample_format: Annotated[Optional[str], typer.Option(help="prompt format to sample in (default: native for self, the write format for endpoint)")] = None,
    write_format: Annotated[Optional[str], typer.Option(help="prompt format of the written examples (default: the skill's target, exam)")] = None,
    trl_format: Annotated[str, typer.Option(help="prompt-completion | messages")] = "prompt-completion",
    messages: Annotated[bool, typer.Option("--messages", help="shorthand for --trl-format messages")] = False,
    max_candidates: Annotated[Optional[int], typer.Option(help="budget of sampled completions (default 20·n·k)")] = None,
    max_new_tokens: Annotated[Optional[int], typer.Option(help="tokens per completion (default: the skill's for self, 64 for endpoint)")] = None,
    endpoint_url: Annotated[Optional[str], typer.Option(help="endpoint: OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")] = None,
    endpoint_model: Annotated[Optional[str], typer.Option(help="endpoint: the served model's name")] = None,
    api_key: Annotated[Optional[str], typer.Option(help="endpoint: API key (default $OPENAI_API_KEY)")] = None,
    concurrency: Annotated[int, typer.Option(help="endpoint: requests in flight")] = 8,
    greedy_check: Annotated[bool, typer.Option(help="self: also score greedy decoding on the same prompts")] = True,
    probe: Annotated[Optional[Path], typer.Option(help="a probe.json whose eval accuracy to show next to the acceptance rate")] = None,
    digits: Annotated[int, typer.Option(help="max operand digits of the arithmetic skills (mixed keeps 1)")] = 2,
    seed: Annotated[int, typer.Option(help="which train prompts are drawn, and the sampling seed")] = 0,
) -> None:
    """Verified examples for a skill in TRL format: from its generator, the model itself, or a teacher endpoint."""
    from dataladder.data.synth import SOURCES, SynthConfig, run_synth

    SOURCES.get(source)  # did-you-mean before any work
    cfg = SynthConfig(skill=skill, n=n, source=source, model=model, k=k if source != "template" else 1,
                      temperature=temperature, top_p=top_p, sample_format=sample_format, write_format=write_format,
                      trl_format="messages" if messages else trl_format, digits=digits, seed=seed,
                      max_candidates=max_candidates, max_new_tokens=max_new_tokens, endpoint_url=endpoint_url,
                      endpoint_model=endpoint_model, api_key=api_key, concurrency=concurrency, greedy_check=greedy_check,
                      probe=str(probe) if probe else None)
    output = output or Path("runs/synth") / f"{skill}-{source}.jsonl"
    if source == "self" and model:  # bad options fail first, without the transformers import
        _quiet()
    with progress() as bar:
        task = bar.add_task(f"synth {skill} ({source})", total=n)
        st = run_synth(cfg, output, stats, on_progress=lambda done, total: bar.update(task, completed=done))
    print_synth(st)
    console.print(f"wrote {st['written']:,} examples to {output} and stats to {st['stats_path']}")


CONFIGS = Path(__file__).parent.parent / "configs"


def _run_plan_with_progress(plan) -> Path:
    from dataladder.study import Hooks, run_plan

    _quiet()
    with progress() as bar:
        rungs = bar.add_task("rungs done", total=None)
        steps = bar.add_task("training steps", total=1, visible=False)
        evals = bar.add_task("evaluation items", total=None, visible=False)

        def on_train(step: int, total: int) -> None:
            bar.update(evals, visible=False)
            bar.update(steps, completed=step, total=total, visible=True)

        def on_eval(k: int) -> None:
            bar.update(steps, visible=False)
            bar.update(evals, advance=k, visible=True)

        def on_rung(line: str) -> None:
            bar.update(steps, visible=False)
            bar.update(evals, visible=False, completed=0)
            bar.advance(rungs)
            console.print(f"  {line}", highlight=False)

        hooks = Hooks(step=lambda msg: console.print(f"[bold]→ {msg}[/bold]"), rung=on_rung, train=on_train, eval=on_eval)
        return run_plan(plan, hooks)


@app.command()
@user_errors
def run(
    plan: Annotated[Path, typer.Argument(help="the study plan (YAML); see configs/")],
    override: Annotated[Optional[list[str]], typer.Argument(help="key=value overrides, e.g. output_dir=runs/x climbs.0.target=0.8")] = None,
) -> None:
    """Run a whole study from one plan: probe → data → ladders → report. Rerun to resume."""
    from dataladder.config import load_plan

    p = load_plan(plan, override or [])
    for name in p.probe.skills:
        _check_skill(name)
    for c in p.climbs:
        for name in c.skills + c.eval_skills:
            _check_skill(name)
    report = _run_plan_with_progress(p)
    print_study(Path(p.output_dir))
    console.print(f"report: {report}")


def _check_skill(name: str) -> None:
    from dataladder.skills import SKILLS

    if not (name.endswith(".jsonl") or Path(name).is_file()):
        SKILLS.get(name)


@app.command()
@user_errors
def demo(
    quick: Annotated[bool, typer.Option(help="a smaller plan (configs/demo-quick.yaml), a few minutes")] = False,
    output_dir: Annotated[Optional[Path], typer.Option(help="where the study goes (default runs/demo or runs/demo-quick)")] = None,
) -> None:
    """The full study on the shipped model (configs/demo.yaml) into runs/demo/, ending with the report's path."""
    from dataladder.config import load_plan

    plan_path = CONFIGS / ("demo-quick.yaml" if quick else "demo.yaml")
    p = load_plan(plan_path, [f"output_dir={output_dir}"] if output_dir else [])
    report = _run_plan_with_progress(p)
    print_study(Path(p.output_dir))
    console.print(f"report: {report}")


@app.command()
@user_errors
def report(run_dir: Annotated[Path, typer.Argument(help="a study's output directory")]) -> None:
    """Rebuild RUN_DIR/report.html from the result files."""
    from dataladder.report.html import build_report

    console.print(f"report: {build_report(run_dir)}")


@app.command()
@user_errors
def prefs(
    model: Annotated[str, typer.Option(help="base model of the reward models and the `self` source")] = "tiny-arith",
    skill: Annotated[str, typer.Option(help="skill whose answers the reward model judges")] = "mul",
    format: Annotated[str, typer.Option(help="prompt format of the pairs")] = "native",
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
    max_minutes: Annotated[Optional[float], typer.Option(help="budget: wall time of the ladder")] = None,
    delta: Annotated[float, typer.Option(help="smallest gain worth paying for (per doubling; per 10× for saturation)")] = 0.02,
    heldout_n: Annotated[int, typer.Option(help="held-out pairs per source")] = 400,
    hard_only: Annotated[bool, typer.Option(help="train on hard pairs (near misses) only")] = False,
    flip_share: Annotated[float, typer.Option(help="label noise: share of training pairs with chosen/rejected swapped")] = 0.0,
    lora_r: Annotated[Optional[int], typer.Option(help="LoRA rank (default: full fine-tuning)")] = None,
    digits: Annotated[int, typer.Option(help="max operand digits of the arithmetic skills")] = 2,
    hp: Annotated[Optional[list[str]], typer.Option(help="reward-model hyperparameter key=value, e.g. learning_rate=1e-3")] = None,
    output_dir: Annotated[Path, typer.Option(help="where runs/, prefs.json, prefs.png and reward_model/ go")] = Path("runs/prefs"),
) -> None:
    """Reward models on a ladder of pair counts: held-out pairwise accuracy, margin, saturation point."""
    from dataladder.config import apply_overrides
    from dataladder.ladder.prefs import PrefsConfig, check_config, prefs as prefs_fn
    from dataladder.skills import get_skill

    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    cfg = validated(PrefsConfig, {
        "model": model, "skill": skill, "format": format, "train_sources": split(train_sources),
        "heldout_sources": split(heldout_sources), "other_model": other_model, "endpoint_url": endpoint_url,
        "endpoint_model": endpoint_model, "target": target, "start": start, "growth": growth, "seeds": seeds,
        "max_pairs": max_pairs, "max_minutes": max_minutes, "delta": delta, "heldout_n": heldout_n,
        "hard_only": hard_only, "flip_share": flip_share, "lora_r": lora_r, "digits": digits,
        "hp": apply_overrides({}, hp or [])})
    get_skill(cfg.skill)  # did-you-mean before any work
    check_config(cfg)
    _quiet()
    with progress() as bar:
        on_train, on_rung = step_bar(bar, "training steps")
        doc = prefs_fn(cfg, output_dir, on_rung=on_rung, on_train=on_train)
    print_prefs(doc)
    console.print(f"wrote {output_dir / 'prefs.json'}, {output_dir / 'prefs.png'} and {output_dir / 'reward_model'}")


@app.command()
@user_errors
def compare(
    climb: Annotated[Optional[Path], typer.Option(help="a climb output directory (ladder.json)")] = None,
    prefs: Annotated[Optional[Path], typer.Option(help="a prefs output directory (prefs.json)")] = None,
    rl: Annotated[Optional[Path], typer.Option(help="an rl output directory (rl.json)")] = None,
    skill: Annotated[Optional[str], typer.Option(help="which climb arm to take (default: the prefs skill, else the first)")] = None,
    delta: Annotated[float, typer.Option(help="saturation: 10× more gains less than this")] = 0.02,
    output_dir: Annotated[Path, typer.Option(help="where compare.json and compare.png go")] = Path("runs/compare"),
) -> None:
    """Supervised examples, preference pairs and rollouts on one log axis, each with its saturation point."""
    from dataladder.ladder.compare import compare as compare_fn

    doc = compare_fn(climb, prefs, rl, output_dir, delta, skill)
    print_compare(doc, delta)
    console.print(f"wrote {output_dir / 'compare.json'} and {output_dir / 'compare.png'}")


@app.command()
@user_errors
def curate(
    input: Annotated[Path, typer.Argument(help="records: JSONL, JSON or Parquet in TRL, Alpaca or ShareGPT format")],
    output_dir: Annotated[Path, typer.Option(help="where kept.jsonl, rejected.jsonl and stats.json go")] = Path("runs/curate"),
    steps: Annotated[str, typer.Option(help="steps in order (validate always runs first)")] = "validate,normalize,verify,dedup,near-dup,decontaminate,length",
    skill: Annotated[Optional[str], typer.Option(help="skill of records without a 'skill' field (name or JSONL file)")] = None,
    digits: Annotated[int, typer.Option(help="max operand digits of the arithmetic skills")] = 2,
    eval_set: Annotated[Optional[list[Path]], typer.Option(help="eval file to decontaminate against; repeat for several")] = None,
    eval_skill: Annotated[Optional[list[str]], typer.Option(help="built-in skill whose eval partition is off limits; repeat")] = None,
    eval_n: Annotated[int, typer.Option(help="eval items per --eval-skill matched as text")] = 1000,
    near_dup_threshold: Annotated[float, typer.Option(help="Jaccard similarity (character shingles) of near duplicates")] = 0.8,
    ngram_overlap: Annotated[float, typer.Option(help="share of an eval prompt's n-grams that makes a leak")] = 0.8,
    min_chars: Annotated[int, typer.Option(help="min characters of prompt + completion")] = 1,
    max_chars: Annotated[Optional[int], typer.Option(help="max characters of prompt + completion")] = None,
    skip_bad: Annotated[bool, typer.Option(help="reject bad records (bad_record:<field>) instead of stopping")] = False,
    require_verified: Annotated[bool, typer.Option(help="reject records no verifier can check")] = False,
) -> None:
    """Curate records: validate, normalize, verify, dedup, near-dup, decontaminate, length filters."""
    from dataladder.data.curate import CurateConfig, curate as curate_fn

    cfg = validated(CurateConfig, {
        "steps": [s.strip() for s in steps.split(",") if s.strip()], "skill": skill, "digits": digits,
        "eval_sets": [str(p) for p in eval_set or []], "eval_skills": eval_skill or [], "eval_n": eval_n,
        "near_dup_threshold": near_dup_threshold, "ngram_overlap": ngram_overlap, "min_chars": min_chars,
        "max_chars": max_chars, "skip_bad": skip_bad, "require_verified": require_verified})
    with progress() as bar:
        task = bar.add_task("curating (records read)", total=None)
        stats = curate_fn(input, output_dir, cfg, on_record=lambda n: bar.update(task, completed=n))
    print_curate(input, stats)
    console.print(f"wrote {output_dir / 'kept.jsonl'}, {output_dir / 'rejected.jsonl'} and {output_dir / 'stats.json'}")


@app.command()
@user_errors
def corrupt(
    input: Annotated[Path, typer.Argument(help="records: JSONL, JSON or Parquet in TRL, Alpaca or ShareGPT format")],
    output: Annotated[Path, typer.Option(help="the noisy copy (TRL JSONL; .json or .parquet by suffix)")],
    wrong_share: Annotated[float, typer.Option(help="share of items given a plausible wrong answer")] = 0.0,
    unverified_share: Annotated[float, typer.Option(help="share of items replaced by unverified synthetic answers")] = 0.0,
    duplicate_share: Annotated[float, typer.Option(help="share of items replaced by exact copies of others")] = 0.0,
    synthetic_error: Annotated[float, typer.Option(help="how often an unverified synthetic answer is wrong")] = 0.5,
    seed: Annotated[int, typer.Option(help="which items are corrupted, and how")] = 0,
) -> None:
    """Make a noisy copy of a dataset on purpose; each noisy record carries `noise: {kind, ...}`."""
    from dataladder.data.formats import read_trl, write_records
    from dataladder.data.noise import add_noise, noise_counts

    for name, v in (("--wrong-share", wrong_share), ("--unverified-share", unverified_share),
                    ("--duplicate-share", duplicate_share), ("--synthetic-error", synthetic_error)):
        if not 0 <= v <= 1:
            raise ValueError(f"{name} {v}: must lie in [0, 1]")
    records = [rec for _, rec in read_trl(input)]
    noisy = add_noise(records, wrong_share, unverified_share, duplicate_share, seed, synthetic_error)
    write_records(output, noisy)
    print_noise(output, noise_counts(noisy))


@app.command()
@user_errors
def sandbox(
    program: Annotated[Optional[Path], typer.Argument(help="a Python file to run in the sandbox (optional)")] = None,
    tests: Annotated[Optional[list[Path]], typer.Option(help="a file of test code run after the program; repeat")] = None,
    limits: Annotated[str, typer.Option(help="e.g. 'wall_s=5,cpu_s=2,memory_mb=256' (see the README)")] = "",
) -> None:
    """Which protections the code sandbox has on this host; with PROGRAM, run it (and --tests) and print the verdict."""
    from dataladder.verify.sandbox import Limits, Sandbox, sandbox_capabilities

    lim = Limits.parse(limits)
    caps = sandbox_capabilities()
    print_sandbox(caps)
    if program is None:
        return
    for path in [program, *(tests or [])]:
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
    box = Sandbox(lim, workers=1)
    r = box.run(program.read_text(), [p.read_text() for p in tests or []])
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    print_verdict(r)
    if not r.ok:
        raise typer.Exit(1)


@app.command("rl")
@user_errors
def rl_command(
    model: Annotated[str, typer.Option(help="policy model: 'tiny-arith' or a local causal LM directory")] = "tiny-arith",
    skill: Annotated[str, typer.Option(help="skill to train with RL (should be partly known: see `probe`)")] = "mul",
    format: Annotated[str, typer.Option(help="prompt format: 'target' (the skill's, as in probe and climb), 'auto' (the one the zero-signal check finds most signal in) or a format name")] = "target",
    cold_start: Annotated[str, typer.Option(help="verified SFT examples before RL: 'auto' (20 when the zero-signal check warns), 0 (never) or N")] = "auto",
    target: Annotated[float, typer.Option(help="greedy accuracy to reach")] = 0.8,
    reward_model: Annotated[Optional[Path], typer.Option(help="reward model directory from `dataladder prefs` (default: the verifier)")] = None,
    online_every: Annotated[Optional[int], typer.Option(help="retrain the reward model every K steps on verifier-labelled rollouts")] = None,
    filter_zero_signal: Annotated[bool, typer.Option(help="drop prompts whose sampled completions all score the same")] = False,
    num_generations: Annotated[int, typer.Option(help="completions per prompt (the GRPO group)")] = 8,
    start_steps: Annotated[int, typer.Option(help="GRPO steps in the first rung")] = 16,
    growth: Annotated[float, typer.Option(help="each rung's steps over the previous one's")] = 2.0,
    budget: Annotated[Optional[str], typer.Option(help="max rollouts and/or wall time per arm (default 16384): 16384, 10m, 16384,10m")] = None,
    eval_n: Annotated[int, typer.Option(help="held-out eval items at every rung")] = 300,
    check_prompts: Annotated[int, typer.Option(help="prompts sampled by the zero-signal check")] = 128,
    warn_at: Annotated[float, typer.Option(help="predicted zero-signal share that triggers the warning")] = 0.9,
    seed: Annotated[int, typer.Option(help="training seed and prompt draw")] = 0,
    digits: Annotated[int, typer.Option(help="max operand digits of the arithmetic skills")] = 2,
    hp: Annotated[Optional[list[str]], typer.Option(help="GRPO hyperparameter key=value, e.g. learning_rate=5e-5")] = None,
    output_dir: Annotated[Path, typer.Option(help="where runs/, rl.json and rl.png go")] = Path("runs/rl"),
) -> None:
    """RL with GRPO: zero-signal check, then greedy accuracy at growing rollout counts, fit and stop rule."""
    from dataladder.config import apply_overrides
    from dataladder.ladder.rl import RLConfig, rl as rl_fn
    from dataladder.skills import get_skill

    max_rollouts, max_minutes = parse_budget(budget)
    if cold_start != "auto" and not cold_start.isdigit():
        raise ValueError(f"--cold-start {cold_start}: 'auto', 0 (never) or a number of examples")
    if reward_model is not None and not (reward_model / "config.json").is_file():
        raise ValueError(f"--reward-model {reward_model}: not a reward model directory (no config.json); "
                         "run `dataladder prefs` first")
    fields = {"model": model, "skill": skill, "format": format, "cold_start": cold_start, "target": target,
              "start_steps": start_steps,
              "growth": growth, "eval_n": eval_n, "check_prompts": check_prompts, "warn_at": warn_at, "seed": seed,
              "digits": digits, "filter_zero_signal": filter_zero_signal, "online_every": online_every,
              "reward_model": str(reward_model) if reward_model else None,
              "hp": apply_overrides({"num_generations": num_generations}, hp or [])}
    if max_rollouts:
        fields["max_rollouts"] = max_rollouts
    if max_minutes:
        fields["max_minutes"] = max_minutes
    cfg = validated(RLConfig, fields)
    get_skill(cfg.skill)  # did-you-mean before any work
    if online_every is not None and online_every < 1:
        raise ValueError(f"--online-every {online_every}: must be ≥ 1")
    if cfg.online_every and not cfg.reward_model:
        raise ValueError("--online-every needs --reward-model (the reward model it retrains)")
    _quiet()
    with progress() as bar:
        on_step, on_note = step_bar(bar, "GRPO steps")
        doc = rl_fn(cfg, output_dir, on_note=on_note, on_step=on_step)
    print_rl(doc)
    console.print(f"wrote {output_dir / 'rl.json'} and {output_dir / 'rl.png'}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
