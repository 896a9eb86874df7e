"""Simulated time shared by every process of a run (docs/architecture.md, "Simulated time").

sim_time = epoch + (wall_now - start) * speedup, with `start` the wall-clock
instant at which simulated time equals `epoch`. Every process of a run gets
the same three numbers; within a process the monotonic clock is used so that
a wall-clock step cannot make simulated time jump.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from satedge.config import ClockSection


@dataclass(frozen=True)
class SimClock:
    """One run's simulated time, read from the monotonic clock so a wall-clock step cannot make it jump."""

    epoch: float
    start: float
    speedup: float = 1.0
    end_file: Path | None = None
    _mono0: float = field(init=False, repr=False, compare=False)
    _born: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        now = time.time()
        object.__setattr__(self, "_mono0", time.monotonic() - (now - self.start))
        object.__setattr__(self, "_born", now)

    @classmethod
    def from_config(cls, clock: ClockSection, waiting: Callable[[], None] | None = None) -> SimClock:
        """From a `ClockSection`; unset `epoch`/`start` mean now (or the shared `start_file`).

        With `await_start`, blocks until another process writes `start_file`,
        calling `waiting` about once a second (a daemon keeps its heartbeat).
        """
        now = time.time()
        start = clock.start
        if start is None and clock.start_file is not None:
            if clock.await_start:
                start = awaited_start(Path(clock.start_file), waiting or (lambda: None))
            else:
                start = shared_start(Path(clock.start_file), now)
        return cls(epoch=clock.epoch if clock.epoch is not None else now,
                   start=start if start is not None else now,
                   speedup=clock.speedup, end_file=clock.end_file)

    def now(self) -> float:
        """Simulated seconds since the Unix epoch."""
        return self.epoch + (time.monotonic() - self._mono0) * self.speedup

    def run_over(self) -> bool:
        """Whether whoever ends the run (mission control) marked `end_file` since this clock was made.

        Only a mark newer than the process counts: a run started again on the
        volumes of an ended one runs until it is marked ended again.
        """
        if self.end_file is None:
            return False
        try:
            return os.stat(self.end_file).st_mtime > self._born
        except OSError:
            return False

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


def awaited_start(path: Path, waiting: Callable[[], None], poll_s: float = 1.0) -> float:
    """The run's start from `path`, once whoever starts the run has written it."""
    while True:
        try:
            return float(path.read_text())
        except FileNotFoundError:
            waiting()
            time.sleep(poll_s)
        except (OSError, ValueError) as exc:
            from satedge.errors import UserError
            raise UserError(f"cannot read the run's clock start {path}: {exc}") from None
