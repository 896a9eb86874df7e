"""Simulated time shared by every process of a run (DESIGN.md, "Simulated time").

sim_time = epoch + (wall_now - start) * speedup, with `start` the wall-clock
instant at which simulated time equals `epoch`. Every process of a run gets
the same three numbers; within a process the monotonic clock is used so that
a wall-clock step cannot make simulated time jump.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SimClock:
    epoch: float
    start: float
    speedup: float = 1.0
    _mono0: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        elapsed = time.time() - self.start
        object.__setattr__(self, "_mono0", time.monotonic() - elapsed)

    @classmethod
    def from_config(cls, clock) -> "SimClock":
        """From a `ClockSection`; unset `epoch`/`start` mean now (or the shared `start_file`)."""
        now = time.time()
        start = clock.start
        if start is None and clock.start_file is not None:
            start = shared_start(Path(clock.start_file), now)
        return cls(epoch=clock.epoch if clock.epoch is not None else now,
                   start=start if start is not None else now,
                   speedup=clock.speedup)

    def now(self) -> float:
        """Simulated seconds since the Unix epoch."""
        return self.epoch + (time.monotonic() - self._mono0) * self.speedup

    def wall_seconds(self, sim_seconds: float) -> float:
        """How long `sim_seconds` of simulated time last on the wall clock."""
        return sim_seconds / self.speedup

    def sleep_until(self, sim_time: float, max_wall: float | None = None) -> None:
        """Sleep until simulated time reaches `sim_time` (or `max_wall` seconds pass)."""
        wait = self.wall_seconds(sim_time - self.now())
        if max_wall is not None:
            wait = min(wait, max_wall)
        if wait > 0:
            time.sleep(wait)


def shared_start(path: Path, now: float) -> float:
    """The run's start from `path`; the first process to get here writes `now` (atomically, once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".start-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(repr(now))
        os.link(tmp, path)  # fails if another process was first
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return float(path.read_text())
