"""Contact windows and credit: which window is open, who is in contact in it, what each may send.

The link is a shared, scarce resource that exists only during a pass, so the
station meters it per satellite: a contact begins at AOS (or at a `hello`
within the window), earns credit at the link rate from that moment, and is
charged for every frame it sends; at LOS the contact's totals go to the
store and its unspent credit expires. Nothing here touches a socket: frames
leave through the `Send` it is given, so each rule can be tested on its own.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ground.counters import Counters
from ground.link import Send
from ground.schedule import Schedule, Window
from ground.store import Store
from satedge.logs import event
from satedge.protocol import Message

# Every station event keeps the one logger name it always had: readers of the log select by it.
log = logging.getLogger("ground.station")

MIN_CREDIT_WALL_S = 0.01     # at most 100 credit frames per wall second per satellite
REPLY_HELLO_WALL_S = 1.0     # the first `hello` this soon after an `aos` answers it; others are reconnects


def credit_interval(credit_interval_s: float, speedup: float) -> float:
    """Simulated seconds between credit frames: as configured, but never more than 100 per wall second."""
    return max(credit_interval_s, MIN_CREDIT_WALL_S * speedup)


@dataclass
class Contact:
    """One satellite's share of the open window: what was granted and what it spent."""

    win: int
    opened: float
    granted: int = 0
    used: int = 0
    frames: int = 0
    summaries: int = 0
    duplicates: int = 0
    cmd_sent: dict[int, float] = field(default_factory=dict)


@dataclass
class Satellite:
    """A satellite the station has had a `hello` from, until its connection is gone."""

    id: str
    hello: Message
    contact: Contact | None = None
    aos_wall: float = -1e9    # when it was last sent an `aos` (wall clock) ...
    awaiting_reply: bool = False  # ... and whether its answering `hello` is still to come


