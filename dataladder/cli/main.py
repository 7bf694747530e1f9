"""The `dataladder` command: one subcommand per job. Run `dataladder --help`.

The ladder, study and report commands live here; the data tools (synth, curate, corrupt, sandbox) in
`dataladder.cli.data`, the helpers both use in `dataladder.cli.common`, the rendering in `dataladder.cli.tables`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from dataladder.cli import data as cli_data
from dataladder.cli.common import (ChatTemplateOpt, CpusPerRunOpt, ExecutorOpt, GpusPerRunOpt, MaxNewTokensOpt,
                                   RayAddressOpt, ReportToOpt, StopOpt, SystemPromptOpt, ThreadsPerRunOpt, WorkersOpt,
                                   _quiet, check_writable, err_console, executor_from, parse_budget, progress,
                                   prompt_fields, step_bar, user_errors, validated)
from dataladder.cli.ladders import dpo, prefs, rl_command, rm_policy
from dataladder.cli.fit import fit
from dataladder.core.errors import not_a_file
from dataladder.cli.probe import probe
from dataladder.cli.tables import (console, print_compare, print_pretrain,
                                   print_recommendations, print_skills, print_study)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="How much post-training data will fix my model's problem? Evals first, then the ladder.")


@app.callback()
def _global(
    threads: Annotated[Optional[int], typer.Option(help="torch threads per process (default: a model under 30M "
                                                       "parameters gets the cores idle when it loads, at least one; a "
                                                       "larger one every core); also plan `threads:`, "
                                                       "$DATALADDER_THREADS")] = None,
) -> None:
    from dataladder.core.runtime import ENV

    if threads is not None:
        if threads < 1:
            err_console.print(f"[red]error:[/red] option --threads {threads}: must be a positive number of threads",
                              highlight=False)
            raise typer.Exit(2)
        os.environ[ENV] = str(threads)


@user_errors
def pretrain(
    config: Annotated[Optional[Path], typer.Option(help="a PretrainConfig YAML (see the shipped pretrain.yaml)")] = None,
    output_dir: Annotated[Path, typer.Option(help="where the model directory goes")] = Path("runs/pretrain"),
    steps: Annotated[Optional[int], typer.Option(help="override: optimizer steps")] = None,
    seed: Annotated[Optional[int], typer.Option(help="override: seed")] = None,
) -> None:
    """Pretrain a tiny Llama from scratch on generated arithmetic (the recipe behind tiny-arith)."""
    check_writable(output_dir, "--output-dir")
    import yaml

    from dataladder.core.config import load_yaml_model
    from dataladder.models.pretrain import PretrainConfig
    from dataladder.models.pretrain import pretrain as pretrain_fn

    cfg = load_yaml_model(PretrainConfig, config) if config else PretrainConfig()
    overrides = {k: v for k, v in {"steps": steps, "seed": seed}.items() if v is not None}
    cfg = validated(PretrainConfig, {**cfg.model_dump(), **overrides})  # model_copy would skip the checks
    _quiet()
    console.print(yaml.safe_dump(cfg.model_dump(), sort_keys=False).rstrip())
    with progress() as bar:
        task = bar.add_task("pretraining", total=cfg.steps)

        def on_step(step: int, loss: float) -> None:
            bar.update(task, completed=step, description=f"pretraining (loss {loss:.3f})")

        report = pretrain_fn(cfg, output_dir, on_step)
    print_pretrain(report)
    console.print(f"wrote {output_dir}")


@user_errors
def climb(
    model: Annotated[Optional[list[str]], typer.Option(help="base model; repeat to compare bases side by side")] = None,
    skill: Annotated[Optional[list[str]], typer.Option(help="skill to climb: add, mul, tasks.jsonl, tasks.jsonl:code; "
                                                            "repeat for several (default add, for tiny-arith only)")] = None,
    target: Annotated[float, typer.Option(help="accuracy to reach in the target format")] = 0.9,
    target_format: Annotated[Optional[str], typer.Option(help="prompt format of the target (default: each skill's own: exam for arithmetic)")] = None,
    method: Annotated[str, typer.Option(help="full | lora")] = "full",
    lora_ranks: Annotated[str, typer.Option(help="LoRA ranks for --method lora, e.g. 1,4,16")] = "1,4,16",
    start: Annotated[int, typer.Option(help="examples in the first rung")] = 20,
    growth: Annotated[float, typer.Option(help="each rung's size over the previous one's")] = 2.0,
    seeds: Annotated[int, typer.Option(help="training seeds per rung")] = 2,
    budget: Annotated[Optional[str], typer.Option(help="max examples and/or training time per arm (stored run time: a resume counts finished runs): 5120, 30m, 5120,30m")] = None,
    delta: Annotated[float, typer.Option(help="smallest gain per doubling worth paying for")] = 0.01,
    eval_n: Annotated[int, typer.Option(help="eval items per skill and format at every rung")] = 200,
    eval_skill: Annotated[Optional[list[str]], typer.Option(help="skill or JSONL file evaluated at every rung besides the climbed ones (default: the arithmetic skills on tiny-arith, else none)")] = None,
    hp: Annotated[Optional[list[str]], typer.Option(help="hyperparameter override key=value, e.g. learning_rate_full=5e-4")] = None,
    train_file: Annotated[Optional[Path], typer.Option(help="records to climb on instead of the skill's generator: messages, "
                                                            "(conversational) prompt/completion, Alpaca or ShareGPT")] = None,
    chat_template: ChatTemplateOpt = "auto",
    system_prompt: SystemPromptOpt = None,
    stop: StopOpt = None,
    max_new_tokens: MaxNewTokensOpt = None,
    output_dir: Annotated[Path, typer.Option(help="where runs/, ladder.json and ladder.png go")] = Path("runs/climb"),
    report_to: ReportToOpt = "none",
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    cpus_per_run: CpusPerRunOpt = 1.0,
    gpus_per_run: GpusPerRunOpt = 0.0,
    threads_per_run: ThreadsPerRunOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """The ladder: fine-tune on 20, 40, 80… examples until the target is reached or returns diminish."""
    check_writable(output_dir, "--output-dir")
    from dataladder.core.config import apply_overrides
    from dataladder.ladder.climb import ClimbConfig, check_formats, climb as climb_fn
    from dataladder.skills import get_skill, resolve_skills

    from dataladder.cli.common import refuse_together

    max_examples, max_minutes = parse_budget(budget)
    refuse_together(method == "full", "--method full", ("lora_ranks",), "LoRA ranks are for --method lora")
    try:
        ranks = [int(r) for r in lora_ranks.split(",") if r.strip()]
    except ValueError:
        raise ValueError(f"--lora-ranks {lora_ranks!r}: expected integers like 1,4,16") from None
    if not skill and model and model != ["tiny-arith"]:
        raise ValueError("--skill: name the skill to climb, e.g. --skill tasks.jsonl:code (add is the default only "
                         "for the shipped tiny-arith)")
    fields = {"models": model or ["tiny-arith"], "skills": skill or ["add"], "target": target,
              "target_format": target_format, "method": method, "lora_ranks": ranks, "start": start, "growth": growth,
              "seeds": seeds, "delta": delta, "eval_n": eval_n, "hp": apply_overrides({}, hp or []), "report_to": report_to,
              **prompt_fields(chat_template, system_prompt, stop, max_new_tokens)}
    if eval_skill:
        fields["eval_skills"] = eval_skill
    if train_file:
        from dataladder.data.trainfile import read_train_file

        if why := not_a_file(train_file):
            raise ValueError(f"--train-file {train_file}: {why}")
        read_train_file(train_file)  # every record checked (file:line:field) before any model is loaded
        fields["train_file"] = str(train_file)
    if max_examples:
        fields["max_examples"] = max_examples
    if max_minutes:
        fields["max_minutes"] = max_minutes
    cfg = validated(ClimbConfig, fields)
    from dataladder.models.hub import check_model

    for m in cfg.models:
        check_model(m)
    for s in cfg.skills:
        get_skill(s)  # did-you-mean, one skill each (file.jsonl:name), before any work
    resolve_skills(cfg.eval_skills or [])
    check_formats(cfg)  # the target format exists, and train items do (or a train file)
    ex = executor_from(executor, ray_address, cpus_per_run, gpus_per_run, threads_per_run, workers)
    _quiet()
    from dataladder.ladder.estimate import estimate_climb

    if (est := estimate_climb(cfg)) is not None:  # before the first rung: the plan's time, from the model's size
        console.print(est.line(), highlight=False)
    with progress() as bar:  # training steps and eval items within a rung: a bar, or plain lines in a log
        on_train, on_rung = step_bar(bar, "training steps")
        evals = bar.add_task("evaluation items", total=None, visible=False)

        def on_eval(k: int) -> None:
            bar.update(evals, advance=k, visible=True)

        def on_line(line: str) -> None:
            bar.update(evals, visible=False, completed=0)
            on_rung(line)

        doc = climb_fn(cfg, output_dir, ex, on_rung=on_line, on_train=on_train, on_eval=on_eval)
    print_recommendations(doc)
    console.print(f"wrote {output_dir / 'ladder.json'} and {output_dir / 'ladder.png'}")


@user_errors
def list_skills(
    spec: Annotated[Optional[list[str]], typer.Argument(help="skill specs to show (tasks.jsonl, tasks.jsonl:code, "
                                                             "mul:<param>=<value>); default: the built-in skills")] = None,
) -> None:
    """List skills: their formats (the target one marked *), verifier, train/eval items and prerequisites."""
    import inspect

    from dataladder.skills import SKILLS, get_skill, resolve_skills

    skills = resolve_skills(spec) if spec else [get_skill(n) for n in SKILLS.names()]
    rows = []
    for s in skills:
        fmts = ", ".join(f + ("*" if f == s.target_format else "") for f in s.formats)
        if s.finite:
            items, what = f"{len(s.items('eval', 1 << 30, 0))} / {len(s.items('train', 1 << 30, 0))}", ""
        else:
            items, what = "generated", s.description
            if not spec:
                sig = inspect.signature(SKILLS.get(s.name)).parameters.items()
                what += "".join(f", {k}={v.default}" for k, v in sig)
        rows.append({"spec": s.spec or s.name, "formats": fmts, "verifier": s.verifier or "—", "items": items,
                     "prerequisites": ", ".join(s.prerequisites) or "—", "what": what})
    print_skills(rows, "skills" if spec else "built-in skills (parameters after a colon: add:<param>=<value>)")


CONFIGS = Path(__file__).parent.parent / "configs"


def _run_plan_with_progress(plan) -> Path:
    from dataladder.study.run import Hooks, run_plan

    _quiet()
    with progress() as bar:
        rungs = bar.add_task("rungs done", total=None, log=False)  # each rung prints its line
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

        running: dict[str, dict[str, object]] = {}  # steps side by side: a training bar and an eval bar each

        def on_task(name: str, what: str, done: int, total: int | None) -> None:
            what = "train" if what == "train" else "eval"
            if name not in running:
                running[name] = {w: bar.add_task(f"{name}: {label}", total=None, visible=False)
                                 for w, label in (("train", "training steps"), ("eval", "evaluation items"))}
            for w, task in running[name].items():
                if w == what:
                    bar.update(task, completed=done, total=total, visible=True)
                else:
                    bar.update(task, visible=False)

        def on_finished(name: str, seconds: float) -> None:
            if name in running:
                for task in running.pop(name).values():
                    bar.remove_task(task)
            console.print(f"[bold]✓ {name}[/bold] ({seconds:.0f} s)")

        hooks = Hooks(step=lambda msg: console.print(f"[bold]→ {msg}[/bold]"), rung=on_rung, train=on_train, eval=on_eval,
                      task=on_task, finished=on_finished)
        try:
            return run_plan(plan, hooks)
        except KeyboardInterrupt:
            err_console.print("interrupted: every finished run is kept; rerun the same command to resume", highlight=False)
            raise typer.Exit(130) from None


@user_errors
def run(
    plan: Annotated[Path, typer.Argument(help="the study plan (YAML); see configs/")],
    override: Annotated[Optional[list[str]], typer.Argument(help="key=value overrides, e.g. output_dir=runs/x climbs.0.target=0.8")] = None,
) -> None:
    """Run a whole study from one plan: probe → data → ladders → report. Rerun to resume."""
    from dataladder.study.plan import load_plan

    from dataladder.study.run import check_plan

    p = load_plan(plan, override or [])
    check_writable(Path(p.output_dir), "output_dir")
    try:
        check_plan(p)  # unknown skills, bad JSONL lines, skills without train items: before any work
    except ValueError as e:
        raise ValueError(f"{plan}: {e}") from None
    report = _run_plan_with_progress(p)
    print_study(Path(p.output_dir))
    console.print(f"report: {report}")


@user_errors
def demo(
    quick: Annotated[bool, typer.Option(help="a smaller plan (configs/demo-quick.yaml), a few minutes")] = False,
    output_dir: Annotated[Optional[Path], typer.Option(help="where the study goes (default runs/demo or runs/demo-quick)")] = None,
) -> None:
    """The full study on the shipped model (configs/demo.yaml) into runs/demo/, ending with the report's path."""
    from dataladder.study.plan import load_plan

    if output_dir is not None:
        check_writable(output_dir, "--output-dir")
    plan_path = CONFIGS / ("demo-quick.yaml" if quick else "demo.yaml")
    p = load_plan(plan_path, [f"output_dir={output_dir}"] if output_dir else [])
    check_writable(Path(p.output_dir), "--output-dir")
    report = _run_plan_with_progress(p)
    print_study(Path(p.output_dir))
    console.print(f"report: {report}")


