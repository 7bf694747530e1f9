"""Command-line options derived from the pydantic configs: one source of truth for names, types, defaults and help.

Every field of a ladder kind's config becomes an option of its command (`--lora-r` for `lora_r`), typed from the
annotation, described by the field's description, defaulting to the config's default (the option's value is
None until given, so pydantic fills the default and its checks run once). Shared groups show under their own
heading in `--help`: prompt (`generate.PromptOptions`), executor (`executors.ExecutorConfig`, `RayOptions`) and
budget (`--budget 5120,30m`, which sets the kind's count field and `max_minutes`). A short alias map names an
option where the field's name is long or plural (`models` → `--model`, repeatable) or reaches into a section
(`hp.num_generations` → `--num-generations`). A list takes repeats or commas (`--skill a --skill b`, `a,b`); a
hyperparameter section takes `--hp key=value` (repeat). `tests/test_cli_derive.py` checks that every field of
every config has its option.
"""

from __future__ import annotations

import inspect
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import typer
from pydantic import BaseModel

from dataladder.cli.common import OUTPUT

PROMPT = "Prompt and generation"
EXECUTOR = "Executor (where the runs happen)"
BUDGET = "Budget"
NO_SPLIT = {"stop", "system_prompt"}  # lists whose items may hold commas
EXECUTOR_FIELDS = {"executor": "kind", "ray_address": "address", "cpus_per_run": "cpus_per_run",
                   "gpus_per_run": "gpus_per_run", "threads_per_run": "threads_per_run", "workers": "workers"}
HELP = {  # where the CLI's help says more than the field's description
    "chat_template": "auto (conversational items and `chat` formats use the model's chat template) | on (every "
                     "prompt as a user turn) | off",
    "stop": "extra stop string (\\n and \\t understood); repeat for several",
    "max_new_tokens": "most new tokens per completion (default: the item's, else the skill's; JSONL: longest gold "
                      "answer + margin)",
}


