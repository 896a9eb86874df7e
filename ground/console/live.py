"""What only the station loop knows (who is connected, the open window, credit), handed to the console.

The loop calls `Publisher.tick` every turn; at most every `interval_s` wall
seconds it builds a plain, JSON-ready snapshot and swaps it in whole, so the
console's thread reads a consistent picture without a lock and the loop
never waits for the console.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from satedge.vocabulary import iso

if TYPE_CHECKING:
    from ground.windows import Satellite, Windows

Json = dict[str, Any]

PUBLISH_WALL_S = 0.25


def _window(window: Any) -> Json | None:
    if window is None:
        return None
    return {"id": window.id, "start": window.start, "end": window.end, "start_utc": iso(window.start),
            "end_utc": iso(window.end)}


def _satellite(sat: Satellite, connected: bool) -> Json:
    hello, contact = sat.hello, sat.contact
    return {"id": sat.id, "connected": connected, "model": hello["model"], "prec": hello["prec"],
            "spooled": hello["spooled"], "last_cmd": hello["last_cmd"], "last_hello_utc": iso(hello["ts"]),
            "contact": None if contact is None else {
                "win": contact.win, "granted": contact.granted, "used": contact.used,
                "credit": contact.granted - contact.used, "frames": contact.frames,
                "summaries": contact.summaries}}


class Publisher:
    """Builds the snapshot on the station's thread; `latest` is read from any thread."""

    def __init__(self, interval_s: float = PUBLISH_WALL_S):
        self.interval_s = interval_s
        self.next_wall = 0.0
        self.left: dict[str, Json] = {}   # satellites seen this run whose connection is gone
        self.latest: Json | None = None   # None until the loop's first turn (e.g. the clock has not started)

    def tick(self, windows: Windows, counters: Mapping[str, int], now: float) -> None:
        """Publish a fresh snapshot if the last one is `interval_s` old (one clock read otherwise)."""
        wall = time.monotonic()
        if wall < self.next_wall:
            return
        self.next_wall = wall + self.interval_s
        self.latest = self.snapshot(windows, counters, now)

    def snapshot(self, windows: Windows, counters: Mapping[str, int], now: float) -> Json:
        """The satellites (connected ones, then those gone), the windows and the counters at `now`."""
        connected = {sat_id: _satellite(sat, True) for sat_id, sat in windows.satellites.items()}
        for sat_id, entry in connected.items():
            self.left[sat_id] = dict(entry, connected=False, contact=None)
        satellites = [connected.get(sat_id, entry) for sat_id, entry in sorted(self.left.items())]
        window = windows.window
        return {"sim_time": now, "sim_utc": iso(now), "window": _window(window),
                "next_window": None if window is not None else _window(windows.schedule.next_window(now)),
                "satellites": satellites, "counters": dict(counters)}