@user_errors
def report(run_dir: Annotated[Path, typer.Argument(help="a study's output directory")]) -> None:
    """Rebuild RUN_DIR/report.html from the result files."""
    from dataladder.report.html import build_report

    console.print(f"report: {build_report(run_dir)}")


@user_errors
def compare(
    climb: Annotated[Optional[list[Path]], typer.Option(help="a climb output directory (ladder.json); repeat for several")] = None,
    prefs: Annotated[Optional[Path], typer.Option(help="a prefs output directory (prefs.json)")] = None,
    rl: Annotated[Optional[Path], typer.Option(help="an rl output directory (rl.json)")] = None,
    dpo: Annotated[Optional[Path], typer.Option(help="a dpo output directory (dpo.json)")] = None,
    rm_policy: Annotated[Optional[Path], typer.Option(help="an rm-policy output directory (rm-policy.json)")] = None,
    ladder: Annotated[Optional[list[Path]], typer.Option(help="any other ladder document (a kind's JSON, or its "
                                                              "directory); repeat for several")] = None,
    skill: Annotated[Optional[str], typer.Option(help="which climb arm to take (default: the prefs or dpo skill, else the first)")] = None,
    delta: Annotated[float, typer.Option(help="saturation: 10× more gains less than this")] = 0.02,
    output_dir: Annotated[Path, typer.Option(help="where compare.json and compare.png go")] = Path("runs/compare"),
) -> None:
    """Supervised examples, DPO pairs, reward-model pairs and rollouts on one log axis, each with its saturation point."""
    check_writable(output_dir, "--output-dir")
    from dataladder.ladder.compare import compare as compare_fn

    from dataladder.core.errors import malformed

    given = [*(climb or []), *(p for p in (prefs, rl, dpo, rm_policy) if p), *(ladder or [])]
    with malformed(", ".join(map(str, given)), "ladder document"):
        doc = compare_fn(climb, prefs, rl, output_dir, delta, skill, dpo=dpo, rm_policy=rm_policy,
                         ladders=tuple(ladder or ()))
    print_compare(doc, delta)
    console.print(f"wrote {output_dir / 'compare.json'} and {output_dir / 'compare.png'}")


