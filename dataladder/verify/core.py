"""The verifier registry and the text verifiers: numeric, exact, regex, contains, module:function."""

from __future__ import annotations

import importlib
import re
from fractions import Fraction
from typing import Callable, NamedTuple

from dataladder.registry import Registry, did_you_mean


class Verdict(NamedTuple):
    ok: bool
    reason: str | None = None  # becomes dropped_{reason} in curation stats


Verifier = Callable[..., Verdict]
VERIFIERS: Registry[Callable[[str | None], Verifier]] = Registry("verifier")


def get_verifier(spec: str) -> Verifier:
    """Resolve a verifier spec: `name`, `name:argument` (regex) or `module.path:function`."""
    spec = spec.strip()
    name, sep, arg = spec.partition(":")
    if name in VERIFIERS:
        return VERIFIERS.get(name)(arg if sep else None)
    if sep and arg and re.fullmatch(r"[\w.]+", name) and re.fullmatch(r"\w+", arg):
        return _user_verifier(name, arg)
    raise ValueError(did_you_mean("verifier", spec, verifier_names() + ["module:function"]))


def verifier_names() -> list[str]:
    return VERIFIERS.names()


def first_line(completion: str) -> str:
    """The answer part of a completion: up to the first newline, without surrounding space."""
    return completion.split("\n", 1)[0].strip()


_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?|[-+]?\.\d+")


def parse_number(text: str) -> Fraction | None:
    """The first number in `text` as an exact rational; tolerates `1,000`, `4.0`, `-3`, `3/4`."""
    m = _NUMBER.search(text)
    if not m:
        return None
    tok = m.group(0).replace(",", "")
    try:
        return Fraction(tok)
    except (ValueError, ZeroDivisionError):
        return None


@VERIFIERS.register("numeric")
def _numeric(arg: str | None = None) -> Verifier:
    def numeric(completion: str, answer: str, **_: object) -> Verdict:
        want = parse_number(str(answer))
        if want is None:
            return Verdict(False, "answer_not_numeric")
        got = parse_number(first_line(completion))
        if got is None:
            return Verdict(False, "no_number")
        return Verdict(True) if got == want else Verdict(False, "wrong_answer")

    return numeric


@VERIFIERS.register("exact")
def _exact(arg: str | None = None) -> Verifier:
    def exact(completion: str, answer: str, **_: object) -> Verdict:
        return Verdict(True) if first_line(completion) == str(answer).strip() else Verdict(False, "mismatch")

    return exact


@VERIFIERS.register("contains")
def _contains(arg: str | None = None) -> Verifier:
    def contains(completion: str, answer: str, **_: object) -> Verdict:
        return Verdict(True) if str(answer).strip() in completion else Verdict(False, "not_contained")

    return contains


@VERIFIERS.register("regex")
def _regex(arg: str | None = None) -> Verifier:
    if not arg:
        raise ValueError("verifier 'regex' needs a pattern: regex:<pattern>")
    try:
        pattern = re.compile(arg)
    except re.error as e:
        raise ValueError(f"verifier regex:{arg}: invalid pattern ({e})") from None

    def regex(completion: str, answer: str | None = None, **_: object) -> Verdict:
        return Verdict(True) if pattern.search(first_line(completion)) else Verdict(False, "no_match")

    return regex


def _user_verifier(module: str, func: str) -> Verifier:
    try:
        fn = getattr(importlib.import_module(module), func)
    except ImportError as e:
        raise ValueError(f"verifier {module}:{func}: cannot import module {module!r} ({e})") from None
    except AttributeError:
        raise ValueError(f"verifier {module}:{func}: module {module!r} has no function {func!r}") from None

    def user(completion: str, answer: str, **item: object) -> Verdict:
        out = fn(completion, answer, **item)
        if isinstance(out, tuple) and len(out) in (1, 2):
            return Verdict(bool(out[0]), out[1] if len(out) == 2 else None)
        return Verdict(bool(out), None if out else "rejected")

    user.__name__ = f"{module}:{func}"
    return user
