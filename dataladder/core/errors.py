"""User-facing input errors: one line naming the file, the line and the field."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


class InputError(Exception):
    """Bad user input. The CLI prints `str(err)` as one line and exits with code 2."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None, field: str | None = None):
        self.message, self.file, self.line, self.field = message, file, line, field
        where = ":".join(str(x) for x in (file, line) if x is not None)
        prefix = f"{where}: " if where else ""
        fld = f"field '{field}': " if field else ""
        super().__init__(f"{prefix}{fld}{message}")


def _stat(path, noun: str, loop: str, link: str) -> tuple[int | None, str]:
    """(`path`'s mode, '') or (None, why it cannot be read as a `noun`), the tails naming what to give instead."""
    import errno
    import os

    try:
        return os.stat(path).st_mode, ""
    except OSError as e:
        if e.errno == errno.ELOOP:
            return None, f"is a symbolic link loop{loop}"
        if e.errno == errno.ENOENT and os.path.islink(path):
            return None, f"is a link to {os.readlink(path)}, which does not exist{link}"
        if e.errno == errno.ENOTDIR:
            return None, f"no such {noun} (a part of the path is a file, not a directory)"
        return None, f"no such {noun}" if e.errno == errno.ENOENT else f"cannot be read ({e.strerror})"


def not_a_file(path) -> str:
    """Why `path` cannot be read as a file ('no such file', 'is a directory; give a file'), or '' if it can."""
    import stat

    mode, why = _stat(path, "file", "; give a file", "; give a file")
    if mode is None:
        return why
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "is a directory; give a file"
    kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"is {kind}, not a regular file; give a file"


def not_a_dir(path) -> str:
    """Why `path` cannot be read as a directory ('no such directory', 'is a file, not a directory'), or '' if it
    can; the counterpart of `not_a_file`."""
    import stat

    mode, why = _stat(path, "directory", ", not a directory", "")
    if mode is None:
        return why
    if stat.S_ISDIR(mode):
        return ""
    return "is a file, not a directory" if stat.S_ISREG(mode) else "is not a directory"


def json_problem(e) -> str:
    """A json.JSONDecodeError in words: "Expecting ',' delimiter at column 9" (the module's own text ends in
    "at" or "starting at" before its position)."""
    return f"{e.msg.removesuffix(' at')} at column {e.colno}"


def loads(text: str, file: str, line: int | None = None):
    """`json.loads` of text from a file the user gave: malformed, or nested too deep for Python's reader (a
    RecursionError), is one InputError naming the file and line."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({json_problem(e)})", file, e.lineno if line is None else line) from None
    except RecursionError:
        raise InputError("not readable JSON: nested too deeply (thousands of [ or { inside each other)", file,
                         line) from None


def json_records(path) -> "Iterator[tuple[int, object]]":
    """(line, record) of a task file: each non-blank line of JSON lines, or the records of a .json file holding
    one JSON array (numbered from 1, as `curate` numbers them)."""
    from pathlib import Path

    path = Path(path)
    lines = text_lines(path)
    first = next((t for _, t in lines if t.strip()), "")
    lines.close()
    if path.suffix.lower() == ".json" and first.lstrip().startswith("["):
        yield from enumerate(loads("".join(t for _, t in text_lines(path)), str(path)), 1)
        return
    for lineno, raw in text_lines(path):
        if raw.strip():
            yield lineno, loads(raw, str(path), lineno)


def read_json(path, what: str = "result file"):
    """A JSON document from a file the user named (a result file, a prefs.json): any problem is one InputError
    naming the file."""
    import json
    from pathlib import Path

    if why := not_a_file(path):
        raise InputError(why, str(path))
    try:
        return json.loads(Path(path).read_text(encoding="utf-8-sig"))  # a byte-order mark is fine
    except json.JSONDecodeError as e:
        raise InputError(f"not a valid JSON {what} ({json_problem(e)})", str(path), e.lineno) from None
    except UnicodeDecodeError as e:
        raise InputError(f"not a valid JSON {what} (not UTF-8: {e.reason} at byte {e.start})", str(path)) from None
    except RecursionError:
        raise InputError(f"not a valid JSON {what} (nested too deeply)", str(path)) from None


@contextmanager
def malformed(where, what: str = "result file"):
    """Reading a document dataladder wrote (a report's inputs, a ladder.json given to compare) that was edited or
    cut short: a missing key or a wrong type is one InputError naming it, not a traceback."""
    try:
        yield
    except (KeyError, TypeError, IndexError, StopIteration, AttributeError) as e:
        detail = f"{type(e).__name__}: {e}" if str(e) else f"{type(e).__name__}: an entry is missing"
        raise InputError(f"not a {what} as dataladder writes it ({detail}); rerun the command that wrote it",
                         str(where)) from None


def text_lines(path) -> "Iterator[tuple[int, str]]":
    """(line number, text) of a UTF-8 file (a leading byte-order mark dropped, CRLF fine); bytes that are not
    UTF-8 raise InputError naming the line."""
    from pathlib import Path

    with Path(path).open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(f"not UTF-8 text ({e.reason} at byte {e.start}); save the file as UTF-8", str(path),
                                 lineno) from None


@contextmanager
def for_option(option: str):
    """A check's error, named by the option (or plan key) it is about: `--skill: unknown skill 'x' ...`."""
    from dataladder.core.registry import UnknownName

    try:
        yield
    except (InputError, UnknownName, ValueError) as e:
        text = str(e)
        raise ValueError(text if text.startswith(option) else f"{option}: {text}") from None