# `dataladder --help` lists the commands in this order.
for _name, _command in [("probe", probe), ("pretrain", pretrain), ("climb", climb), ("skills", list_skills),
                        ("synth", cli_data.synth), ("run", run), ("demo", demo), ("report", report), ("prefs", prefs),
                        ("compare", compare), ("fit", fit), ("curate", cli_data.curate), ("corrupt", cli_data.corrupt),
                        ("sandbox", cli_data.sandbox), ("rl", rl_command), ("dpo", dpo),
                        ("rm-policy", rm_policy)]:
    app.command(_name)(_command)


def main() -> None:
    """The `dataladder` command: the typer app, with option and argument errors (a typo'd option, a value
    of the wrong type) as one line and exit code 2, like every other bad input."""
    for stream in (sys.stdout, sys.stderr):  # a log file gets each line as it is printed, not in 8 kB blocks
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    from dataladder.cli.common import repeated_option

    if twice := repeated_option(typer.main.get_command(app), sys.argv[1:]):  # click would keep the last silently
        print(twice, file=sys.stderr)
        sys.exit(2)
    try:
        rv = app(standalone_mode=False)
    except Exception as e:  # typer vendors click: its exceptions are told apart by class name
        kinds = {c.__name__ for c in type(e).__mro__}
        if "UsageError" in kinds:
            ctx = getattr(e, "ctx", None)
            if "NoArgsIsHelpError" in kinds or ctx is None:  # bare `dataladder`: the help, as before
                e.show()
                sys.exit(getattr(e, "exit_code", 2))
            print(f"error: {ctx.command_path}: {e.format_message()} (see {ctx.command_path} --help)", file=sys.stderr)
            sys.exit(2)
        if "Abort" in kinds:
            print("Aborted!", file=sys.stderr)
            sys.exit(1)
        raise
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
