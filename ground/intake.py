"""Frames in: admit (authenticate, decode), then deliver what the link let through.

Anything a satellite, or anyone else, sends is untrusted: a frame that fails
a check is dropped and counted under the check's name (docs/ground.md,
"Receive"), never fatal. Admission happens as a message is read off the
socket; delivery happens after the link model's delay, against the window
and credit of that moment. Summaries delivered in one turn are stored in one
transaction and acknowledged only once it is committed, so an ack always
means "on disk"; a duplicate is acknowledged again but not stored twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ground.allow_list import AllowList
from ground.counters import Counters
from ground.link import Send
from ground.store import Store, SummaryRow
from ground.windows import Contact, Windows
from satedge.logs import event
from satedge.protocol import SAT_TO_GROUND, FrameError, Message, UnknownType, decode

# Every station event keeps the one logger name it always had: readers of the log select by it.
log = logging.getLogger("ground.station")


class Part(Protocol):
    """One part of a received multipart message, as a `zmq.Frame` gives it: its bytes and its metadata."""

    @property
    def bytes(self) -> bytes:
        """The part's payload."""

    def get(self, option: str) -> int | str:
        """A message property, such as the CURVE "User-Id" (raises if the socket has none)."""


@dataclass
class Arrival:
    """An admitted frame on its way through the link model: who sent it, what it says, its encoded size."""

    sat: str
    msg: Message
    size: int


class Intake:
    """Admits frames from the socket and delivers them: hellos, summaries (stored, then acked), results."""

    def __init__(self, windows: Windows, store: Store, send: Send, counters: Counters,
                 allow_list: AllowList | None = None):
        self.windows, self.store, self.send, self.counters = windows, store, send, counters
        self.allow_list = allow_list   # None: no CURVE, so no key to check an id against
        self.handlers: dict[str, Callable[[Arrival, float], None]] = {
            "cmd_result": self._on_cmd_result,
            "telemetry": self._on_telemetry,
        }

    def admit(self, parts: Sequence[Part]) -> Arrival | None:
        """Authenticate and decode one message `[routing id, frame]`; None (counted) if it must be dropped."""
        if len(parts) != 2:
            self.counters.count("drop_malformed")
            return None
        try:
            sat_id = parts[0].bytes.decode("utf-8")
        except UnicodeDecodeError:
            self.counters.count("drop_malformed")
            return None
        allow_list = self.allow_list
        if allow_list is not None and allow_list.owners and not allow_list.speaks_for(parts[1].get("User-Id"), sat_id):
            self.counters.count("drop_identity")  # a satellite's key may only speak for its own id
            return None
        frame = parts[1].bytes
        try:
            msg = decode(frame, SAT_TO_GROUND)
        except UnknownType:
            self.counters.count("ignored_unknown_type")
            return None
        except FrameError as exc:
            self.counters.count(f"drop_{exc.reason}")
            return None
        if msg["t"] == "hello" and msg["sat"] != sat_id:
            self.counters.count("drop_identity")
            return None
        return Arrival(sat_id, msg, len(frame))

    def deliver(self, arrivals: Iterable[Arrival], now: float) -> None:
        """Hand out frames the link has delivered by `now`, then store and ack their summaries in one go."""
        summaries: list[tuple[Arrival, Contact]] = []
        for arrival in arrivals:
            if arrival.msg["t"] == "hello":  # exempt from windows and credit: it stands for link acquisition
                self.windows.hello(arrival.sat, arrival.msg, now)
                continue
            contact = self.windows.charge(arrival.sat, arrival.size)
            if contact is None:
                continue
            if arrival.msg["t"] == "summary":
                summaries.append((arrival, contact))
            else:
                self.handlers[arrival.msg["t"]](arrival, now)
        if summaries:
            self._store_and_ack(summaries, now)

    def _spool_inc(self, sat_id: str) -> int:
        """The incarnation of the satellite's spool, from its last `hello` (0 if it sent none)."""
        sat = self.windows.satellites.get(sat_id)
        inc: int = sat.hello.get("inc", 0) if sat is not None else 0
        return inc

    def _store_and_ack(self, summaries: list[tuple[Arrival, Contact]], now: float) -> None:
        rows = [SummaryRow(satellite=a.sat, inc=self._spool_inc(a.sat), seq=a.msg["seq"], prio=a.msg["prio"],
                           body=a.msg["body"], received=now, win=contact.win, bytes=a.size) for a, contact in summaries]
        fresh = self.store.add_summaries(rows)  # committed before any ack goes out
        acks: dict[tuple[str, int], list[int]] = {}
        for (arrival, contact), row, new in zip(summaries, rows, fresh):
            if new:
                contact.summaries += 1
            else:
                contact.duplicates += 1
                self.counters.count("duplicates")
                self.counters.count(f"duplicates.{arrival.sat}")
            acks.setdefault((arrival.sat, row.get("inc", 0)), []).append(arrival.msg["seq"])
        for (sat_id, inc), seqs in acks.items():
            self.send(sat_id, now, "ack", seqs=seqs, **({"inc": inc} if inc else {}))

    def _on_cmd_result(self, arrival: Arrival, now: float) -> None:
        msg = arrival.msg
        if msg.get("inc", self.store.inc) != self.store.inc:   # the answer to a store this one replaced
            self.counters.count("ignored_other_store")
            return
        if not self.store.command_result(msg["id"], arrival.sat, msg["ok"], msg["detail"], now):
            self.counters.count("ignored_unknown_command")
            return
        event(log, "command result", sat=arrival.sat, id=msg["id"], ok=msg["ok"], detail=msg["detail"])

    def _on_telemetry(self, arrival: Arrival, now: float) -> None:
        # A free map from the satellite: nested, so its keys can never collide with the log call's.
        fields = {k: v for k, v in arrival.msg.items() if k not in ("v", "t", "ts")}
        event(log, "telemetry", logging.DEBUG, sat=arrival.sat, telemetry=fields)
