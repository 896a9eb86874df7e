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
        self.routes: dict[str, bytes] = {}   # satellite id -> routing id its authenticated hello came on
        self.peers: dict[bytes, str] = {}    # and back
        self.handlers: dict[str, Callable[[Arrival, float], None]] = {
            "cmd_result": self._on_cmd_result,
            "telemetry": self._on_telemetry,
        }

    def admit(self, parts: Sequence[Part]) -> Arrival | None:
        """Authenticate and decode one message `[routing id, frame]`; None (counted) if it must be dropped.

        Who sent it is decided by its key, not by the routing id the peer may have chosen: a `hello` binds its
        routing id to its `sat` only if the connection's CURVE key (ZAP User-Id) is filed under that id, and
        every later frame is that satellite's only if it comes from that route with that key. A routing id a
        peer chose itself must be its satellite id; one libzmq generated (first byte 0) is bound by the hello.
        """
        if len(parts) != 2:
            self.counters.count("drop_malformed")
            return None
        routing = parts[0].bytes
        frame = parts[1].bytes
        try:
            msg = decode(frame, SAT_TO_GROUND)
        except UnknownType:
            self.counters.count("ignored_unknown_type")
            return None
        except FrameError as exc:
            self.counters.count(f"drop_{exc.reason}")
            return None
        chosen = not routing.startswith(b"\0")   # libzmq's own ids start with a zero byte; a peer's cannot
        try:
            named = routing.decode("utf-8") if chosen else None
        except UnicodeDecodeError:
            self.counters.count("drop_malformed")
            return None
        sat_id = msg["sat"] if msg["t"] == "hello" else self.peers.get(routing, named)
        allow_list = self.allow_list
        if (sat_id is None or (chosen and named != sat_id)
                or (allow_list is not None and allow_list.owners
                    and not allow_list.speaks_for(parts[1].get("User-Id"), sat_id))):
            self.counters.count("drop_identity")  # a key speaks only for its own id, and only on its own route
            return None
        if msg["t"] == "hello":
            self._bind(sat_id, routing)
        return Arrival(sat_id, msg, len(frame))

    def _bind(self, sat_id: str, routing: bytes) -> None:
        """The route to `sat_id` is the one its authenticated `hello` came on (a reconnect moves it)."""
        old = self.routes.get(sat_id)
        if old is not None and old != routing:
            self.peers.pop(old, None)
        self.routes[sat_id] = routing
        self.peers[routing] = sat_id

    def route(self, sat_id: str) -> bytes:
        """The routing id frames for `sat_id` go to: its authenticated route, else its id (before any hello)."""
        return self.routes.get(sat_id, sat_id.encode())

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
