"""Skill specs: `mul`, `mul:digits=3`, `tasks.jsonl`, `tasks.jsonl:code:eval_share=0.3` → `Skill`s.

One resolver for options, plans and records' `skill` fields: built-in names go to the registry
(`base.SKILLS`), file paths to `jsonl.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dataladder.core.registry import did_you_mean
from dataladder.skills.base import SKILLS, Skill
from dataladder.skills.jsonl import load_jsonl_skills, with_train_file


@dataclass(frozen=True)
class Spec:
    """A parsed skill spec: `mul`, `mul:<param>=<value>`, `tasks.jsonl`, `tasks.jsonl:code`, `tasks.jsonl:code:eval_share=0.3`."""

    base: str  # a built-in name or a JSONL path
    name: str | None  # the skill of a JSONL file of several
    params: tuple[tuple[str, object], ...]
    file: bool

    @property
    def path(self) -> Path:
        return Path(self.base)


def parse_spec(spec: str) -> Spec:
    """Split a skill spec into base, skill name and `key=value` parameters (values read as YAML scalars)."""
    import yaml

    parts = spec.split(":")
    cut = next((i for i in range(len(parts), 0, -1)  # the longest prefix that is a JSONL path (it may hold a colon)
                if (b := ":".join(parts[:i])).endswith(".jsonl") or Path(b).is_file()), 1)
    base, rest = ":".join(parts[:cut]), parts[cut:]
    is_file = base.endswith(".jsonl") or Path(base).is_file()
    if not is_file and "/" in base and Path(base).is_dir():
        raise ValueError(f"skill {spec!r}: {base} is a directory; give a JSONL file (tasks.jsonl) or a built-in skill")
    name, params = None, []
    for part in rest:
        if "=" in part:
            for kv in part.split(","):
                k, _, v = kv.partition("=")
                if not k.strip() or not v.strip():
                    raise ValueError(f"skill {spec!r}: parameter {kv!r} is not key=value")
                params.append((k.strip(), yaml.safe_load(v.strip())))
        elif part and is_file and name is None:
            name = part
        else:
            raise ValueError(f"skill {spec!r}: {part!r} is neither a skill of a JSONL file nor key=value (a skill's "
                             "name holds no ':')")
    return Spec(base, name, tuple(params), is_file)


def jsonl_spec(spec: str) -> tuple[Path, str | None] | None:
    """(file, skill name or None) for a JSONL spec (`tasks.jsonl` or `tasks.jsonl:code`); None for a built-in name."""
    try:
        p = parse_spec(spec)
    except ValueError:
        return None
    return (p.path, p.name) if p.file else None


def _from_jsonl(sp: Spec) -> list[Skill]:

    skills = load_jsonl_skills(sp.path, **_jsonl_params(sp))
    if sp.name is None:
        return skills
    picked = [s for s in skills if s.name == sp.name]
    if not picked:
        raise ValueError(f"{sp.path}: " + did_you_mean("skill", sp.name, [s.name for s in skills]))
    return picked


def _jsonl_params(sp: Spec) -> dict:

    allowed = {"eval_share": float, "normalize": bool}
    out = {}
    for k, v in sp.params:
        if k not in allowed:
            raise ValueError(f"skill {sp.base}: " + did_you_mean("parameter", k, list(allowed)))
        if k == "eval_share" and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1):
            raise ValueError(f"skill {sp.base}: eval_share must be a number in (0, 1], not {v!r}")
        if k == "normalize" and not isinstance(v, bool):
            raise ValueError(f"skill {sp.base}: normalize must be true or false, not {v!r}")
        out[k] = v
    return out


def _builtin(sp: Spec, spec: str) -> Skill:
    import inspect


    factory = SKILLS.get(sp.base)
    allowed = list(inspect.signature(factory).parameters)
    kwargs = {}
    for k, v in sp.params:
        if k not in allowed:
            raise ValueError(f"skill {spec!r}: " + did_you_mean(f"parameter of {sp.base}", k, allowed))
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"skill {spec!r}: {k} must be a positive integer, not {v!r}")
        kwargs[k] = v
    try:
        sk = factory(**kwargs)
    except ValueError as e:  # a parameter past what the skill's generator makes (`add:digits=100000`)
        raise ValueError(f"skill {spec!r}: {e}") from None
    sk.spec = sp.base + "".join(f":{k}={v}" for k, v in sp.params)
    return sk


def get_skill(spec: str, **params) -> Skill:
    """A built-in skill (`mul`, `mul:<param>=<value>`, or `get_skill("mul", <param>=<value>)`), or one user skill from JSONL:
    `file.jsonl` (a file of one skill) or `file.jsonl:name` (the skill `name` of a file that holds several)."""
    if params:
        spec += ":" + ",".join(f"{k}={v}" for k, v in params.items())
    sp = parse_spec(spec)
    if sp.file:
        skills = _from_jsonl(sp)
        if len(skills) != 1:
            names = [s.name for s in skills]
            raise ValueError(f"{spec}: holds {len(skills)} skills ({', '.join(names)}); name one, "
                             f"e.g. {sp.base}:{names[0]}")
        return skills[0]
    return _builtin(sp, spec)


def resolve_skills(specs: list[str]) -> list[Skill]:
    """Built-in specs and JSONL specs (`file.jsonl`: all its skills; `file.jsonl:name`: one)."""
    out: list[Skill] = []
    for spec in specs:
        sp = parse_spec(spec)
        out.extend(_from_jsonl(sp) if sp.file else [_builtin(sp, spec)])
    return out


load_skills = resolve_skills


def train_skill(spec: str, prompts_file: str | None = None) -> Skill:
    """The skill of `spec`, with a prompts file's items added to its train partition (`jsonl.with_train_file`)."""
    sk = get_skill(spec)
    if prompts_file:

        sk = with_train_file(sk, Path(prompts_file))
    return sk


def skill_key(spec: str, prompts_file: str | None = None) -> str | dict:
    """A skill's identity in run-store keys: the spec, with the content hash of its JSONL file and prompts file (an
    edited item is other data, so other runs)."""
    import hashlib

    js = jsonl_spec(spec)
    if js is None and not prompts_file:
        return spec
    files = [js[0]] if js is not None else []
    files += [Path(prompts_file)] if prompts_file else []
    return {"spec": spec, "files": [hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in files]}
