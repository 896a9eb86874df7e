"""`satedge.readonly.reading`: several queries in one read transaction, never a write."""

from __future__ import annotations

import sqlite3

import pytest

from satedge import readonly
from satedge.errors import UserError


def test_reading_sees_one_moment_and_cannot_write(tmp_path):
    path = tmp_path / "owned.sqlite"
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.execute("INSERT INTO t VALUES (1)")
    writer.commit()
    with readonly.reading(path, "test store") as db:
        assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1
        writer.execute("INSERT INTO t VALUES (2)")   # the owner goes on writing meanwhile
        writer.commit()
        assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1
    with pytest.raises(UserError, match="cannot read test store .*readonly"):
        with readonly.reading(path, "test store") as db:
            db.execute("INSERT INTO t VALUES (3)")
    writer.close()
    assert readonly.rows(path, "SELECT COUNT(*) FROM t")[0][0] == 2


def test_reading_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(UserError, match="no test store at"):
        with readonly.reading(tmp_path / "nothing.sqlite", "test store"):
            pass
    assert not (tmp_path / "nothing.sqlite").exists()
