"""The link model: seeded frame loss and a one-way delay, in simulated time, both directions.

ZeroMQ on one machine delivers everything at once; this puts the radio back.
Frames are held in a time-ordered queue until their simulated arrival time.
"""

from __future__ import annotations

import heapq
import itertools
import random
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Send(Protocol):
    """How a part of the station puts a frame for one satellite on the link (encoded, maybe lost, delayed)."""

    def __call__(self, sat_id: str, now: float, t: str, /, **keys: object) -> None:
        """Send frame type `t` with `keys` to `sat_id`, stamped `now`; a lost frame is counted, not raised."""


class Link(Generic[T]):
    """One direction of the radio: each item is lost with probability `loss`, else arrives `delay_s` later."""

    def __init__(self, loss: float, delay_s: float, seed: int):
        self.loss, self.delay_s = loss, delay_s
        self._rng = random.Random(seed)
        self._queue: list[tuple[float, int, T]] = []
        self._order = itertools.count()

    def lost(self) -> bool:
        """Draw once: is this frame lost on the link?"""
        return self.loss > 0 and self._rng.random() < self.loss

    def put(self, now: float, item: T) -> None:
        """Send `item` across the link at `now`: it arrives `delay_s` later."""
        heapq.heappush(self._queue, (now + self.delay_s, next(self._order), item))

    def arrived(self, now: float) -> list[T]:
        """Everything whose arrival time has come, in order of sending."""
        out = []
        while self._queue and self._queue[0][0] <= now:
            out.append(heapq.heappop(self._queue)[2])
        return out

    def next_arrival(self) -> float | None:
        """When the next item arrives, so the loop can sleep until then and no longer."""
        return self._queue[0][0] if self._queue else None
