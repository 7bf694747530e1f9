"""Helpers shared by the `dataladder` subcommands: input errors as one red line, progress bars, option parsing.

`dataladder.cli` (the ladder and study commands) and `dataladder.cli_data` (the data tools) both use these; nothing
here knows the typer `app`, so either module imports this one without importing the other.
"""

from __future__ import annotations

import functools
from typing import Callable

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from dataladder.cli_tables import console

err_console = Console(stderr=True)


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


def validated(model_cls, fields: dict):
    from pydantic import ValidationError

    try:
        return model_cls.model_validate(fields)
    except ValidationError as e:
        err = e.errors()[0]
        raise ValueError(f"option {'.'.join(str(x) for x in err['loc'])}: {err['msg']}") from None