class Windows:
    """Opens and closes windows on the schedule, keeps each satellite's contact, grants and charges credit."""

    def __init__(self, schedule: Schedule, rate_bps: float, store: Store, send: Send, counters: Counters,
                 on_contact: Callable[[Satellite, float], None] | None = None,
                 wall: Callable[[], float] = time.monotonic):
        self.schedule = schedule
        self.rate_bytes = rate_bps / 8.0
        self.store, self.send, self.counters = store, send, counters
        self.on_contact = on_contact   # told of every contact that begins (the commands go out then)
        self.wall = wall
        self.satellites: dict[str, Satellite] = {}
        self.gone: set[str] = set()  # satellites whose connection is gone: forgotten at the next turn
        self.window: Window | None = None
        self.closed_win: int | None = None

    # ---- windows ---------------------------------------------------------------

    def update(self, now: float) -> Window | None:
        """Close the window that has ended and open the one that has begun; the window closed, if any."""
        closed = None
        if self.window is not None and now >= self.window.end:
            closed = self.close(now)
        if self.window is None:
            window = self.schedule.window_at(now)
            if window is not None and window.id != self.closed_win:
                self.open(window, now)
        return closed

    def open(self, window: Window, now: float) -> None:
        """AOS: record the window, and begin a contact with every satellite known so far."""
        self.window = window
        self.store.window(window.id, window.start, window.end)
        event(log, "AOS", win=window.id, start=round(window.start, 3), end=round(window.end, 3),
              satellites=len(self.satellites))
        for sat in self.satellites.values():
            self._start_contact(sat, window, now)

    def close(self, now: float, reason: str = "LOS") -> Window | None:
        """LOS (or shutdown): `los` to each contact, pass totals and counters to the store, one line logged."""
        window = self.window
        if window is None:
            return None
        totals: Counter[str] = Counter()
        for sat in self.satellites.values():
            if sat.contact is not None:
                self.send(sat.id, now, "los", win=window.id)
                totals.update(self._end_contact(sat, sat.contact))
        self.counters.flush(self.store)
        event(log, reason, win=window.id, duration_s=round(window.duration, 1), **dict(totals),
              **self.counters.drops())
        self.closed_win = window.id
        self.window = None
        return window

    def next_change(self, now: float) -> float:
        """When the open window ends, else when the next one begins: the loop must not sleep past it."""
        if self.window is not None:
            return self.window.end
        upcoming = self.schedule.next_window(now)
        return upcoming.start if upcoming is not None else now + 1e9

    # ---- satellites and their contacts ------------------------------------------

    def in_contact(self) -> Iterator[Satellite]:
        """The satellites with a contact in the open window."""
        return (sat for sat in self.satellites.values() if sat.contact is not None)

    def hello(self, sat_id: str, msg: Message, now: float) -> None:
        """A `hello`: a new satellite joins; within a window it is given the window's `aos` unless it answers one."""
        sat = self.satellites.get(sat_id)
        if sat is None:
            sat = self.satellites[sat_id] = Satellite(sat_id, msg)
            event(log, "satellite joined", sat=sat.id, model=msg["model"], prec=msg["prec"],
                  spooled=msg["spooled"], last_cmd=msg["last_cmd"])
        sat.hello = msg
        self.gone.discard(sat.id)
        window = self.window
        if window is None:
            return
        if sat.contact is None or sat.contact.win != window.id:
            self._start_contact(sat, window, now)
        elif sat.awaiting_reply and self.wall() - sat.aos_wall < REPLY_HELLO_WALL_S:
            sat.awaiting_reply = False  # the `hello` that answers our `aos`
        else:
            self._send_aos(sat, window, now)  # (re)connected within the window: it needs the window's aos

    def forget_gone(self) -> None:
        """Forget satellites whose connection dropped (their pass totals written): they say `hello` when back."""
        for sat_id in self.gone:
            sat = self.satellites.pop(sat_id, None)
            if sat is not None:
                if sat.contact is not None:
                    self._end_contact(sat, sat.contact)
                event(log, "satellite left", sat=sat_id)
        self.gone.clear()

    def _start_contact(self, sat: Satellite, window: Window, now: float) -> None:
        sat.contact = Contact(window.id, now)
        self._send_aos(sat, window, now)
        if self.on_contact is not None:
            self.on_contact(sat, now)

    def _send_aos(self, sat: Satellite, window: Window, now: float) -> None:
        sat.aos_wall, sat.awaiting_reply = self.wall(), True
        self.send(sat.id, now, "aos", win=window.id, until=window.end)

    def _end_contact(self, sat: Satellite, contact: Contact) -> dict[str, int]:
        """Write a satellite's pass totals for the window; return them."""
        totals = dict(bytes_granted=contact.granted, bytes_received=contact.used, frames=contact.frames,
                      summaries=contact.summaries, duplicates=contact.duplicates)
        self.store.add_pass(contact.win, sat.id, **totals)
        sat.contact = None
        return dict(totals, satellites=1)

    # ---- credit ------------------------------------------------------------------

    def credit_due(self, contact: Contact, now: float) -> int:
        """Bytes to grant now so that the total follows the link rate since the contact began."""
        return max(0, int(self.rate_bytes * (now - contact.opened)) - contact.granted)

    def grant(self, now: float) -> None:
        """Send each contact the credit it has earned since the last grant (none outside a window)."""
        for sat in self.satellites.values():
            contact = sat.contact
            if contact is None:
                continue
            due = self.credit_due(contact, now)
            if due > 0:
                self.send(sat.id, now, "credit", win=contact.win, bytes=due)
                contact.granted += due

    def charge(self, sat_id: str, size: int) -> Contact | None:
        """Charge a frame of `size` bytes to its sender's contact; None (counted) if it must be dropped."""
        sat = self.satellites.get(sat_id)
        contact = sat.contact if sat is not None else None
        if contact is None:
            self.counters.count("drop_outside_window" if self.window is None or sat is not None
                                else "drop_no_hello")
            return None
        if contact.used + size > contact.granted:
            self.counters.count("drop_over_credit")
            return None
        contact.used += size
        contact.frames += 1
        return contact
