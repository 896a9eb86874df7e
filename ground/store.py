"""The ground store: one SQLite file (WAL, synchronous=FULL) that the station, the command CLI
and the report share.

A summary is committed before its ack is sent, keyed by `(satellite, inc, seq)`
(`inc`: the satellite spool's incarnation, from its `hello`), so a crash after
the commit at worst costs a re-sent summary that is then recognised as a
duplicate, and a satellite whose spool was replaced (seqs from 1 again) is not
taken for a repeat of the old one. Commands get their ids from AUTOINCREMENT,
which never reuses an id, even after a restart or a deleted row; the store's own
random incarnation goes with every command, so a replaced store's ids (from 1
again) are new commands to the satellite, not replays.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from satedge import readonly
from satedge.errors import UserError
from satedge.protocol import INT_MAX

SCHEMA = """
CREATE TABLE IF NOT EXISTS summaries (
    satellite TEXT NOT NULL,
    inc       INTEGER NOT NULL DEFAULT 0,   -- the satellite spool's incarnation (0: its hello had none)
    seq       INTEGER NOT NULL,
    prio      INTEGER NOT NULL,
    scene     TEXT NOT NULL,
    acq       REAL NOT NULL,      -- acquisition time, sim seconds
    received  REAL NOT NULL,      -- reception time at the ground, sim seconds
    win       INTEGER,            -- window it arrived in
    bytes     INTEGER NOT NULL,   -- encoded frame length on the link
    raw       INTEGER NOT NULL,   -- raw imagery bytes it stands for
    model     TEXT NOT NULL,
    prec      TEXT NOT NULL,
    body      TEXT NOT NULL,      -- the summary body as JSON
    PRIMARY KEY (satellite, inc, seq)
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS windows (
    win    INTEGER PRIMARY KEY,
    start  REAL NOT NULL,
    end    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS passes (
    win            INTEGER NOT NULL,
    satellite      TEXT NOT NULL,
    bytes_granted  INTEGER NOT NULL DEFAULT 0,
    bytes_received INTEGER NOT NULL DEFAULT 0,
    frames         INTEGER NOT NULL DEFAULT 0,
    summaries      INTEGER NOT NULL DEFAULT 0,
    duplicates     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (win, satellite)
);
CREATE TABLE IF NOT EXISTS commands (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    name    TEXT NOT NULL,
    args    TEXT NOT NULL,        -- JSON
    target  TEXT,                 -- a satellite id, or NULL for every satellite
    queued  REAL NOT NULL,        -- wall-clock Unix time
    key     TEXT                  -- set by a scheduler, so a step is queued once (NULL: by hand)
);
CREATE TABLE IF NOT EXISTS command_results (
    cmd_id     INTEGER NOT NULL REFERENCES commands(id),
    satellite  TEXT NOT NULL,
    sent       INTEGER NOT NULL DEFAULT 0,   -- times sent
    first_sent REAL,                         -- sim seconds
    ok         INTEGER,                      -- NULL until a cmd_result arrives
    detail     TEXT,
    answered   REAL,                         -- sim seconds
    PRIMARY KEY (cmd_id, satellite)
);
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class Command:
    """A queued command as the station sends it; `target` None is every satellite, later ones too."""

    id: int
    name: str
    args: Any              # a map if queued by `satedge command`; the uplink checks before it sends
    target: str | None


class SummaryRow(TypedDict):
    """A received summary as it is stored: the frame's fields, where and when it arrived, its size."""

    satellite: str
    inc: NotRequired[int]   # the spool's incarnation; 0 if absent
    seq: int
    prio: int
    body: dict[str, Any]   # checked by satedge.protocol.validate_body
    received: float
    win: int
    bytes: int


def connect(path: Path, create: bool = True) -> sqlite3.Connection:
    """Open the store (WAL, FULL sync, 10 s busy timeout so the CLI and the station can share it)."""
    path = Path(path)
    if not create and not path.is_file():
        raise UserError(f"no ground store at {path}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=10.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(SCHEMA)
        if "key" not in {row[1] for row in db.execute("PRAGMA table_info(commands)")}:
            db.execute("ALTER TABLE commands ADD COLUMN key TEXT")   # a store made before the column
        db.execute("CREATE UNIQUE INDEX IF NOT EXISTS commands_by_key ON commands (key)")
        if "inc" not in {row[1] for row in db.execute("PRAGMA table_info(summaries)")}:
            _migrate_summaries(db)
        with db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('inc', ?)", (1 + secrets.randbelow(INT_MAX),))
    except (OSError, sqlite3.DatabaseError) as exc:
        raise UserError(f"cannot open ground store {path}: {exc}") from None
    db.row_factory = sqlite3.Row
    return db


def _migrate_summaries(db: sqlite3.Connection) -> None:
    """A store made before summaries were keyed by the spool's incarnation: its rows become incarnation 0's."""
    columns = "satellite, seq, prio, scene, acq, received, win, bytes, raw, model, prec, body"
    with db:
        db.execute("ALTER TABLE summaries RENAME TO summaries_before_inc")
        db.executescript(SCHEMA.split("CREATE TABLE IF NOT EXISTS windows")[0])
        db.execute(f"INSERT INTO summaries ({columns}) SELECT {columns} FROM summaries_before_inc")
        db.execute("DROP TABLE summaries_before_inc")


class Store:
    """What the station writes; every method is one transaction."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.db = connect(self.path)
        self.inc: int = self.db.execute("SELECT value FROM meta WHERE key = 'inc'").fetchone()[0]

    def close(self) -> None:
        """Close the connection; everything was committed by the method that wrote it."""
        self.db.close()

    def add_summaries(self, rows: list[SummaryRow]) -> list[bool]:
        """Store summaries in one transaction; True for each that is new, False for a duplicate."""
        fresh = []
        with self.db:
            for r in rows:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO summaries (satellite, inc, seq, prio, scene, acq, received, win, bytes,"
                    " raw, model, prec, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (r["satellite"], r.get("inc", 0), r["seq"], r["prio"], r["body"]["scene"], r["body"]["acq"],
                     r["received"], r["win"], r["bytes"], r["body"]["raw"], r["body"]["model"], r["body"]["prec"],
                     json.dumps(r["body"])))
                fresh.append(cur.rowcount == 1)
        return fresh

    def window(self, win: int, start: float, end: float) -> None:
        """Record a window as it opens (again after a restart: same id, same times)."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO windows (win, start, end) VALUES (?,?,?)", (win, start, end))

    def add_pass(self, win: int, satellite: str, **deltas: int) -> None:
        """Add to a pass's totals (a restarted station adds to what it had counted)."""
        cols = ", ".join(deltas)
        marks = ", ".join("?" for _ in deltas)
        updates = ", ".join(f"{c} = {c} + excluded.{c}" for c in deltas)
        with self.db:
            self.db.execute(
                f"INSERT INTO passes (win, satellite, {cols}) VALUES (?, ?, {marks})"
                f" ON CONFLICT (win, satellite) DO UPDATE SET {updates}",
                (win, satellite, *deltas.values()))

    def add_counters(self, counts: Mapping[str, int]) -> None:
        """Add counts since the last flush to the totals (so they survive restarts)."""
        if not counts:
            return
        with self.db:
            self.db.executemany(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value", counts.items())

    def pending_commands(self, satellite: str) -> list[Command]:
        """Commands for `satellite` without a result from it, oldest first."""
        rows = self.db.execute(
            "SELECT c.id, c.name, c.args, c.target FROM commands c"
            " LEFT JOIN command_results r ON r.cmd_id = c.id AND r.satellite = ?"
            " WHERE (c.target IS NULL OR c.target = ?) AND r.ok IS NULL ORDER BY c.id",
            (satellite, satellite)).fetchall()
        return [Command(r["id"], r["name"], _json_or_text(r["args"]), r["target"]) for r in rows]

    def command_sent(self, cmd_id: int, satellite: str, now: float) -> None:
        """Count a send; the first one's time is kept, for the report."""
        with self.db:
            self.db.execute(
                "INSERT INTO command_results (cmd_id, satellite, sent, first_sent) VALUES (?, ?, 1, ?)"
                " ON CONFLICT (cmd_id, satellite) DO UPDATE SET sent = sent + 1", (cmd_id, satellite, now))

    def command_result(self, cmd_id: int, satellite: str, ok: bool, detail: str, now: float) -> bool:
        """Record a result; a real one replaces a "duplicate" answer, never the reverse. False if unknown id."""
        if self.db.execute("SELECT 1 FROM commands WHERE id = ?", (cmd_id,)).fetchone() is None:
            return False
        with self.db:
            self.db.execute(
                "INSERT INTO command_results (cmd_id, satellite, ok, detail, answered) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (cmd_id, satellite) DO UPDATE SET ok = excluded.ok, detail = excluded.detail,"
                " answered = excluded.answered WHERE ok IS NULL OR (detail = 'duplicate'"
                " AND excluded.detail != 'duplicate')",
                (cmd_id, satellite, int(ok), detail, now))
        return True


def _json_or_text(text: Any) -> Any:
    """A stored JSON value; not JSON (someone edited the store): the text itself, which the uplink refuses."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def queue_command(db: sqlite3.Connection, name: str, args: Mapping[str, object], target: str | None = None,
                  key: str | None = None) -> int | None:
    """Queue a command durably; its id is larger than any id this store ever gave.

    With `key`, a command already queued under that key is not queued again (None is returned):
    a scheduler that restarts does not uplink its steps twice.
    """
    with db:
        if key is not None and db.execute("SELECT 1 FROM commands WHERE key = ?", (key,)).fetchone():
            return None
        cur = db.execute("INSERT INTO commands (name, args, target, queued, key) VALUES (?, ?, ?, ?, ?)",
                         (name, json.dumps(args), target, time.time(), key))
    return cur.lastrowid


# ---- read-only queries, for processes beside the station (mission control, tests) -----------

def _read(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    """Rows from a store the station may be writing; none if it does not exist (yet)."""
    return readonly.rows(path, sql, params, "ground store")


def delivered_scenes(path: Path) -> int:
    """Distinct (satellite, scene) pairs stored."""
    rows = _read(path, "SELECT COUNT(DISTINCT satellite || '/' || scene) FROM summaries")
    return rows[0][0] if rows else 0


def unanswered_commands(path: Path) -> int:
    """Commands no satellite has answered yet."""
    rows = _read(path, "SELECT COUNT(*) FROM commands c WHERE NOT EXISTS (SELECT 1 FROM command_results r"
                       " WHERE r.cmd_id = c.id AND r.ok IS NOT NULL)")
    return rows[0][0] if rows else 0


def stored_summaries(path: Path) -> list[dict[str, Any]]:
    """Every stored summary as `{satellite, seq, body}`, in order of reception."""
    rows = _read(path, "SELECT satellite, seq, body FROM summaries ORDER BY received, satellite, seq")
    return [{"satellite": r["satellite"], "seq": r["seq"], "body": json.loads(r["body"])} for r in rows]


class PassRow(TypedDict):
    """A satellite's totals for one window, as written at LOS (and added to after a restart)."""

    win: int
    satellite: str
    bytes_granted: int
    bytes_received: int
    frames: int
    summaries: int
    duplicates: int


class CommandResultRow(TypedDict):
    """What one satellite did with one command: times sent, and its answer (None until answered)."""

    cmd_id: int
    satellite: str
    sent: int
    first_sent: float | None
    ok: bool | None
    detail: str | None
    answered: float | None


def stored_count(path: Path) -> int:
    """Summaries stored, each `(satellite, seq)` once."""
    rows = _read(path, "SELECT COUNT(*) FROM summaries")
    return int(rows[0][0]) if rows else 0


def stored_rows(path: Path) -> list[SummaryRow]:
    """Every stored summary as it was written (body parsed; `inc` only if not 0), by satellite, then seq."""
    rows = _read(path, "SELECT satellite, inc, seq, prio, body, received, win, bytes FROM summaries"
                       " ORDER BY satellite, seq")
    out = []
    for r in rows:
        row = SummaryRow(satellite=r["satellite"], seq=r["seq"], prio=r["prio"], body=json.loads(r["body"]),
                         received=r["received"], win=r["win"], bytes=r["bytes"])
        if r["inc"]:
            row["inc"] = r["inc"]
        out.append(row)
    return out


def stored_windows(path: Path) -> list[tuple[int, float, float]]:
    """Every window recorded at its AOS, as `(win, start, end)`, by id."""
    return [(r["win"], r["start"], r["end"]) for r in _read(path, "SELECT win, start, end FROM windows ORDER BY win")]


def pass_totals(path: Path) -> list[PassRow]:
    """Every pass's totals, by window, then satellite."""
    rows = _read(path, "SELECT win, satellite, bytes_granted, bytes_received, frames, summaries, duplicates"
                       " FROM passes ORDER BY win, satellite")
    return [PassRow(win=r["win"], satellite=r["satellite"], bytes_granted=r["bytes_granted"],
                    bytes_received=r["bytes_received"], frames=r["frames"], summaries=r["summaries"],
                    duplicates=r["duplicates"]) for r in rows]


def counters(path: Path) -> dict[str, int]:
    """The counters' totals as last flushed by the station (drops, losses, duplicates, ...)."""
    return {r["name"]: int(r["value"]) for r in _read(path, "SELECT name, value FROM counters ORDER BY name")}


def command_results(path: Path) -> list[CommandResultRow]:
    """Every satellite's record of every command sent to it, by command id, then satellite."""
    rows = _read(path, "SELECT cmd_id, satellite, sent, first_sent, ok, detail, answered FROM command_results"
                       " ORDER BY cmd_id, satellite")
    return [CommandResultRow(cmd_id=r["cmd_id"], satellite=r["satellite"], sent=r["sent"], first_sent=r["first_sent"],
                             ok=None if r["ok"] is None else bool(r["ok"]), detail=r["detail"],
                             answered=r["answered"]) for r in rows]
