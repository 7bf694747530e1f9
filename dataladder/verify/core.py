"""The verifier registry and the text verifiers: numeric, exact, exact-line, regex, contains, module:function.

Every verifier sees the whole completion (generation already ended it where the task says):
- `exact`: the whole completion, stripped, equals the answer; `exact-line`: its first line does.
- `numeric[:rule]`: a number of the completion equals the answer as exact rationals (`1,000`, `4.0`,
  `3/4` accepted). Rules: `first` (default), `last`, `gsm8k` (after `####`), `boxed` (the last
  `\\boxed{}`), `answer` (after the last `Answer:` / `answer is`), `final` (gsm8k, boxed, answer, else last).
- `contains`: the answer occurs in the completion; `regex:<pattern>`: the pattern matches somewhere
  (anchor it with `^`/`$` and use `(?m)` / `(?s)` as needed).

`lenient(spec)` is the same verifier read leniently about format, to tell format from knowledge: it
accepts what the strict one accepts, and also (registered in `LENIENT`, one reading per verifier)
- `numeric[:rule]`: the reference number anywhere in the completion;
- `exact`, `exact-line`: the answer anywhere, as a whole word or phrase; `regex`: a match anywhere,
  `^`/`$` also at each line's (stripped) ends, or the item's `answer` anywhere as a whole word;
- `json-schema`, `python-tests` (`verify.code`): the first JSON object; the code from its first line.
`contains` and `module:function` verifiers have no looser reading: lenient is strict.
"""

from __future__ import annotations

import importlib
import re
from fractions import Fraction
from functools import lru_cache
from typing import Callable, NamedTuple, Optional

from dataladder.core.registry import Registry, did_you_mean


class Verdict(NamedTuple):
    ok: bool
    reason: str | None = None  # becomes dropped_{reason} in curation stats


Verifier = Callable[..., Verdict]
VERIFIERS: Registry[Callable[[str | None], Verifier]] = Registry("verifier")
# a looser reading of a verifier's completion: (completion, answer, **item) -> Verdict, or None where it would
# read the completion as the strict verifier does (its verdict stands)
Reading = Callable[..., Optional[Verdict]]
LENIENT: Registry[Callable[[str | None], Reading]] = Registry("lenient reading")


def get_verifier(spec: str) -> Verifier:
    """Resolve a verifier spec: `name`, `name:argument` (regex) or `module.path:function`."""
    spec = spec.strip()
    name, sep, arg = spec.partition(":")
    if name in TAKES_NO_ARGUMENT and sep:  # `exact:foo` would silently be `exact`
        raise ValueError(f"verifier {spec!r}: {name} takes no argument after ':'; write {name}")
    if name in VERIFIERS:
        return VERIFIERS.get(name)(arg if sep else None)
    if sep and arg and re.fullmatch(r"[\w.]+", name) and re.fullmatch(r"\w+", arg):
        return _user_verifier(name, arg)
    raise ValueError(did_you_mean("verifier", spec, verifier_names() + ["module:function"]))


TAKES_NO_ARGUMENT = ("exact", "exact-line", "contains", "json-schema")  # numeric:<rule>, regex:<pattern>, python-tests:<limits>


def verifier_names() -> list[str]:
    return VERIFIERS.names()


@lru_cache(maxsize=256)
def lenient(spec: str) -> Verifier:
    """The format-lenient reading of verifier `spec`: ok where the strict verifier says ok, or where its looser
    reading finds the answer (the gold number anywhere, the first JSON object...); the strict verifier itself
    where none is known (`contains`, `module:function`). Its `loose` attribute is the looser reading alone."""
    strict = get_verifier(spec)
    name, sep, arg = spec.strip().partition(":")
    if name not in LENIENT:
        return strict
    loose = LENIENT.get(name)(arg if sep else None)

    def lenient_reading(completion: str, answer: object = None, **item: object) -> Verdict:
        v = strict(completion, answer, **item)
        if v.ok:
            return v
        lv = loose(completion, answer, **item)
        return v if lv is None else lv

    lenient_reading.__name__ = f"lenient:{spec.strip()}"
    lenient_reading.loose = loose
    return lenient_reading


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


_BOXED = re.compile(r"\\boxed\s*\{")
_FRAC = re.compile(r"\\d?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(-?\d+)\s*\}")
_ANSWER = re.compile(r"(?:answer\s*(?:is|:)|####)", re.I)


