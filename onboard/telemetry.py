"""Counters and gauges of the daemon, shared by its threads; the `telemetry` frame and the status line."""

from __future__ import annotations

import collections
import threading
import time
from typing import cast

Value = int | float | str | bool   # what a counter or gauge holds: a scalar the frame and the log line can carry

# Counters only ever grow; gauges are set. Both are listed so the status line and the frame
# always carry every field (a missing field would read as "not measured").
COUNTERS = ("scenes_in", "scenes_out", "scenes_skipped", "quarantined", "tiles", "acked", "frames_sent",
            "bytes_sent", "resent", "frames_dropped", "frames_unknown", "acks_ignored", "commands", "swaps",
            "scenes_ood")
GAUGES: dict[str, Value] = {
    "tiles_per_s": 0.0, "queue_depth": 0, "in_flight": 0, "spool_summaries": 0, "spool_bytes": 0, "spool_evicted": 0,
    "precision": "", "last_swap_s": 0.0, "credit": 0, "window": -1, "connected": False}
RATE_WINDOW_S = 10.0


class Telemetry:
    """Every counter and gauge in one dict under one lock, so any thread may update it and a snapshot is whole."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, Value] = {name: 0 for name in COUNTERS} | dict(GAUGES)
        self._tiles: collections.deque[tuple[float, int]] = collections.deque()   # (monotonic, tiles finished then)
        self.started = time.monotonic()

    def count(self, name: str, n: int = 1) -> None:
        """Add `n` to a counter; any thread may call it."""
        with self._lock:
            self._add(name, n)

    def gauge(self, **values: Value) -> None:
        """Overwrite the gauges named; the others keep their last value."""
        with self._lock:
            self.values.update(values)

    def tiles_done(self, n: int) -> None:
        """Count `n` inferred tiles, and remember when, for `tiles_per_s`."""
        now = time.monotonic()
        with self._lock:
            self._add("tiles", n)
            self._tiles.append((now, n))
            self._forget(now)

    def _add(self, name: str, n: int) -> None:
        self.values[name] = cast(int, self.values[name]) + n   # a counter: an int since its first 0

    def _forget(self, now: float) -> None:
        while self._tiles and now - self._tiles[0][0] > RATE_WINDOW_S:
            self._tiles.popleft()

    def snapshot(self) -> dict[str, Value]:
        """Every counter and gauge; tiles/s is over the last RATE_WINDOW_S wall seconds, idle time included."""
        now = time.monotonic()
        with self._lock:
            self._forget(now)
            values = dict(self.values)
            span = min(RATE_WINDOW_S, max(now - self.started, 1e-3))
            values["tiles_per_s"] = round(sum(n for _, n in self._tiles) / span, 1)
        values["uptime_s"] = round(now - self.started, 1)
        return values
