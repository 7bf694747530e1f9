"""Configuration: pydantic models loaded from YAML, with errors that name the file and the key path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from dataladder.core.errors import InputError
from dataladder.core.registry import did_you_mean

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, what: str = "file") -> dict:
    """A YAML mapping from `path` (UTF-8, a byte-order mark allowed); any problem is one InputError line naming
    the file (and the line, where YAML says): missing, a directory, not UTF-8, not YAML, empty, not a mapping."""
    from dataladder.core.errors import not_a_file

    if why := not_a_file(path):
        raise InputError(why, str(path))
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text ({e.reason} at byte {e.start}); save the {what} as UTF-8", str(path),
                         line) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as e:
        raise InputError(f"key '{e.key}' is given twice (first on line {e.first}); keep one (YAML would silently "
                         "take the last)", str(path), e.line) from None
    except RecursionError:  # `[[[[…` thousands deep: PyYAML's composer recurses per level
        raise InputError(f"not readable YAML: nested too deeply (hundreds of [ or {{ inside each other); a {what} "
                         "is a few levels of keys", str(path)) from None
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        if line is None and isinstance(getattr(e, "position", None), int):  # a character YAML cannot read
            line = text[:e.position].count("\n")
        problem = " ".join(str(getattr(e, "problem", None) or e).split())  # one line
        raise InputError(f"not valid YAML ({problem})", str(path), None if line is None else line + 1) from None
    if data is None:
        raise InputError(f"the {what} is empty", str(path))
    if not isinstance(data, dict):
        raise InputError(f"the {what} is a YAML {type(data).__name__}; expected keys and values (key: value)",
                         str(path))
    return data


MAX_WALK = 100_000  # key paths `yaml_lines` records at most (aliases of aliases can multiply them)


def yaml_lines(path: Path) -> dict[tuple[str, ...], int]:
    """The line (1-based) of each key path written in a YAML file: a mapping's key where it is written, a list's
    item where it starts; {} where the file does not compose (its reader has already said why)."""
    try:
        root = yaml.compose(Path(path).read_bytes().decode("utf-8-sig"), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError, OSError, RecursionError):
        return {}
    out: dict[tuple[str, ...], int] = {}
    todo = [((), root)]
    while todo and len(out) < MAX_WALK:
        at, node = todo.pop()
        if isinstance(node, yaml.MappingNode):
            items = [((*at, k.value), k, v) for k, v in node.value
                     if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge"]
        elif isinstance(node, yaml.SequenceNode):
            items = [((*at, str(i)), v, v) for i, v in enumerate(node.value)]
        else:
            continue
        for key, mark, value in items:
            out.setdefault(key, mark.start_mark.line + 1)
            todo.append((key, value))
    return out


def line_of(path: Path, where) -> int | None:
    """The line of key path `where` ('climbs.0.target', or pydantic's loc) in the YAML file at `path`: of its
    longest part the file writes (a key the file leaves out: the section that lacks it); None if none."""
    parts = tuple(where.split(".")) if isinstance(where, str) else tuple(str(x) for x in where)
    lines = yaml_lines(path)
    return next((lines[parts[:k]] for k in range(len(parts), 0, -1) if parts[:k] in lines), None)


def key_of(why: str) -> str | None:
    """The key path a message from `bool_problem` or `first_error` names ("key 'probe.n': …")."""
    m = re.match(r"key '([^']*)'", why)
    return m.group(1) if m else None


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first: int):
        self.key, self.line, self.first = key, line, first


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a mapping with the same key twice (a plan's `target:` given twice)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: merged keys may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise _DuplicateKey(str(key), key_node.start_mark.line + 1, seen[key])
                seen[key] = key_node.start_mark.line + 1
            except TypeError:  # an unhashable key: SafeLoader's own error names it
                break
        return super().construct_mapping(node, deep=deep)


def load_yaml_model(model: type[M], path: Path) -> M:
    """Validate YAML at `path` into `model`; the first problem becomes one InputError line."""
    data = read_yaml(path)
    if why := bool_problem(model, data):
        raise InputError(why, str(path), line_of(path, key_of(why) or ""))
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise InputError(first_error(model, e), str(path), line_of(path, e.errors()[0]["loc"])) from None


def bool_problem(model: type[BaseModel], data, where: str = "") -> str:
    """Where `data` gives true or false for a number of `model` (pydantic would read `n: true` as 1): "key
    'probe.n': expected an integer, got true (a yes/no)"; '' if nowhere. Fields that take a boolean, or anything,
    are left to pydantic, and so is every other type."""
    if not isinstance(data, dict):
        return ""
    fields = {**{f.alias: f for f in model.model_fields.values() if f.alias}, **model.model_fields}
    for key, value in data.items():
        field = fields.get(key) if isinstance(key, str) else None
        if field is not None and (why := _bool_in(field.annotation, value, f"{where}.{key}" if where else key)):
            return why
    return ""


def _bool_in(ann, value, where: str) -> str:
    import types
    import typing

    if typing.get_origin(ann) is typing.Annotated:
        ann = typing.get_args(ann)[0]
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    options = args if origin in (typing.Union, types.UnionType) else (ann,)
    if isinstance(value, bool):
        takes = any(a in (bool, typing.Any, object) or (typing.get_origin(a) is typing.Literal and
                                                      any(isinstance(x, bool) for x in typing.get_args(a)))
                    for a in options)
        if not takes and any(a in (int, float) for a in options):
            kind = "an integer" if int in options and float not in options else "a number"
            return f"key '{where}': expected {kind}, got {str(value).lower()} (a boolean)"
        return ""
    if isinstance(value, dict):
        models = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
        maps = [a for a in options if typing.get_origin(a) in (dict, typing.Mapping) or a is dict]
        if len(models) == 1 and not maps:
            return bool_problem(models[0], value, where)
        if len(maps) == 1 and not models and len(typing.get_args(maps[0])) == 2:
            return next((why for k, v in value.items() if (why := _bool_in(typing.get_args(maps[0])[1], v,
                                                                            f"{where}.{k}"))), "")
    if isinstance(value, list):
        seqs = [a for a in options if typing.get_origin(a) in (list, tuple, set, frozenset, typing.Sequence)]
        if len(seqs) == 1 and (inner := typing.get_args(seqs[0])) and (len(inner) == 1 or inner[1] is Ellipsis):
            return next((why for i, v in enumerate(value) if (why := _bool_in(inner[0], v, f"{where}.{i}"))), "")
    return ""


def first_error(model: type[BaseModel], e: ValidationError) -> str:
    err = e.errors()[0]
    loc = [str(x) for x in err["loc"]]
    key = ".".join(loc)
    if err["type"] == "extra_forbidden":
        parent: type[BaseModel] | None = model
        for part in loc[:-1]:
            if part.isdigit() or parent is None:
                continue
            field = parent.model_fields.get(part)
            parent = _model_in(field.annotation) if field else None
        choices = list(parent.model_fields) if parent else []
        return f"key '{key}': " + did_you_mean("key", loc[-1], choices)
    return f"key '{key}': {err['msg'].removeprefix('Value error, ')}"


def _model_in(annotation) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `Model`, `list[Model]` or `Model | None`."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        m = _model_in(arg)
        if m is not None:
            return m
    return None


def apply_overrides(data: dict, pairs: list[str], lists: frozenset = frozenset()) -> dict:
    """Apply `key.path=value` overrides (values as YAML scalars) to a plan dict; list items by index (`lists`: the
    top-level keys that hold a list, though the plan leaves them out)."""
    out = yaml.safe_load(yaml.safe_dump(data))
    keys = [pair.partition("=")[0].strip() for pair in pairs]
    for i, key in enumerate(keys):  # a key given again, or within a section given after it: the last would win
        if key and (first := next((k for k in keys[:i] if k == key or k.startswith(key + ".")), None)) is not None:
            what = f"{key}= is given twice; give it once" if first == key else \
                f"{first}= and then {key}= (which replaces it) set the same key; give one"
            raise InputError(f"override {what} (the last would silently win)")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"override {pair!r}: expected key=value")
        node = out
        parts = key.split(".")
        for depth, p in enumerate(parts):
            where = ".".join(parts[:depth]) or "the plan"
            if isinstance(node, list):
                if not node:
                    raise InputError(f"override {pair!r}: {where} is an empty list, so it has no item '{p}'; add "
                                     f"the item to the plan first")
                if not p.lstrip("-").isdigit() or not 0 <= int(p) < len(node):
                    raise InputError(f"override {pair!r}: {where} is a list of {len(node)}; "
                                     f"'{p}' is not an index 0–{len(node) - 1}")
                p = int(p)
            elif not isinstance(node, dict):
                raise InputError(f"override {pair!r}: {where} is a value, not a section with '{p}'")
            elif node.get(p) is None and depth < len(parts) - 1 and (parts[depth + 1].lstrip("-").isdigit() or
                                                                     depth == 0 and p in lists):
                raise InputError(f"override {pair!r}: the plan has no {'.'.join(parts[:depth + 1])}, so it has "
                                 f"no item '{parts[depth + 1]}'; add the item to the plan first")
            if depth == len(parts) - 1:
                try:
                    node[p] = yaml.safe_load(value)
                except yaml.YAMLError as e:  # PyYAML's message spans lines, with a caret: its problem only
                    what = getattr(e, "problem", None) or str(e).splitlines()[0]
                    raise InputError(f"override {pair!r}: the value {value!r} is not valid YAML ({what})") from None
            else:
                node = node[p] if isinstance(node, list) else node.setdefault(p, {})
    return out