def _boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` (braces balanced), as MATH answers are written."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    if not starts:
        return None
    i, depth = starts[-1], 1
    while i < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    inner = text[starts[-1] : i - 1] if depth == 0 else text[starts[-1] :]
    return _FRAC.sub(r"\1/\2", inner)


def _after(text: str, marker: re.Pattern) -> str | None:
    hits = list(marker.finditer(text))
    return text[hits[-1].end() :] if hits else None


def last_number(text: str) -> Fraction | None:
    nums = list(_NUMBER.finditer(text))
    return parse_number(nums[-1].group(0)) if nums else None


# numeric:<rule>: which number of the completion is its answer
NUMERIC_RULES: dict[str, Callable[[str], Fraction | None]] = {
    "first": parse_number,  # the first number (arithmetic: its formats stop at the newline)
    "last": last_number,  # the last number, e.g. after a worked solution
    "gsm8k": lambda t: parse_number(t.rsplit("####", 1)[1]) if "####" in t else None,  # GSM8K's `#### 42`
    "boxed": lambda t: (lambda b: parse_number(b) if b is not None else None)(_boxed(t)),  # MATH's \boxed{42}
    "answer": lambda t: (lambda a: parse_number(a) if a is not None else None)(_after(t, _ANSWER)),  # Answer: 42
}
# `final`: the first of these that finds a number, else the last number (lm-eval's flexible extract)
NUMERIC_RULES["final"] = lambda t: next((v for r in ("gsm8k", "boxed", "answer") if (v := NUMERIC_RULES[r](t)) is not None),
                                        last_number(t))


def _reference_number(answer: object, rule: str) -> Fraction | None:
    # the reference goes through the same rule (a GSM8K gold solution ends in `#### 7`), else its first number
    want = NUMERIC_RULES[rule](str(answer)) if rule != "first" else None
    return want if want is not None else parse_number(str(answer))


@VERIFIERS.register("numeric")
def _numeric(arg: str | None = None) -> Verifier:
    rule = arg or "first"
    if rule not in NUMERIC_RULES:
        raise ValueError(did_you_mean("numeric rule", rule, list(NUMERIC_RULES)) + " (write numeric:<rule>)")
    extract = NUMERIC_RULES[rule]

    def numeric(completion: str, answer: str, **_: object) -> Verdict:
        want = _reference_number(answer, rule)
        if want is None:
            return Verdict(False, "answer_not_numeric")
        got = extract(completion)
        if got is None:
            return Verdict(False, "no_number")
        return Verdict(True) if got == want else Verdict(False, "wrong_answer")

    numeric.__name__ = f"numeric:{rule}"
    return numeric


@VERIFIERS.register("exact")
def _exact(arg: str | None = None) -> Verifier:
    def exact(completion: str, answer: str, **_: object) -> Verdict:
        """The whole completion, stripped of surrounding whitespace, equals the answer (stripped)."""
        return Verdict(True) if completion.strip() == str(answer).strip() else Verdict(False, "mismatch")

    return exact


@VERIFIERS.register("exact-line")
def _exact_line(arg: str | None = None) -> Verifier:
    def exact_line(completion: str, answer: str, **_: object) -> Verdict:
        """The completion's first line, stripped, equals the answer (stripped)."""
        return Verdict(True) if first_line(completion) == str(answer).strip() else Verdict(False, "mismatch")

    return exact_line


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
        return Verdict(True) if pattern.search(completion) else Verdict(False, "no_match")

    return regex


# lenient readings (`lenient(spec)`): the answer in the completion whatever surrounds it


@LENIENT.register("numeric")
def _numeric_lenient(arg: str | None = None) -> Reading:
    rule = arg or "first"

    def numeric_anywhere(completion: str, answer: str, **_: object) -> Verdict | None:
        want = _reference_number(answer, rule)
        if want is None:
            return None
        got = [parse_number(m.group(0)) for m in _NUMBER.finditer(completion)]
        if not got:
            return Verdict(False, "no_number")
        return Verdict(True) if want in got else Verdict(False, "wrong_answer")

    return numeric_anywhere


def _phrase(answer: object) -> re.Pattern | None:
    """The answer as a whole word or phrase: `4` is not found in `14`, nor `no` in `know`."""
    gold = str(answer).strip()
    if not gold:
        return None
    left = r"(?<!\w)" if re.match(r"\w", gold[0]) else ""
    right = r"(?!\w)" if re.match(r"\w", gold[-1]) else ""
    return re.compile(left + re.escape(gold) + right)


def _answer_anywhere(arg: str | None = None) -> Reading:
    def answer_anywhere(completion: str, answer: str, **_: object) -> Verdict | None:
        pattern = _phrase(answer)
        if pattern is None:  # an empty answer is contained in every completion
            return None
        return Verdict(True) if pattern.search(completion) else Verdict(False, "not_contained")

    return answer_anywhere


LENIENT.register("exact")(_answer_anywhere)
LENIENT.register("exact-line")(_answer_anywhere)


@LENIENT.register("regex")
def _regex_lenient(arg: str | None = None) -> Reading:
    pattern = re.compile(arg or "", re.M)  # the strict verifier has refused a missing or invalid pattern

    def match_anywhere(completion: str, answer: str | None = None, **_: object) -> Verdict:
        if pattern.search(completion) or any(pattern.search(line.strip()) for line in completion.splitlines()):
            return Verdict(True)
        # an item's own `answer` (the city the pattern wraps in tags) anywhere, as a whole word or phrase
        gold = _phrase(answer) if answer is not None else None
        if gold is not None and gold.search(completion):
            return Verdict(True)
        return Verdict(False, "no_match")

    return match_anywhere


def _user_verifier(module: str, func: str) -> Verifier:
    import os
    import sys

    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())  # `my_checks.py` next to the task file, as `python -m` would find it
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
