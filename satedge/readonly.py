"""Reading a SQLite file another process owns and may be writing (the ground store, a spool).

Read-only (`mode=ro`), so a reader can never change or lock out the writer;
a file or schema not there yet reads as no rows, anything else is a one-line
`UserError` naming what was read.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from satedge.errors import UserError


def rows(path: Path, sql: str, params: tuple[object, ...] = (), what: str = "database") -> list[sqlite3.Row]:
    """The rows of `sql` on `path`; none if the file or its tables do not exist yet."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    except sqlite3.Error as exc:
        raise UserError(f"cannot read {what} {path}: {exc}") from None
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            return []   # its writer has not committed the schema yet
        raise UserError(f"cannot read {what} {path}: {exc}") from None
    finally:
        db.close()
