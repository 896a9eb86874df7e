"""What the console reads from the store: read-only, through the same queries as `satedge report`.

Each call is one read transaction on a read-only connection (satedge.readonly),
so a page can never write to or lock the store the station is writing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ground import report
from satedge import readonly
from satedge.errors import UserError

Json = dict[str, Any]

WHAT = "ground store"


def map_after(path: Path, after: int) -> Json:
    """Buildings and scene footprints stored after storage position `after`, and the position reached."""
    try:
        with readonly.reading(path, WHAT) as db:
            stored = report.summaries(db, after)
    except UserError as exc:
        return {"after": after, "buildings": [], "scenes": [], "error": str(exc)}
    return {"after": stored[-1]["rowid"] if stored else after, "buildings": report.buildings(stored),
            "scenes": report.scenes(stored)}


def operations(path: Path) -> Json:
    """Every pass (bytes, latency), the command log with each satellite's answer, the counters."""
    try:
        with readonly.reading(path, WHAT) as db:
            stored = report.summaries(db, body=False, log_bad=False)
            return {"passes": report.passes(db, stored), "commands": report.commands(db),
                    "counters": report.counters(db), "summaries": len(stored)}
    except UserError as exc:
        return {"passes": [], "commands": [], "counters": {}, "summaries": 0, "error": str(exc)}
