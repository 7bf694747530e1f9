"""Helpers shared by the `dataladder` subcommands: input errors as one red line, progress bars, option parsing.

`dataladder.cli` (the ladder and study commands) and `dataladder.cli_data` (the data tools) both use these; nothing
here knows the typer `app`, so either module imports this one without importing the other.
"""

from __future__ import annotations

import functools
from typing import Annotated, Callable, Optional

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
        loc = [str(x) for x in err["loc"]]
        name = f"--{loc[0].replace('_', '-')}" if len(loc) == 1 else ".".join(loc)
        raise ValueError(f"option {name}: {err['msg']}") from None


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
    if system_prompt and chat_template == "off":
        raise ValueError("--system-prompt needs the chat template: drop --chat-template off (or the system prompt)")
    stops = [s.replace("\\n", "\n").replace("\\t", "\t") for s in stop or []]
    if any(not s for s in stops):
        raise ValueError("--stop: a stop string cannot be empty")
    return {"chat_template": chat_template, "system_prompt": system_prompt, "stop": stops,
            "max_new_tokens": max_new_tokens}
