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


def cannot_write(where) -> str:
    """Why nothing can be written in the directory `where` ('a read-only file system', 'no write permission'), or ''
    if something can."""
    import os

    try:
        read_only = bool(os.statvfs(where).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        return "a read-only file system"
    return "" if os.access(where, os.W_OK | os.X_OK) else "no write permission"


def json_problem(e) -> str:
    """A json.JSONDecodeError in words: "Expecting ',' delimiter at column 9" (the module's own text ends in
    "at" or "starting at" before its position)."""
    return f"{e.msg.removesuffix(' at')} at column {e.colno}"


def loads(text: str, file: str, line: int | None = None, constants: bool = False):
    """`json.loads` of text from a file the user gave, strictly: malformed, nested too deep for Python's reader (a
    RecursionError), a key given twice in one object (a JSON reader would silently keep the last), `NaN` or
    `Infinity` (not JSON; `constants` lets a result document through to its own check, which names the field),
    a lone UTF-16 surrogate escape (`"\\ud800"`, no text) or a number too long for Python: one InputError naming
    the file, the line (`line`, else where the text says) and, where it is a value's, the field path."""
    import json

    try:
        return _strict(text, constants)
    except json.JSONDecodeError as e:
        hint = ""
        if e.msg == "Extra data" and "\r" in text.rstrip("\r\n"):  # CR-only (old Mac) line ends: one line
            hint = "; its line ends look like lone CRs (old Mac): save it with LF or CRLF line ends"
        raise InputError(f"not valid JSON ({json_problem(e)}{hint})", file, e.lineno if line is None else line) \
            from None
    except RecursionError:
        raise InputError("not readable JSON: nested too deeply (thousands of [ or { inside each other)", file,
                         line) from None
    except _Refused as e:
        found = _locate(text, constants) or (e.message, e.field, None)
        at = line if line is not None or found[2] is None else text.count("\n", 0, found[2]) + 1
        raise InputError(found[0], file, at, found[1]) from None
    except ValueError:  # int("1" * 5000): past Python's limit for a number's digits
        raise InputError("not readable JSON: a number has more digits than Python reads (4,300); give it as a "
                         "string", file, line) from None


class _Refused(Exception):
    """Valid to Python's JSON reader, not to ours: a key given twice, NaN, a lone surrogate."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def _twice(key: str) -> str:
    return "the key is given twice in one object; keep one (a JSON reader would silently take the last)"


def _shown(key: str) -> str:
    """A key as one line of UTF-8 can show it: escaped where it holds a newline, a control character or a lone
    surrogate."""
    return key if key.isprintable() else repr(key)[1:-1]


def _unique_pairs(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _Refused(_twice(key), _shown(key))
    return out


def _constant(name: str):
    raise _Refused(f"{name} is not valid JSON; give a number")


_SURROGATE = None  # the pattern of a surrogate escape, compiled on first use
_DECODERS: dict = {}


def _strict(text: str, constants: bool):
    import json
    import re

    global _SURROGATE
    if text.startswith("\ufeff"):  # as json.loads says it
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    dec = _DECODERS.get(constants)
    if dec is None:
        dec = _DECODERS[constants] = json.JSONDecoder(object_pairs_hook=_unique_pairs,
                                                      parse_constant=None if constants else _constant)
    doc = dec.decode(text)
    _SURROGATE = _SURROGATE or re.compile(r"\\u[dD][89a-fA-F]")
    if "\\u" in text and _SURROGATE.search(text):  # a pair is fine: only then look at what the escapes made
        try:
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused("holds a lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair), which is "
                           "no text; remove it or give the whole pair") from None
        except (RecursionError, ValueError):
            pass
    return doc


def _locate(text: str, constants: bool) -> tuple[str, str | None, int] | None:
    """(message, field path, offset) of the first thing `_strict` refuses in `text`, read again by Python's own
    scanner with every key, string and constant watched; None if it cannot say (nested too deep for it)."""
    import json
    import json.decoder as jd
    from json.scanner import py_make_scanner

    path: list = []
    at = [0]
    starts: list[int] = []

    def field(extra=()) -> str | None:
        parts = [*path, *extra]
        text_ = "".join(f"[{p}]" if isinstance(p, int) else f".{_shown(p)}" for p in parts).lstrip(".")
        return text_ or None

    def lone(s: str, where) -> None:
        try:
            s.encode("utf-8")
        except UnicodeEncodeError as e:
            raise _Refused(f"holds a lone UTF-16 surrogate (\\u{ord(s[e.start]):04x} without its pair), which is no "
                           "text; remove it or give the whole pair", where) from None

    class Memo(dict):
        last = None

        def setdefault(self, key, default=None):
            self.last = key
            return super().setdefault(key, default)

    memo = Memo()

    def pairs(ps: list) -> dict:
        out: dict = {}
        for k, v in ps:
            at[0] = starts[-1]
            lone(k, field([k]))
            if k in out:
                raise _Refused(_twice(k), field([k]))
            out[k] = v
        return out

    def constant(name: str):
        raise _Refused(f"{name} is not valid JSON; give a number", field())

    def parse_string(s: str, end: int, strict: bool):
        v, e = jd.py_scanstring(s, end, strict)
        lone(v, field())
        return v, e

    def parse_object(s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo_):
        def scan(s, idx):
            path.append(memo.last)
            at[0] = idx
            try:
                return scan_once(s, idx)
            finally:
                path.pop()

        starts.append(s_and_end[1] - 1)
        try:
            return jd.JSONObject(s_and_end, strict, scan, object_hook, object_pairs_hook, memo_)
        finally:
            starts.pop()

    def parse_array(s_and_end, scan_once):
        k = [0]

        def scan(s, idx):
            path.append(k[0])
            k[0] += 1
            at[0] = idx
            try:
                return scan_once(s, idx)
            finally:
                path.pop()

        return jd.JSONArray(s_and_end, scan)

    dec = json.JSONDecoder(object_pairs_hook=pairs, parse_constant=None if constants else constant)
    dec.parse_object, dec.parse_array, dec.parse_string, dec.memo = parse_object, parse_array, parse_string, memo
    dec.scan_once = py_make_scanner(dec)
    try:
        dec.decode(text.lstrip("\ufeff"))
    except _Refused as e:
        return e.message, e.field, at[0]
    except (RecursionError, ValueError):
        return None
    return None


def json_records(path) -> "Iterator[tuple[int, object]]":
    """(line, record) of a task file: each non-blank line of JSON lines, the records of a .json file holding
    one JSON array (numbered from 1, as `curate` numbers them), or the rows of a Parquet file (from 1)."""
    from pathlib import Path

    path = Path(path)
    if path.suffix.lower() == ".parquet":
        yield from parquet_rows(path)
        return
    lines = text_lines(path)
    first = next((t for _, t in lines if t.strip()), "")
    lines.close()
    if path.suffix.lower() == ".json" and first.lstrip().startswith("["):
        yield from enumerate(loads("".join(t for _, t in text_lines(path)), str(path)), 1)
        return
    for lineno, raw in text_lines(path):
        if raw.strip():
            yield lineno, loads(raw, str(path), lineno)


def parquet_rows(path) -> "Iterator[tuple[int, dict]]":
    """(row, record) of a Parquet file, rows from 1; a column a row leaves null is left out of its record (a
    Parquet schema is the union of every record's columns). Not Parquet: one InputError naming the file."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading Parquet needs pyarrow (pip install pyarrow); or give JSON lines", str(path)) \
            from None
    row = 0
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a file that is not Parquet
        raise InputError(f"not a readable Parquet file ({' '.join(str(e).split())})", str(path)) from None
    for batch in pf.iter_batches(batch_size=4096):
        for rec in batch.to_pylist():
            row += 1
            yield row, {k: v for k, v in rec.items() if v is not None}


def read_json(path, what: str = "result file"):
    """A JSON document from a file the user named (a result file, a prefs.json): any problem is one InputError
    naming the file. NaN and Infinity pass to the document's own check (`core/results.py`), which names the
    field."""
    from pathlib import Path

    if why := not_a_file(path):
        raise InputError(why, str(path))
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is fine
    except UnicodeDecodeError as e:
        raise InputError(f"not a valid JSON {what} (not UTF-8: {e.reason} at byte {e.start})", str(path)) from None
    try:
        return loads(text, str(path), constants=True)
    except InputError as e:
        raise InputError(e.message.replace("not valid JSON", f"not a valid JSON {what}", 1)
                         .replace("not readable JSON", f"not a valid JSON {what}", 1), e.file, e.line, e.field) \
            from None


@contextmanager
def malformed(where, what: str = "result file"):
    """Reading a document dataladder wrote (a report's inputs, a ladder.json given to compare) that was edited or
    cut short: a missing key or a wrong type is one InputError naming it, not a traceback."""
    try:
        yield
    except (KeyError, TypeError, IndexError, StopIteration, AttributeError) as e:
        detail = f"no field {e} where one is read" if isinstance(e, KeyError) and str(e) else \
            f"{type(e).__name__}: {e}" if str(e) else f"{type(e).__name__}: an entry is missing"
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