def _unwrap(annotation) -> tuple[Any, bool]:
    """(the annotation without None, whether None is allowed)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True
    return annotation, False


def shape(annotation) -> str:
    """What an option of this annotation takes: bool, int, float, str, list (of str), intlist, section (a model)."""
    a, _ = _unwrap(annotation)
    if typing.get_origin(a) is Annotated:
        a = typing.get_args(a)[0]
    if isinstance(a, type) and issubclass(a, BaseModel):
        return "section"
    if typing.get_origin(a) is list:
        item = typing.get_args(a)[0]
        if typing.get_origin(item) is Annotated:
            item = typing.get_args(item)[0]
        return "intlist" if item is int else "list"
    if a in (bool, int, float):
        return a.__name__
    return "str"


def _choices(annotation) -> list[str]:
    a, _ = _unwrap(annotation)
    return [str(x) for x in typing.get_args(a)] if typing.get_origin(a) is Literal else []


def _help(name: str, field) -> str:
    text = HELP.get(name) or field.description or ""
    if (choices := _choices(field.annotation)) and not any(c in text for c in choices):
        text += f" ({' | '.join(choices)})"
    default = field.get_default(call_default_factory=True)
    if isinstance(default, BaseModel) or default in (None, [], {}) or shape(field.annotation) == "bool" and not default:
        return text
    shown = ",".join(map(str, default)) if isinstance(default, list) else default
    return f"{text} (default: {shown})"


OPTION_TYPE = {"bool": Optional[bool], "int": Optional[int], "float": Optional[float], "str": Optional[str],
               "list": Optional[list[str]], "intlist": Optional[list[str]], "section": Optional[list[str]]}


def field_params(model: type[BaseModel], aliases: dict[str, str], skip: set[str], panel_of) -> list[inspect.Parameter]:
    """One keyword parameter per field of `model` (not in `skip`), named by its alias or its field name."""
    out = []
    for name, f in model.model_fields.items():
        if name in skip or f.exclude:
            continue
        kind = shape(f.annotation)
        text = _help(name, f) + (" (key=value; repeat)" if kind == "section" else
                                 " (repeat, or comma-separated)" if kind in ("list", "intlist") and name not in NO_SPLIT
                                 else "")
        opt = typer.Option(help=text, rich_help_panel=panel_of(name))
        out.append(inspect.Parameter(aliases.get(name, name), inspect.Parameter.KEYWORD_ONLY, default=None,
                                     annotation=Annotated[OPTION_TYPE[kind], opt]))
    return out


def sub_params(model: type[BaseModel], aliases: dict[str, str]) -> list[inspect.Parameter]:
    """Options that set one field of a section (`hp.num_generations` → `--num-generations`)."""
    out = []
    for dotted, option in aliases.items():
        if "." not in dotted:
            continue
        section, sub = dotted.split(".", 1)
        f = _unwrap(model.model_fields[section].annotation)[0].model_fields[sub]
        out.append(inspect.Parameter(option, inspect.Parameter.KEYWORD_ONLY, default=None,
                                     annotation=Annotated[OPTION_TYPE[shape(f.annotation)],
                                                          typer.Option(help=f"{_help(sub, f)} (the {section} "
                                                                            f"section's {sub})")]))
    return out


def executor_params() -> list[inspect.Parameter]:
    from dataladder.executors import ExecutorConfig
    from dataladder.executors.ray import RayOptions

    out = []
    for option, field in EXECUTOR_FIELDS.items():
        f = (ExecutorConfig if option == "executor" else RayOptions).model_fields[field]
        text = _help(field, f) if option == "executor" else f"ray: {_help(field, f)}"
        out.append(inspect.Parameter(option, inspect.Parameter.KEYWORD_ONLY, default=None,
                                     annotation=Annotated[OPTION_TYPE[shape(f.annotation)],
                                                          typer.Option(help=text, rich_help_panel=EXECUTOR)]))
    return out


def to_fields(model: type[BaseModel], values: dict[str, Any], aliases: dict[str, str]) -> dict:
    """The config's fields from the options given (None: not given), converted: lists split, sections from
    key=value pairs, stop escapes decoded, dotted aliases into their section."""
    import yaml

    from dataladder.core.config import apply_overrides
    from dataladder.core.errors import InputError

    back = {v: k for k, v in aliases.items()}
    fields: dict[str, Any] = {}
    for option, value in values.items():
        if value is None:
            continue
        name = back.get(option, option)
        if "." in name:
            section, sub = name.split(".", 1)
            fields.setdefault(f"{section}.", {})[sub] = value
            continue
        if name not in model.model_fields:
            continue
        kind = shape(model.model_fields[name].annotation)
        flag = f"--{option.replace('_', '-')}"
        if kind == "section":
            keys = [v.partition("=")[0].strip() for v in value]
            if twice := next((k for i, k in enumerate(keys) if k and k in keys[:i]), None):
                raise ValueError(f"{flag} {twice}= is given twice; give it once (the last would silently win)")
            try:
                fields[name] = apply_overrides({}, value)
            except (InputError, ValueError, TypeError, yaml.YAMLError) as e:  # its own message, named by the option
                why = e.problem if isinstance(e, yaml.MarkedYAMLError) and e.problem else getattr(e, "message", e)
                raise ValueError(" ".join(f"{flag}: {why}".replace("override ", "").split())) from None  # one line
        elif kind in ("list", "intlist"):
            if name in NO_SPLIT:
                items = list(value)
            elif len(value) == 1 and not value[0].strip():
                items = []  # `--skill ''`: the empty list (the config says whether it may be empty)
            else:
                items = [x.strip() for v in value for x in v.split(",")]
                if "" in items:  # 1,,4 or 1,4, or a repeat given as '': never read silently as 1,4
                    bad = next(v for v in value if "" in [x.strip() for x in v.split(",")])
                    raise ValueError(f"{flag} {bad!r}: an empty item (two commas in a row, or one at an "
                                     f"end); give items like {'1,4,16' if kind == 'intlist' else 'a,b'}")
            if name == "stop":
                items = [s.replace("\\n", "\n").replace("\\t", "\t") for s in items]
                if any(not s for s in items):
                    raise ValueError("--stop: a stop string cannot be empty")
            if name not in NO_SPLIT and (twice := next((x for i, x in enumerate(items) if x in items[:i]), None)):
                raise ValueError(f"{flag} {twice} is given twice; give each once")
            if kind == "intlist":
                try:
                    items = [int(x) for x in items]
                except ValueError:
                    raise ValueError(f"{flag} {','.join(value)!r}: expected integers like 1,4,16") from None
            fields[name] = items
        else:
            if kind == "str" and not value.strip() and name != "system_prompt":  # '' is not "not given"
                raise ValueError(f"{flag} {value!r}: an empty value; give one, or leave the option out for its "
                                 "default")
            fields[name] = value
    for key in [k for k in fields if k.endswith(".")]:
        section = key[:-1]
        sub = fields.pop(key)
        if clash := set(sub) & set(fields.get(section, {})):
            k = sorted(clash)[0]
            raise ValueError(f"--{aliases[section + '.' + k].replace('_', '-')} and --{section} {k}=: they contradict "
                             "(the same setting twice); give one")
        fields[section] = {**fields.get(section, {}), **sub}
    return fields


def with_signature(fn, params: list[inspect.Parameter]):
    """`fn(**options)` with the signature typer reads its options from."""
    fn.__signature__ = inspect.Signature(params)
    fn.__annotations__ = {p.name: p.annotation for p in params}
    return fn


def output_param(default: Path, what: str) -> inspect.Parameter:
    return inspect.Parameter("output_dir", inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[Path, typer.Option(help=f"where runs/ and {what} go", **OUTPUT)])


def budget_param(unit: str, default: int | None) -> inspect.Parameter:
    text = (f"most {unit} in a rung and/or minutes of stored run time (a resume counts finished runs): "
            f"{default or 5120}, 30m, {default or 5120},30m" + (f" (default: {default})" if default else ""))
    return inspect.Parameter("budget", inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=Annotated[Optional[str], typer.Option(help=text, rich_help_panel=BUDGET)])
