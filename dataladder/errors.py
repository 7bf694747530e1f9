"""User-facing input errors: one line naming the file, the line and the field."""

from __future__ import annotations


class InputError(Exception):
    """Bad user input. The CLI prints `str(err)` as one line and exits with code 2."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None, field: str | None = None):
        self.message, self.file, self.line, self.field = message, file, line, field
        where = ":".join(str(x) for x in (file, line) if x is not None)
        prefix = f"{where}: " if where else ""
        fld = f"field '{field}': " if field else ""
        super().__init__(f"{prefix}{fld}{message}")
