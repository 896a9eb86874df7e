"""Store-and-forward spool: summaries wait here (SQLite, WAL, fsync on commit) until acknowledged.

A summary is committed before it may be sent and deleted only when the
ground acks its `seq`; `seq`, `last_cmd` and `min_class` live in the same
file, so a crash or restart neither loses nor renumbers anything. The scene
file's content (its sha256) is recorded in the same transaction as its
summary, so a scene that was spooled but not yet removed from the inbox when
the process died is not summarised twice, while a new scene published under a
name used before is (scenes are known by content, not by file name).

When full (`max_summaries` or `max_bytes`), room is made by dropping the
least urgent summaries first: highest `prio` value (3 = no damage) first,
oldest first within it, and never one more urgent than the newcomer; if
nothing less urgent is left, the newcomer itself is dropped. Every drop is
counted (`evicted`).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from satedge import readonly
from satedge.errors import UserError
from satedge.protocol import INT_MAX

INC_MAX = INT_MAX   # an incarnation id is 1..2**63-1: what the protocol's integers and SQLite hold

SCHEMA = """
CREATE TABLE IF NOT EXISTS summaries (
    seq INTEGER PRIMARY KEY, prio INTEGER NOT NULL, body BLOB NOT NULL,
    size INTEGER NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS summaries_order ON summaries (prio, seq);
CREATE TABLE IF NOT EXISTS sources (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS scenes_done (identity TEXT PRIMARY KEY, name TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cmd_results (
    inc INTEGER NOT NULL, id INTEGER NOT NULL, ok INTEGER NOT NULL, detail TEXT NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (inc, id));
"""
# A spool made before command results were kept per ground incarnation: its unsent results, as ground 0's.
MIGRATE_RESULTS = """
INSERT OR IGNORE INTO cmd_results (inc, id, ok, detail) SELECT 0, id, ok, detail FROM results;
DROP TABLE results;
"""
# Command results kept (sent or not) to answer a ground that repeats a command whose result it lost.
KEPT_RESULTS = 1000


class Unwritable(UserError):
    """The spool cannot take a write (full disk, read-only volume): the daemon stops, saying so in one line;
    what it holds is intact and the scene in hand stays in the inbox for the next start."""


@dataclass(frozen=True)
class Spooled:
    """A summary as the spool hands it to the downlink: its `seq` is what the ground acks."""

    seq: int
    prio: int
    body: dict[str, Any]


class Spool:
    """One SQLite file; safe to share between the daemon's threads (one connection, one lock)."""

    def __init__(self, path: Path, max_summaries: int = 100_000, max_bytes: int = 256 << 20):
        self.path = Path(path)
        self.max_summaries, self.max_bytes = max_summaries, max_bytes
        self.evicted = 0
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")   # fsync at every commit: durable before sent
            self.db.executescript(SCHEMA)
            if self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'results'").fetchone():
                self.db.executescript(f"BEGIN IMMEDIATE; {MIGRATE_RESULTS} COMMIT;")
            self.db.execute("PRAGMA quick_check").fetchone()
            self.inc = self._incarnation()
        except (sqlite3.Error, OSError) as exc:
            raise UserError(f"cannot open spool {self.path}: {exc}") from None

    def _incarnation(self) -> int:
        """This spool's random id, made with the file: a fresh spool's seqs restart at 1, and `hello`/`ack`
        carry it so the ground never takes them for the old spool's (docs/protocol.md, "Reliability")."""
        with self._transaction():
            inc = self._get("inc", 0)
            if inc == 0:
                inc = 1 + secrets.randbelow(INC_MAX)
                self._set("inc", inc)
        return inc

    def close(self) -> None:
        """Close the database; whatever is committed stays for the next run."""
        with self._lock:
            self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One atomic, fsync'd write (the connection autocommits otherwise); `Unwritable` if it cannot be made."""
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:   # a full disk, a read-only or vanished volume: nothing was written
                if self.db.in_transaction:
                    try:
                        self.db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise Unwritable(f"spool {self.path} cannot be written: {exc}") from None

    # --- state -------------------------------------------------------------

    def _get(self, key: str, default: int) -> int:
        row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else int(row[0])

    def _set(self, key: str, value: int | str) -> None:
        self.db.execute("INSERT INTO state (key, value) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def get(self, key: str, default: int = 0) -> int:
        """A number kept in the spool across restarts (`default` if never set)."""
        with self._lock:
            return self._get(key, default)

    def set(self, key: str, value: int | str) -> None:
        """Keep `value` under `key`, committed before this returns."""
        with self._transaction():
            self._set(key, value)

    def get_text(self, key: str) -> str | None:
        """A text setting (SQLite keeps the text as it is in the state table)."""
        with self._lock:
            row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # --- summaries ---------------------------------------------------------

    def done(self, identity: str) -> bool:
        """Whether a scene file with this content (sha256) already has a summary (spooled now or earlier)."""
        with self._lock:
            return self.db.execute("SELECT 1 FROM scenes_done WHERE identity = ?", (identity,)).fetchone() is not None

    def add(self, prio: int, body: dict[str, Any], source: str | None = None,
            identity: str | None = None) -> int | None:
        """Commit a summary (made from the file named `source`, the scene `identity`); its new `seq`.

        None if the full spool had to refuse it; `source` and `identity` are recorded either way.
        """
        blob = msgpack.packb(body, use_bin_type=True)
        with self._transaction():
            seq = self._get("next_seq", 1)
            self._set("next_seq", seq + 1)
            if source is not None:
                self.db.execute("INSERT OR REPLACE INTO sources (name, seq) VALUES (?, ?)", (source, seq))
            if identity is not None:
                self.db.execute("INSERT OR REPLACE INTO scenes_done (identity, name, seq) VALUES (?, ?, ?)",
                                (identity, source or "", seq))
            if not self._make_room(prio, len(blob)):
                self.evicted += 1
                return None
            self.db.execute("INSERT INTO summaries (seq, prio, body, size, created) VALUES (?, ?, ?, ?, ?)",
                            (seq, prio, blob, len(blob), time.time()))
        return seq

    def _make_room(self, prio: int, size: int) -> bool:
        count, total = self.db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM summaries").fetchone()
        while count + 1 > self.max_summaries or total + size > self.max_bytes:
            victim = self.db.execute("SELECT seq, size FROM summaries WHERE prio >= ? "
                                     "ORDER BY prio DESC, seq ASC LIMIT 1", (prio,)).fetchone()
            if victim is None:
                return False
            self.db.execute("DELETE FROM summaries WHERE seq = ?", (victim[0],))
            self.evicted += 1
            count, total = count - 1, total - victim[1]
        return True

    def ack(self, seqs: list[int]) -> int:
        """Delete acknowledged summaries; returns how many were still here."""
        with self._transaction():
            cur = self.db.executemany("DELETE FROM summaries WHERE seq = ?", [(int(s),) for s in seqs])
            return cur.rowcount

    def next_batch(self, exclude: Collection[int], limit: int = 64) -> list[Spooled]:
        """The most urgent summaries not in `exclude` (in flight): lowest prio, then oldest."""
        with self._lock:
            rows = self.db.execute("SELECT seq, prio, body FROM summaries ORDER BY prio, seq "
                                   "LIMIT ?", (limit + len(exclude),)).fetchall()
        out = [Spooled(seq, prio, msgpack.unpackb(body, raw=False)) for seq, prio, body in rows
               if seq not in exclude]
        return out[:limit]

    def stats(self) -> tuple[int, int]:
        """(summaries, bytes) waiting."""
        with self._lock:
            count, total = self.db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM summaries").fetchone()
        return int(count), int(total)

    # --- command results ---------------------------------------------------
    # Command ids are the ground store's, so each ground incarnation (`inc`, docs/protocol.md) has its own
    # `last_cmd`; 0 is a ground that sends no `inc`, whose high-water mark is the plain `last_cmd` key.

    @staticmethod
    def _last_cmd_key(inc: int) -> str:
        return "last_cmd" if inc == 0 else f"last_cmd@{inc}"

    def last_cmd_for(self, inc: int) -> int:
        """The highest command id executed for ground incarnation `inc`: anything at or below it is a replay."""
        return self.get(self._last_cmd_key(inc), 0)

    @property
    def last_cmd(self) -> int:
        """The highest command id executed for the ground heard from last (what `hello` reports)."""
        return self.last_cmd_for(self.get("ground_inc", 0))

    def finish_command(self, cmd_id: int, ok: bool, detail: str, inc: int = 0) -> None:
        """Record a command's outcome and advance its ground's `last_cmd` in one transaction."""
        key = self._last_cmd_key(inc)
        with self._transaction():
            if cmd_id > self._get(key, 0):
                self._set(key, cmd_id)
            self.db.execute("INSERT OR REPLACE INTO cmd_results (inc, id, ok, detail, sent) VALUES (?, ?, ?, ?, 0)",
                            (inc, cmd_id, int(ok), detail))
            self.db.execute("DELETE FROM cmd_results WHERE rowid NOT IN "
                            "(SELECT rowid FROM cmd_results ORDER BY rowid DESC LIMIT ?)", (KEPT_RESULTS,))

    def results(self) -> list[tuple[int, bool, str, int]]:
        """Command results to send: `(id, ok, detail, inc)`, not sent yet or asked for again."""
        with self._lock:
            rows = self.db.execute("SELECT id, ok, detail, inc FROM cmd_results WHERE sent = 0 "
                                   "ORDER BY rowid").fetchall()
        return [(i, bool(ok), detail, inc) for i, ok, detail, inc in rows]

    def result_sent(self, cmd_id: int, inc: int = 0) -> None:
        """A result went out: kept (not deleted), in case the ground never got it and repeats the command."""
        with self._transaction():
            self.db.execute("UPDATE cmd_results SET sent = 1 WHERE inc = ? AND id = ?", (inc, cmd_id))

    def resend_result(self, cmd_id: int, inc: int = 0) -> bool:
        """The ground repeated an executed command: send its kept result again; False if none is kept."""
        with self._transaction():
            cur = self.db.execute("UPDATE cmd_results SET sent = 0 WHERE inc = ? AND id = ?", (inc, cmd_id))
            return cur.rowcount > 0


def spooled_count(path: Path) -> int:
    """Summaries waiting in a spool another process owns (read-only; 0 if it does not exist yet)."""
    rows = _read(path, "SELECT COUNT(*) FROM summaries")
    return int(rows[0][0]) if rows else 0


def _read(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    """Rows from a spool another process may be writing (read-only); none if it or its schema is not there yet."""
    return readonly.rows(path, sql, params, "spool")


def spooled_sources(path: Path) -> set[str]:
    """Names of the scene files that have a summary, waiting or already acknowledged (read-only)."""
    return {str(name) for (name,) in _read(path, "SELECT name FROM sources")}


def spooled_bodies(path: Path) -> list[dict[str, Any]]:
    """The bodies of the summaries waiting in a spool, oldest first (read-only)."""
    return [msgpack.unpackb(body, raw=False) for (body,) in _read(path, "SELECT body FROM summaries ORDER BY seq")]


def state(path: Path, key: str) -> int | str | None:
    """A value the spool keeps across restarts (`last_cmd`, `next_seq`, ...); None if never set (read-only)."""
    rows = _read(path, "SELECT value FROM state WHERE key = ?", (key,))
    if not rows:
        return None
    value: int | str = rows[0][0]
    return value
