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
from dataladder.cli.common import (OUTPUT, _quiet, check_writable, err_console, progress,
                                   user_errors, validated)
from dataladder.cli.derive import with_signature
from dataladder.cli.ladders import commands as ladder_commands
from dataladder.ladder.kinds import kinds
from dataladder.cli.fit import fit
from dataladder.cli.probe import probe
from dataladder.cli.tables import (console, print_compare, print_pretrain,
                                   print_skills, print_study)

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
    output_dir: Annotated[Path, typer.Option(help="where the model directory goes", **OUTPUT)] = Path("runs/pretrain"),
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


CONFIGS = Path(__file__).resolve().parents[2] / "configs"  # the repository's configs/ (this file is dataladder/cli/main.py)


def _run_plan_with_progress(plan) -> Path:
    from dataladder.study.pool import run_plan
    from dataladder.study.run import Hooks

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
        from dataladder.study.pool import StepDied

        try:
            return run_plan(plan, hooks)
        except KeyboardInterrupt:
            err_console.print("interrupted: every finished run is kept; rerun the same command to resume", highlight=False)
            raise typer.Exit(130) from None
        except StepDied as e:  # killed (out of memory, kill -9) or crashed: not bad input, and no traceback
            err_console.print(f"error: {e}", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(1) from None


@user_errors
def run(
    plan: Annotated[Path, typer.Argument(help="the study plan (YAML); see configs/")],
    override: Annotated[Optional[list[str]], typer.Argument(help="key=value overrides, e.g. output_dir=runs/x climbs.0.target=0.8")] = None,
) -> None:
    """Run a whole study from one plan: probe → data → ladders → report. Rerun to resume."""
    from dataladder.study.plan import load_plan

    from dataladder.study.run import check_plan

    p = load_plan(plan, override or [])
    check_writable(p.output_dir, "output_dir")  # as given: '' is refused, not read as .
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
    output_dir: Annotated[Optional[Path], typer.Option(help="where the study goes (default runs/demo or runs/demo-quick)", **OUTPUT)] = None,
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


def _compare_params() -> list:
    """compare's options: one per registered kind (`--climb` repeats), --ladder for any other document."""
    import inspect

    P = lambda name, ann, default=None: inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,  # noqa: E731
                                                          annotation=ann)
    out = [P(k.compare_param, Annotated[Optional[list[Path]] if k.many else Optional[Path],
                                                              typer.Option(help=f"a {k.cmd} output directory "
                                                                                f"({k.document})"
                                                                                + ("; repeat for several" if k.many
                                                                                   else ""))]) for k in kinds()]
    return out + [
        P("ladder", Annotated[Optional[list[Path]], typer.Option(help="any other ladder document (a kind's JSON, or its "
                                                                      "directory); repeat for several")]),
        P("skill", Annotated[Optional[str], typer.Option(help="which climb arm to take (default: the prefs or dpo "
                                                              "skill, else the first)")]),
        P("delta", Annotated[float, typer.Option(help="saturation: 10× more gains less than this")], 0.02),
        P("output_dir", Annotated[Path, typer.Option(help="where compare.json and compare.png go", **OUTPUT)], Path("runs/compare"))]


