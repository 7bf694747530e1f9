"""Helpers shared by the `dataladder` subcommands: input errors as one red line, progress bars, option parsing.

`dataladder.cli.main` (the ladder and study commands) and `dataladder.cli.data` (the data tools) both use these; nothing
here knows the typer `app`, so either module imports this one without importing the other.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from dataladder.cli.tables import console

err_console = Console(stderr=True, emoji=False)  # "tasks.jsonl:100: ..." keeps its line number (not 💯)


def user_errors(fn: Callable) -> Callable:
    """Turn input errors into one red line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from rich.markup import escape

        from dataladder.core.errors import InputError
        from dataladder.core.registry import UnknownName

        try:
            return fn(*args, **kwargs)
        except (InputError, UnknownName, ValueError) as e:
            if os.environ.get("DATALADDER_DEBUG"):  # the traceback behind the one line
                raise
            err_console.print(f"[red]error:[/red] {escape(one_line(str(e)))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None  # [x] in a message is text, not markup
        except OSError as e:  # a directory, a read-only or full file system, a name too long: at a path
            if os.environ.get("DATALADDER_DEBUG") or not e.filename:  # a path the user gave, where no check caught it
                raise
            err_console.print(f"[red]error:[/red] {escape(one_line(f'{e.filename}: {e.strerror}'))}", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def one_line(text: str) -> str:
    """An error message as the one line it must be: a newline or carriage return (in a path the user gave, in a
    library's message) written as \\n, \\r."""
    return text.rstrip("\n").replace("\r", "\\r").replace("\n", "\\n")


class LogProgress(Progress):
    """Progress where stderr is not a terminal (a log file, CI): plain lines instead of a live bar, one per task
    when it first moves, then at most every `every` seconds (`$DATALADDER_PROGRESS_EVERY`, default 30), and at
    its end: `GRPO steps: 12/40 (95 s)`, seconds since this run of the bar began. A task added with `log=False`
    (one whose every step already prints a line) prints none."""

    def __init__(self, *columns, every: float, **kw):
        super().__init__(*columns, **kw)
        self.every, self._said = every, {}

    def start(self) -> None:  # no live display at all: only the lines below
        pass

    def stop(self) -> None:
        pass

    def update(self, task_id, **kw) -> None:
        super().update(task_id, **kw)
        self._say(task_id)

    def advance(self, task_id, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._say(task_id)

    def _say(self, task_id) -> None:
        import time

        t = next((t for t in self.tasks if t.id == task_id), None)
        if t is None or not t.visible or not t.completed or t.fields.get("log") is False:
            return
        now, said = time.monotonic(), self._said.get(task_id)
        if said is None or t.completed < said[2][0] or t.total != said[2][1]:  # a new run of the bar (the next rung)
            said = (now, None, (0, t.total))
        elif said[2] == (t.completed, t.total) or ((t.total is None or t.completed != t.total)
                                                   and now - said[1] < self.every):
            return
        self._said[task_id] = (said[0], now, (t.completed, t.total))
        of = f"/{t.total:,.0f}" if t.total else ""
        self.console.print(f"{t.description}: {t.completed:,.0f}{of} ({now - said[0]:.0f} s)",
                           highlight=False, markup=False, soft_wrap=True)


def progress() -> Progress:
    """A live bar on a terminal; plain progress lines (`LogProgress`) in a log."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    if not err_console.is_terminal:
        every = float(os.environ.get("DATALADDER_PROGRESS_EVERY") or 30)
        return LogProgress(*columns, every=every, console=err_console, transient=True)
    return Progress(*columns, console=err_console, transient=True)


def step_bar(bar: Progress, label: str) -> tuple[Callable[[int, int], None], Callable[[str], None]]:
    """(on_step, on_line): a step bar shown while training, hidden while a result line prints
    (a line starting with 'warning' in yellow)."""
    steps = bar.add_task(label, total=1, visible=False)

    def on_step(step: int, total: int) -> None:
        bar.update(steps, completed=step, total=total, visible=True)

    def on_line(line: str) -> None:
        bar.update(steps, visible=False)
        style = "yellow" if line.startswith("warning") else None
        console.print(f"  {line}", style=style, markup=False, highlight=False)  # a line may quote user text

    return on_step, on_line


def _quiet() -> None:
    """Before a command's heavy work: the libraries' logs off, and one line if the machine is already busy."""
    from dataladder.core.logs import quiet
    from dataladder.core.runtime import load_warning, requested_threads

    quiet()
    requested_threads()  # a bad $DATALADDER_THREADS: one line, before any work
    if (warning := load_warning()) is not None:
        err_console.print(warning, style="yellow", markup=False, highlight=False, soft_wrap=True)


def parse_budget(text: str | None) -> tuple[int | None, float | None]:
    """'5120', '30m', '2h' or '5120,30m' → (max examples, max minutes); each positive, each at most once."""
    examples, minutes = None, None
    usage = f"--budget {text!r}: expected a positive count (5120), a time (30m, 2h) or both (5120,30m)"
    for part in (text or "").split(","):
        part = part.strip().lower()
        if not part:
            continue
        try:
            if part[-1] in "hms":
                if minutes is not None:
                    raise ValueError
                minutes = float(part[:-1]) * {"h": 60, "m": 1, "s": 1 / 60}[part[-1]]
                if not 0 < minutes < float("inf"):
                    raise ValueError
            else:
                if examples is not None or int(part) <= 0:
                    raise ValueError
                examples = int(part)
        except ValueError:
            raise ValueError(usage) from None
    if text is not None and examples is None and minutes is None:
        raise ValueError(usage)
    return examples, minutes


def output_path(value: str | Path) -> Path | str:
    """The parser of every output option (`OUTPUT`; typer passes the default through it too): a Path, but an
    empty value kept as '' (`Path('')` is the current directory, taken silently), which `check_writable` refuses."""
    return value if isinstance(value, Path) or not value.strip() else Path(value)


OUTPUT = {"parser": output_path, "metavar": "<path>"}  # typer.Option(help=..., **OUTPUT)


def check_writable(path: Path | str, option: str, file: bool = False) -> None:
    """Before any work: `path` (a directory, or with `file` a file) can be created and written. Nothing is made:
    the path is walked up to its nearest existing part, naming a symbolic link loop, a link to nowhere or a file
    in the way, and that part must be a directory this process may write in, on a file system mounted read-write.
    An empty path (as given: `output_path` keeps it) is refused, never read as the current directory."""
    import errno
    import stat

    if not str(path).strip():
        raise ValueError(f"{option} {str(path)!r}: an empty path; give a {'file' if file else 'directory'} path "
                         f"({'./name' if file else '.'} for the current directory)")
    p = Path(path).expanduser()
    q, st = p, None
    while st is None:
        try:
            st = os.stat(q)
        except OSError as e:
            if e.errno == errno.ELOOP and not (q.parent != q and _loops(q.parent)):
                raise ValueError(f"{option} {p}: {q} is a symbolic link loop; remove the link or choose another "
                                 "path") from None
            if e.errno == errno.ENOENT and os.path.islink(q):
                raise ValueError(f"{option} {p}: {q} is a link to {os.readlink(q)}, which does not exist; remove "
                                 "the link or create its target") from None
            if e.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                raise ValueError(f"{option} {p}: cannot check {q} ({e.strerror}); choose another path") from None
            if q.parent == q:
                raise ValueError(f"{option} {p}: no part of the path exists") from None
            q = q.parent
    real = os.path.realpath(q)
    shm = real == "/dev/shm" or real.startswith("/dev/shm/")  # an ordinary tmpfs
    if not shm and any(real == v or real.startswith(v + "/") for v in ("/proc", "/sys", "/dev")):  # root "writes" there
        raise ValueError(f"{option} {p}: {real} is on a virtual file system ({real.split('/')[1]}); choose another path")
    what = "directory" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "special file"
    if q == p:
        if file and what != "file":
            raise ValueError(f"{option} {p}: is a {what}; give a file path")
        if not file and what != "directory":
            raise ValueError(f"{option} {p}: is a {what}; give a directory path")
    elif what != "directory":
        raise ValueError(f"{option} {p}: {q} is a {what}, so the path cannot be created")
    where = q.parent if file and q == p else q  # a file is replaced through a temporary file next to it
    from dataladder.core.errors import cannot_write

    if why := cannot_write(where):
        raise ValueError(f"{option} {p}: cannot write in {where} ({why}); choose another path")
    if file and q == p and not os.access(p, os.W_OK):
        raise ValueError(f"{option} {p}: the file is not writable; choose another path")


def _loops(path: Path) -> bool:
    import errno

    try:
        os.stat(path)
    except OSError as e:
        return e.errno == errno.ELOOP
    return False


def validated(model_cls, fields: dict, aliases: dict[str, str] | None = None):
    """`model_cls` from `fields`; the first problem as one line naming the option (`aliases`: field → option)."""
    from pydantic import BaseModel, ValidationError

    from dataladder.core.config import bool_problem
    from dataladder.core.registry import did_you_mean

    if why := bool_problem(model_cls, fields):  # `--hp epochs=true`: pydantic would read it as 1
        where, _, rest = why.removeprefix("key '").partition("': ")
        head, _, tail = where.partition(".")
        name = "--" + (aliases or {}).get(head, head).replace("_", "-")
        raise ValueError(f"option {name}{' ' + tail if tail else ''}: {rest}")
    try:
        return model_cls.model_validate(fields)
    except ValidationError as e:
        err = e.errors()[0]
        loc = [str(x) for x in err["loc"]]
        opt = lambda f: "--" + (aliases or {}).get(f, f).replace("_", "-")  # noqa: E731
        section = getattr(model_cls.model_fields.get(loc[0]) if loc else None, "annotation", None)
        if err["type"] == "extra_forbidden" and len(loc) == 2 and isinstance(section, type) \
                and issubclass(section, BaseModel):  # --hp bogus=1
            raise ValueError(f"option {opt(loc[0])} {loc[1]}: " + did_you_mean("key", loc[1], list(section.model_fields))
                             ) from None
        if len(loc) >= 2 and loc[1].isdigit():  # lora_ranks.0: the option's value
            loc = loc[:1]
        if len(loc) == 2 and ".".join(loc) in (aliases or {}):  # hp.num_generations, given as --num-generations
            loc = [".".join(loc)]
        name = opt(loc[0]) if len(loc) == 1 else ".".join(loc)
        if len(loc) >= 2 and aliases is not None and isinstance(section, type) and issubclass(section, BaseModel):
            name = f"{opt(loc[0])} {'.'.join(loc[1:])}"  # --hp num_generations
        given = err.get("input")
        value = f" {given}" if isinstance(given, (int, float, str)) and not isinstance(given, bool) else ""
        msg = err["msg"].removeprefix("Value error, ")  # a validator's own message says what is wrong
        if not loc:  # a check across fields: its message names them
            raise ValueError(msg) from None
        raise ValueError(f"option {name}{value}: {msg}") from None


# Options every command that renders prompts shares (climb, rl, probe): how prompts meet the chat template
# and where generation ends (`dataladder.generate.PromptOptions`).
ChatTemplateOpt = Annotated[str, typer.Option(help="auto (conversational items and `chat` formats use the model's "
                                                   "chat template) | on (every prompt as a user turn) | off")]
SystemPromptOpt = Annotated[Optional[str], typer.Option(help="system turn added to every templated conversation")]
StopOpt = Annotated[Optional[list[str]], typer.Option(help="extra stop string (\\n and \\t understood); repeat for several")]
MaxNewTokensOpt = Annotated[Optional[int], typer.Option(help="most new tokens per completion (default: the item's, "
                                                             "else the skill's; JSONL: longest gold answer + margin)")]


def prompt_fields(chat_template: str, system_prompt: str | None, stop: list[str] | None,
                  max_new_tokens: int | None) -> dict:
    """The PromptOptions fields from the shared CLI options (escapes in stop strings decoded)."""
    if max_new_tokens is not None and max_new_tokens <= 0:
        raise ValueError(f"--max-new-tokens {max_new_tokens}: must be a positive number of tokens")
    stops = [s.replace("\\n", "\n").replace("\\t", "\t") for s in stop or []]
    if any(not s for s in stops):
        raise ValueError("--stop: a stop string cannot be empty")
    return {"chat_template": chat_template, "system_prompt": system_prompt, "stop": stops,
            "max_new_tokens": max_new_tokens}


ExecutorOpt = Annotated[str, typer.Option(help="local (in this process) | ray (a rung's runs concurrently on Ray workers)")]
RayAddressOpt = Annotated[Optional[str], typer.Option(help="ray: 'auto', ray://host:port, or none for a local cluster")]
CpusPerRunOpt = Annotated[float, typer.Option(help="ray: num_cpus per run (0.5: two runs per core)")]
GpusPerRunOpt = Annotated[float, typer.Option(help="ray: num_gpus per run (1: one run per GPU, 0.5: two)")]
ThreadsPerRunOpt = Annotated[Optional[int], typer.Option(help="ray: torch threads per run (default max(1, cpus per run))")]
WorkersOpt = Annotated[Optional[int], typer.Option(help="ray: long-lived workers (default: as many as resources allow)")]
ReportToOpt = Annotated[str, typer.Option(help="experiment tracking of every training run and rung: none, tensorboard, "
                                               "wandb, mlflow or trackio (TRL's report_to)")]


def given(*params: str) -> list[str]:
    """Which of `params` (the command function's parameter names) the user gave, on the command line or through
    the environment; none when the function is called from Python rather than as a command."""
    try:
        from typer._click.globals import get_current_context  # typer vendors click
    except ImportError:  # an older typer on the real click
        from click import get_current_context

    ctx = get_current_context(silent=True)
    if ctx is None:
        return []
    return [p for p in params if getattr(ctx.get_parameter_source(p), "name", None) in ("COMMANDLINE", "ENVIRONMENT")]


def repeated_option(group, argv: list[str]) -> str | None:
    """The error line for a one-value option given twice in `argv` (`--source template --source self`: click keeps
    the last silently), or None. `group`: the click group of the typer app."""
    at = next((i for i, a in enumerate(argv) if a in group.commands), None)
    if at is None:
        return None
    cmd = group.commands[argv[at]]
    names = {}
    for p in cmd.params:
        if getattr(p, "opts", None) and p.param_type_name == "option" and not p.multiple and not p.count:
            names.update({n: p for n in [*p.opts, *p.secondary_opts]})
    seen: dict = {}
    for a in argv[at + 1:]:
        if a == "--":
            break
        typed = a.split("=", 1)[0]
        if (p := names.get(typed)) is None:
            continue
        if p.name in seen:
            what = f"option {typed} is given twice" if seen[p.name] == typed else \
                f"options {seen[p.name]} and {typed} contradict"
            return f"error: dataladder {argv[at]}: {what}; give one (the last would silently win)"
        seen[p.name] = typed
    return None


def empty_path(group, argv: list[str]) -> str | None:
    """The error line for a path option or argument given as '' (`Path('')` is the current directory, read silently:
    `curate ''` would read '.'), or None. Output options keep '' for `check_writable`, which names them itself."""
    import typing
    from pathlib import Path

    at = next((i for i, a in enumerate(argv) if a in group.commands), None)
    if at is None or "" not in argv[at + 1:]:
        return None
    cmd = group.commands[argv[at]]
    try:
        raw = cmd.make_parser(cmd.context_class(cmd, info_name=argv[at], resilient_parsing=True)).parse_args(
            list(argv[at + 1:]))[0]
    except Exception:  # a usage error: click names it once the command runs
        return None
    for p in cmd.params:
        t = getattr(p, "type_descriptor", None)
        if t is None or Path not in (t.annotation, *typing.get_args(t.annotation)) or \
                getattr(t.parameter_info, "parser", None):
            continue
        value = raw.get(p.name)
        if value == "" or (isinstance(value, (list, tuple)) and "" in value):
            name = p.opts[0] if p.param_type_name == "option" else p.name.upper()
            return f"error: dataladder {argv[at]}: {name} '': an empty path; give a path ('.' for the current directory)"
    return None


def opt(param: str) -> str:
    """A parameter's option as typed: threads_per_run → --threads-per-run."""
    return "--" + param.replace("_", "-")


def refuse_together(condition: bool, first: str, params: tuple[str, ...], why: str) -> None:
    """`first` (the option and value that decides, e.g. '--executor local') with any of `params` given: one line
    naming both, never a silent ignore."""
    if condition and (hit := given(*params)):
        raise ValueError(f"{first} with {opt(hit[0])}: they contradict ({why}); drop one")


def executor_from(executor: str, ray_address: str | None, cpus_per_run: float, gpus_per_run: float,
                  threads_per_run: int | None, workers: int | None):
    """The executor the options name, validated (a bad option is one line before any work, before Ray starts)."""
    from dataladder.executors import ExecutorConfig, make_executor

    if executor not in ("local", "ray"):
        raise ValueError(f"--executor {executor}: local (in this process) or ray")
    refuse_together(executor == "local", "--executor local", ("ray_address", "cpus_per_run", "gpus_per_run",
                                                              "threads_per_run", "workers"),
                    "the option is for --executor ray")
    from dataladder.executors.ray import RayOptions

    ray = validated(RayOptions, {"address": ray_address, "cpus_per_run": cpus_per_run, "gpus_per_run": gpus_per_run,
                                 "threads_per_run": threads_per_run, "workers": workers})  # errors name --cpus-per-run
    return make_executor(ExecutorConfig(kind=executor, ray=ray) if executor == "ray" else ExecutorConfig())


def distinct_files(paths: "dict[str, Path | str | None] | list[tuple[str, Path | str | None]]") -> None:
    """Two options naming one file (`--stats` the `--output`, or the `--probe` it reads): one line naming both, before
    anything is read or written (one would overwrite the other). Links, hard links and relative paths count."""
    seen: dict[tuple, str] = {}
    for option, p in paths.items() if isinstance(paths, dict) else paths:
        if p is None:
            continue
        try:
            st = os.stat(p)
            key = (st.st_dev, st.st_ino)
        except OSError:
            key = (Path(p).resolve(),)
        if key in seen:
            raise ValueError(f"{seen[key]} and {option} name the same file ({p}); give {option} another path")
        seen[key] = option

