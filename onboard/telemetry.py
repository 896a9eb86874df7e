"""Counters and gauges of the daemon, shared by its threads; the `telemetry` frame and the status line."""

from __future__ import annotations

import collections
import threading
import time

# Counters only ever grow; gauges are set. Both are listed so the status line and the frame
# always carry every field (a missing field would read as "not measured").
COUNTERS = ("scenes_in", "scenes_out", "scenes_skipped", "quarantined", "tiles", "acked", "frames_sent",
            "bytes_sent", "resent", "frames_dropped", "frames_unknown", "commands", "swaps")
GAUGES = {"tiles_per_s": 0.0, "queue_depth": 0, "in_flight": 0, "spool_summaries": 0, "spool_bytes": 0,
          "spool_evicted": 0, "precision": "", "last_swap_s": 0.0, "credit": 0, "window": -1, "connected": False}
RATE_WINDOW_S = 10.0


class Telemetry:
    def __init__(self):
        self._lock = threading.Lock()
        self.values: dict = {name: 0 for name in COUNTERS} | dict(GAUGES)
        self._tiles = collections.deque()   # (monotonic, tiles finished then)
        self.started = time.monotonic()

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.values[name] += n

    def gauge(self, **values) -> None:
        with self._lock:
            self.values.update(values)

    def tiles_done(self, n: int) -> None:
        now = time.monotonic()
        with self._lock:
            self.values["tiles"] += n
            self._tiles.append((now, n))
            self._forget(now)

    def _forget(self, now: float) -> None:
        while self._tiles and now - self._tiles[0][0] > RATE_WINDOW_S:
            self._tiles.popleft()

    def snapshot(self) -> dict:
        """Every counter and gauge; tiles/s is over the last RATE_WINDOW_S wall seconds, idle time included."""
        now = time.monotonic()
        with self._lock:
            self._forget(now)
            values = dict(self.values)
            span = min(RATE_WINDOW_S, max(now - self.started, 1e-3))
            values["tiles_per_s"] = round(sum(n for _, n in self._tiles) / span, 1)
        values["uptime_s"] = round(now - self.started, 1)
        return values
