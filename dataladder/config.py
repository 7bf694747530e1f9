"""Configuration: pydantic models loaded from YAML, with errors that name the file and the key path."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from dataladder.errors import InputError
from dataladder.registry import did_you_mean

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(model: type[M], path: Path) -> M:
    """Validate YAML at `path` into `model`; the first problem becomes one InputError line."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise InputError("no such file", str(path)) from None
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        raise InputError(f"not valid YAML ({getattr(e, 'problem', e)})", str(path), None if line is None else line + 1) from None
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise InputError(_first_error(model, e), str(path)) from None


def _first_error(model: type[BaseModel], e: ValidationError) -> str:
    err = e.errors()[0]
    loc = [str(x) for x in err["loc"]]
    key = ".".join(loc)
    if err["type"] == "extra_forbidden":
        parent: type[BaseModel] | None = model
        for part in loc[:-1]:
            field = parent.model_fields.get(part) if parent else None
            ann = getattr(field, "annotation", None) if field else None
            parent = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        choices = list(parent.model_fields) if parent else []
        return f"key '{key}': " + did_you_mean("key", loc[-1], choices)
    return f"key '{key}': {err['msg']}"
