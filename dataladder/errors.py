"""User-facing input errors: one line naming the file, the line and the field."""

from __future__ import annotations

from typing import Iterator


class InputError(Exception):
    """Bad user input. The CLI prints `str(err)` as one line and exits with code 2."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None, field: str | None = None):
        self.message, self.file, self.line, self.field = message, file, line, field
        where = ":".join(str(x) for x in (file, line) if x is not None)
        prefix = f"{where}: " if where else ""
        fld = f"field '{field}': " if field else ""
        super().__init__(f"{prefix}{fld}{message}")


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
