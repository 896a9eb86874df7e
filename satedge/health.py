"""A daemon's heartbeat file, for container health checks (`satedge onboard|ground --health`).

A daemon rewrites `<its database>.health` (JSON: sim and wall time, its
status counters) with every status line, and every second while it waits
for the run's clock to start; `--health` exits 0 only if that file is
fresher than three status intervals and the database takes a write lock
(a full disk or a read-only volume fails it, not just a dead loop).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import time
from pathlib import Path


def heartbeat_path(database: Path) -> Path:
    """Beside the database, so a probe needs to know only the daemon's store."""
    return Path(str(database) + ".health")


def beat(path: Path, status: dict[str, object]) -> None:
    """Write the heartbeat atomically (rename), so a probe never reads half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"wall": time.time(), **status}, default=str))
    os.replace(tmp, path)


def waiting(database: Path) -> None:
    """The heartbeat of a daemon that is up but waits for the run's clock to start."""
    path = heartbeat_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    beat(path, {"waiting": "clock start"})


def writable(database: Path) -> tuple[bool, str]:
    """Whether the daemon's SQLite file (or, before it exists, its folder) can be written now."""
    database = Path(database)
    if not database.exists():
        ok = os.access(database.parent, os.W_OK)
        return ok, "" if ok else f"{database.parent} is not writable"
    try:
        db = sqlite3.connect(database, timeout=2.0)
        try:
            db.execute("BEGIN IMMEDIATE")   # takes the write lock, writes nothing
            db.rollback()
        finally:
            db.close()
    except sqlite3.Error as exc:
        return False, f"{database} is not writable: {exc}"
    return True, ""


def healthy(path: Path, max_age_s: float) -> tuple[bool, str]:
    """Whether the heartbeat is fresh enough: a loop that stopped beating is dead even if its process lives."""
    try:
        status = json.loads(path.read_text())
        age = time.time() - float(status["wall"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"no readable heartbeat at {path}: {exc}"
    if age > max_age_s:
        return False, f"heartbeat {path} is {age:.0f} s old (limit {max_age_s:.0f} s)"
    return True, f"alive ({age:.1f} s ago)"


def add_argument(parser: argparse.ArgumentParser) -> None:
    """`--health`, the same flag on every daemon so one container health check fits all."""
    parser.add_argument("--health", action="store_true",
                        help="exit 0 if the running daemon's heartbeat is fresh (container health checks)")


def check(database: Path, status_interval_s: float) -> int:
    """`--health`: one line, exit 0 if alive, 1 if not."""
    ok, detail = healthy(heartbeat_path(database), 3 * status_interval_s)
    if ok:
        ok, problem = writable(database)
        detail = problem or f"{detail}, {Path(database).name} writable"
    print(detail)
    return 0 if ok else 1
