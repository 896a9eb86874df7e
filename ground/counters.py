"""The station's counters (drops, losses, duplicates): totals for the log, deltas for the store.

The status line and the shutdown event print what this process has counted
since it started; the store keeps the totals of every run, so it is given
only what it has not had yet, and a restarted station adds to them.
"""

from __future__ import annotations

from collections import Counter

from ground.store import Store


class Counters:
    """Counts since start, and the part of them not yet flushed to the store."""

    def __init__(self) -> None:
        self.total: Counter[str] = Counter()
        self.unflushed: Counter[str] = Counter()

    def count(self, name: str) -> None:
        """One more of `name`: a frame dropped, lost, duplicated or unroutable."""
        self.total[name] += 1
        self.unflushed[name] += 1

    def flush(self, store: Store) -> None:
        """Add what was counted since the last flush to the store's totals."""
        store.add_counters(dict(self.unflushed))
        self.unflushed.clear()

    def drops(self) -> dict[str, int]:
        """The `drop_*` totals, for the line logged at each LOS."""
        return {k: v for k, v in self.total.items() if k.startswith("drop_")}
