"""Reading a SQLite file another process owns and may be writing (the ground store, a spool).

Read-only (`mode=ro`), so a reader can never change or lock out the writer;
with `rows`, a file or schema not there yet reads as no rows; anything else
is a one-line `UserError` naming what was read. `reading` holds one read
transaction over several queries, so they see the same moment of the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from satedge.errors import UserError


def _open(path: Path, what: str) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    except sqlite3.Error as exc:
        raise UserError(f"cannot read {what} {path}: {exc}") from None
    db.row_factory = sqlite3.Row
    return db


def rows(path: Path, sql: str, params: tuple[object, ...] = (), what: str = "database") -> list[sqlite3.Row]:
    """The rows of `sql` on `path`; none if the file or its tables do not exist yet."""
    path = Path(path)
    if not path.exists():
        return []
    db = _open(path, what)
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            return []   # its writer has not committed the schema yet
        raise UserError(f"cannot read {what} {path}: {exc}") from None
    finally:
        db.close()


@contextmanager
def reading(path: Path, what: str = "database") -> Iterator[sqlite3.Connection]:
    """A read-only connection inside one read transaction; a missing file or an SQLite error is a `UserError`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no {what} at {path}")
    db = _open(path, what)
    try:
        db.execute("BEGIN")
        yield db
    except sqlite3.DatabaseError as exc:
        raise UserError(f"cannot read {what} {path}: {exc}") from None
    finally:
        db.close()