@user_errors
def compare(**opts) -> None:
    """Supervised examples, DPO pairs, reward-model pairs, rollouts and demonstrations on one log axis, each with its
    saturation point."""
    from dataladder.core.errors import malformed
    from dataladder.ladder.compare import compare as compare_fn
    from dataladder.study.run import COMPARE_ARGS

    output_dir, delta, skill = opts.pop("output_dir"), opts.pop("delta"), opts.pop("skill")
    if not 0 < delta < float("inf"):
        raise ValueError(f"--delta {delta}: a gain above 0 (saturation: 10× more gains less than this)")
    check_writable(output_dir, "--output-dir")
    output_dir = Path(output_dir).expanduser()
    climb, ladders, named = opts.pop("climb"), list(opts.pop("ladder") or ()), {}
    given = [*(("--climb", p) for p in climb or []), *(("--ladder", p) for p in ladders)]  # (option, path)
    for k in kinds():
        if not k.many and (path := opts.get(k.key)) is not None:
            option = "--" + k.key.replace("_", "-")
            given.append((option, path))
            if k.name in COMPARE_ARGS:
                named[COMPARE_ARGS[k.name]] = path
            elif path.is_dir() and not os.path.lexists(path / k.document):  # named by its own option, not --ladder
                raise ValueError(f"{option} {path}: no {k.document} here (run `dataladder {k.cmd}` first, or give the "
                                 "directory it wrote)")
            else:
                ladders.append(path / k.document if path.is_dir() else path)
    seen = [os.path.realpath(p) for _, p in given]  # a symbolic link loop too: read_result names it
    if (i := next((i for i, p in enumerate(seen) if p in seen[:i]), None)) is not None:
        (o1, p1), (o2, p2) = given[seen.index(seen[i])], given[i]
        raise ValueError(f"{o1} {p1} and {o2} {p2}: the same directory twice; each option takes its own ladder's "
                         "output directory, and compare needs two different ladders")
    _check_skill(skill, climb)
    with malformed(", ".join(map(str, given)), "ladder document"):
        doc = compare_fn(climb, named.get("prefs"), named.get("rl"), output_dir, delta, skill, dpo=named.get("dpo"),
                         rm_policy=named.get("rm_policy"), ladders=tuple(ladders))
    print_compare(doc, delta)
    console.print(f"wrote {output_dir / 'compare.json'} and {output_dir / 'compare.png'}")


def _check_skill(skill: str | None, climb: list[Path] | None) -> None:
    """--skill picks the first --climb's arm: without a climb, or naming no arm of it, it is refused (compare would
    silently take the first arm)."""
    if skill is None:
        return
    if not climb:
        raise ValueError(f"--skill {skill} without --climb: --skill picks which arm of the climb's ladder.json to "
                         "compare; give --climb or drop --skill")
    from dataladder.core.errors import read_json
    from dataladder.core.registry import did_you_mean

    path = climb[0] / "ladder.json" if climb[0].is_dir() else climb[0]
    doc = read_json(path, "ladder document") if path.is_file() else None  # a missing one: compare names it
    arms = doc.get("arms") if isinstance(doc, dict) else None
    names = [a.get("skill") for a in arms if isinstance(a, dict)] if isinstance(arms, list) else []
    if names and skill not in names:
        raise ValueError(f"--skill {skill}: no arm of {path} is for it; " + did_you_mean("skill", skill,
                                                                                          [str(n) for n in names]))


with_signature(compare, _compare_params())


# `dataladder --help` lists the commands in this order.
_ladders = {k.cmd: c for k, c in zip(kinds(), ladder_commands())}  # one per registered kind (ladder/kinds.py)
for _name, _command in [("probe", probe), ("pretrain", pretrain), ("climb", _ladders.pop("climb")),
                        ("skills", list_skills), ("synth", cli_data.synth), ("run", run), ("demo", demo),
                        ("report", report), ("compare", compare), ("fit", fit), ("curate", cli_data.curate),
                        ("corrupt", cli_data.corrupt), ("sandbox", cli_data.sandbox), *_ladders.items()]:
    app.command(_name)(_command)


def main() -> None:
    """The `dataladder` command: the typer app, with option and argument errors (a typo'd option, a value
    of the wrong type) as one line and exit code 2, like every other bad input."""
    for stream in (sys.stdout, sys.stderr):  # a log file gets each line as it is printed, not in 8 kB blocks
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    from dataladder.cli.common import empty_path, repeated_option

    group = typer.main.get_command(app)
    if twice := repeated_option(group, sys.argv[1:]) or empty_path(group, sys.argv[1:]):  # click: silently the
        print(twice, file=sys.stderr)  # last of a repeat, and '' as the current directory
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
            from dataladder.cli.common import one_line

            print(f"error: {ctx.command_path}: {one_line(e.format_message())} (see {ctx.command_path} --help)",
                  file=sys.stderr)
            sys.exit(2)
        if "Abort" in kinds:
            print("Aborted!", file=sys.stderr)
            sys.exit(1)
        raise
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
