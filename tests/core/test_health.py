"""Heartbeats and the health check (`--health`): alive, waiting for the clock, and able to write."""

from __future__ import annotations

import sqlite3

from satedge import health


def test_a_daemon_waiting_for_the_clock_is_healthy(tmp_path):
    db = tmp_path / "data" / "spool.sqlite"
    health.waiting(db)
    assert health.check(db, status_interval_s=1.0) == 0


def test_no_heartbeat_is_unhealthy(tmp_path, capsys):
    assert health.check(tmp_path / "spool.sqlite", status_interval_s=1.0) == 1
    assert "no readable heartbeat" in capsys.readouterr().out


def test_a_database_that_cannot_take_a_write_lock_is_unhealthy(tmp_path, capsys):
    db = tmp_path / "ground.sqlite"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    health.beat(health.heartbeat_path(db), {})
    assert health.check(db, status_interval_s=1.0) == 0
    holder.execute("BEGIN EXCLUSIVE")          # another writer that never lets go
    try:
        assert health.check(db, status_interval_s=1.0) == 1
        assert "not writable" in capsys.readouterr().out
    finally:
        holder.rollback()
        holder.close()
