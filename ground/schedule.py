"""Contact windows in simulated time: a fixed period, or the passes of a TLE over the station.

Both kinds answer the same two questions, `window_at(t)` and `next_window(t)`,
and number their windows stably from `clock.epoch`, so a restarted station
gives the same window the same id.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from sgp4.io import compute_checksum

from satedge.errors import UserError

if TYPE_CHECKING:
    from skyfield.timelib import Time

    from ground.config import LinkSection, StationSection


@dataclass(frozen=True)
class Window:
    """One contact window, [start, end) in simulated seconds; its id is stable across restarts."""

    id: int
    start: float
    end: float

    @property
    def duration(self) -> float:
        """Simulated seconds the window lasts."""
        return self.end - self.start


class Schedule(Protocol):
    """What the station asks of any kind of schedule."""

    def window_at(self, t: float) -> Window | None:
        """The window open at `t`, if any."""

    def next_window(self, t: float) -> Window | None:
        """The window open at `t`, else the first one after it (None: no more windows)."""


class PeriodicSchedule:
    """Window k (k >= 0, id k+1) spans [origin + k*period, origin + k*period + window)."""

    def __init__(self, origin: float, period_s: float, window_s: float):
        self.origin, self.period_s, self.window_s = origin, period_s, window_s

    def _window(self, k: int) -> Window:
        start = self.origin + k * self.period_s
        return Window(k + 1, start, start + self.window_s)

    def window_at(self, t: float) -> Window | None:
        """The window open at `t`, if any."""
        if t < self.origin:
            return None
        window = self._window(math.floor((t - self.origin) / self.period_s))
        return window if window.start <= t < window.end else None

    def next_window(self, t: float) -> Window | None:
        """The window open at `t`, else the first one after it."""
        if t < self.origin:
            return self._window(0)
        k = math.floor((t - self.origin) / self.period_s)
        window = self._window(k)
        return window if t < window.end else self._window(k + 1)


def check_tle(tle: list[str]) -> None:
    """skyfield parses nearly anything; check the line numbers, lengths and mod-10 checksums first."""
    for number, line in enumerate(tle, start=1):
        line = line.rstrip()
        if len(line) != 69 or not line.startswith(f"{number} ") or not line[68].isdigit():
            raise UserError(f"link.tle is not a valid two-line element set: line {number} must be 69 "
                            f"characters starting with '{number} ' (got {line[:20]!r}...)")
        checksum = compute_checksum(line)   # sgp4's mod-10 tally of the first 68 characters
        if checksum != int(line[68]):
            raise UserError(f"link.tle is not a valid two-line element set: line {number} checksum is "
                            f"{line[68]}, computed {checksum}")


class TleSchedule:
    """Passes above the elevation mask, found with skyfield in chunks of simulated time.

    `find_events` reports only what happens inside its search interval: a pass
    already under way at the start yields a culmination or set without a rise,
    one still under way at the end a rise without a set. So each chunk is
    searched with `pad_s` on both sides, rises are paired with the next set
    (lone events dropped), and a pass belongs to the chunk in which it rises:
    no pass at a chunk's edge is lost or counted twice.
    """

    def __init__(self, tle: list[str], lat: float, lon: float, alt_m: float, min_elevation_deg: float,
                 origin: float, chunk_s: float = 86400.0, pad_s: float = 6 * 3600.0,
                 horizon_s: float = 30 * 86400.0):
        from skyfield.api import EarthSatellite, load, wgs84

        self.ts = load.timescale(builtin=True)
        check_tle(tle)
        try:
            self.satellite = EarthSatellite(tle[0], tle[1], "satellite", self.ts)
        except (ValueError, IndexError) as exc:
            raise UserError(f"link.tle is not a valid two-line element set: {exc}") from None
        if self.satellite.model.error:
            raise UserError(f"link.tle: SGP4 cannot use these elements (error {self.satellite.model.error})")
        self.station = wgs84.latlon(lat, lon, elevation_m=alt_m)
        self.min_elevation_deg = min_elevation_deg
        self.origin, self.chunk_s, self.pad_s, self.horizon_s = origin, chunk_s, pad_s, horizon_s
        self._windows: list[Window] = []
        self._chunks_done = 0

    def _time(self, unix: float) -> Time:
        return self.ts.from_datetime(datetime.fromtimestamp(unix, tz=UTC))

    def _passes(self, t0: float, t1: float) -> list[tuple[float, float]]:
        times, events = self.satellite.find_events(
            self.station, self._time(t0), self._time(t1), altitude_degrees=self.min_elevation_deg)
        passes: list[tuple[float, float]] = []
        rise: float | None = None
        for t, kind in zip(times, events):
            unix = t.utc_datetime().timestamp()
            if kind == 0:
                rise = unix
            elif kind == 2 and rise is not None:
                passes.append((rise, unix))
                rise = None
        return passes

    def _compute_next_chunk(self) -> None:
        lo = self.origin + self._chunks_done * self.chunk_s
        hi = lo + self.chunk_s
        for rise, set_ in self._passes(lo - self.pad_s, hi + self.pad_s):
            if lo <= rise < hi:
                self._windows.append(Window(len(self._windows) + 1, rise, set_))
        self._chunks_done += 1

    def _covered_until(self) -> float:
        return self.origin + self._chunks_done * self.chunk_s

    def next_window(self, t: float) -> Window | None:
        """The pass under way at `t`, else the next one within `horizon_s`, else None."""
        t = max(t, self.origin)
        while True:
            ends = [w.end for w in self._windows]
            i = bisect.bisect_right(ends, t)
            if i < len(self._windows):
                return self._windows[i]
            if self._covered_until() > t + self.horizon_s:
                return None
            self._compute_next_chunk()

    def window_at(self, t: float) -> Window | None:
        """The pass under way at `t`, if any."""
        window = self.next_window(t)
        return window if window is not None and window.start <= t < window.end else None


def _periodic(link: LinkSection, station: StationSection, origin: float) -> PeriodicSchedule:
    return PeriodicSchedule(origin + link.offset_s, link.period_s, link.window_s)


def _tle(link: LinkSection, station: StationSection, origin: float) -> TleSchedule:
    if link.tle is None:  # LinkSection refuses schedule = "tle" without a TLE; a section built by hand may not
        raise UserError("schedule = 'tle' needs link.tle (a list of the two TLE lines)")
    return TleSchedule(link.tle, station.lat, station.lon, station.alt_m, link.min_elevation_deg, origin)


SCHEDULES: dict[str, Callable[[LinkSection, StationSection, float], Schedule]] = {
    "periodic": _periodic, "tle": _tle}


def build(link: LinkSection, station: StationSection, origin: float) -> Schedule:
    """The schedule `link.schedule` names, counted from `origin` (the run's `clock.epoch`)."""
    return SCHEDULES[link.schedule](link, station, origin)
