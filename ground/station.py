"""The ground station: one ROUTER, one loop, in simulated time.

Each turn of the loop opens or closes the contact window, grants credit,
delivers what the link model has let through (both ways), stores summaries,
then acks them. A bad frame is dropped and counted, never fatal. All state
that must survive a crash is in the store; what is in memory (credit,
counters since the last flush) is only this window's bookkeeping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import zmq
import zmq.auth

from ground.link import Link
from ground.schedule import Window, build
from ground.store import Store
from satedge import health, keys
from satedge.clock import SimClock
from satedge.errors import UserError
from satedge.logs import event
from satedge.protocol import SAT_TO_GROUND, FrameError, UnknownType, decode, encode

log = logging.getLogger("ground.station")

MAX_POLL_WALL_S = 0.05       # the loop looks at the clock at least this often
MIN_CREDIT_WALL_S = 0.01     # at most 100 credit frames per wall second per satellite
MIN_CMD_RETRY_WALL_S = 2.0   # a command's answer takes wall time (set_precision compiles a model)
REPLY_HELLO_WALL_S = 1.0     # the first `hello` this soon after an `aos` answers it; others are reconnects
COMMAND_CHECK_WALL_S = 0.25  # how often the store is asked for newly queued commands
FLUSH_WALL_S = 1.0           # how often drop counters go to the store


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
    id: str
    hello: dict
    contact: Contact | None = None
    aos_wall: float = -1e9    # when it was last sent an `aos` (wall clock) ...
    awaiting_reply: bool = False  # ... and whether its answering `hello` is still to come


@dataclass
class Arrival:
    sat: str
    msg: dict
    size: int


class Station:
    def __init__(self, cfg, clock: SimClock | None = None):
        self.cfg = cfg
        self.uplink = Link(cfg.link.loss, cfg.link.delay_s, cfg.link.seed)        # satellite -> ground
        self.downlink = Link(cfg.link.loss, cfg.link.delay_s, cfg.link.seed + 1)  # ground -> satellite
        self.store = Store(cfg.store.path)
        self.counters: Counter = Counter()
        self.unflushed: Counter = Counter()
        self.satellites: dict[str, Satellite] = {}
        self.gone: set[str] = set()  # satellites whose connection is gone: forgotten at the next turn
        self.window: Window | None = None
        self.closed_win: int | None = None
        self.stopping = False
        self.key_owners: dict[str, str] = {}
        self.allow_list_stamp: int | None = None
        self.reporter: threading.Thread | None = None
        self.ctx = zmq.Context()
        self.auth = None
        self.sock = self._bind()
        # Listening first: a run whose clock starts later (`clock.await_start`) finds the station up.
        self.clock = clock or SimClock.from_config(cfg.clock, waiting=lambda: health.waiting(cfg.store.path))
        self.schedule = build(cfg.link, cfg.station, self.clock.epoch)
        self.rate_bytes = cfg.link.rate_bps / 8.0
        self.credit_tick = max(cfg.link.credit_interval_s, MIN_CREDIT_WALL_S * self.clock.speedup)
        self.cmd_retry = max(cfg.link.cmd_retry_s, MIN_CMD_RETRY_WALL_S * self.clock.speedup)

    # ---- set-up ------------------------------------------------------------

    def _bind(self) -> zmq.Socket:
        sock = self.ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # an unreachable peer is an error we count, not silence
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)   # a restarted satellite takes its id back
        try:
            security = self.cfg.security
            if security.mode == "curve":
                keys_dir = Path(security.keys_dir)
                keys.secure_server(sock, keys_dir)
                self.auth = keys.start_authenticator(self.ctx, keys_dir)
                self._refresh_allow_list()
            else:
                event(log, "security.mode = none: satellites are not authenticated and frames are not "
                      "encrypted", logging.WARNING)
            try:
                sock.bind(self.cfg.station.bind)
            except zmq.ZMQError as exc:
                raise UserError(f"cannot bind station.bind = {self.cfg.station.bind}: {exc}") from None
        except BaseException:
            sock.close()
            self._stop_auth()
            self.ctx.term()
            self.store.close()
            raise
        return sock

    def _refresh_allow_list(self) -> None:
        """(Re)read the allow-list when its folder changes: satellites added later (a constellation
        scaled up, each replica making its key) are admitted without restarting the station."""
        allow_dir = keys.allow_list_dir(Path(self.cfg.security.keys_dir))
        stamp = allow_dir.stat().st_mtime_ns if allow_dir.exists() else None
        if stamp == self.allow_list_stamp:
            return
        self.allow_list_stamp = stamp
        self.key_owners = self._key_owners(allow_dir)
        self.auth.configure_curve(domain="*", location=str(allow_dir))
        event(log, "allow-list loaded", satellites=sorted(self.key_owners.values()))

    @staticmethod
    def _key_owners(allow_dir: Path) -> dict[str, str]:
        """z85 public key -> satellite id, from the allow-list's file names."""
        owners = {}
        for path in sorted(allow_dir.glob("*.key")):
            try:
                public, _ = zmq.auth.load_certificate(str(path))
            except (OSError, ValueError) as exc:
                raise UserError(f"cannot read CURVE public key {path}: {exc}") from None
            owners[public.decode("ascii")] = path.stem
        if not owners:
            event(log, "the CURVE allow-list is empty: no satellite can connect", logging.WARNING,
                  allow_list=str(allow_dir))
        return owners

    def _stop_auth(self) -> None:
        if self.auth is not None:
            self.auth.stop()
            self.auth = None

    # ---- the loop ----------------------------------------------------------

    def run(self) -> None:
        event(log, "station listening", bind=self.cfg.station.bind, schedule=self.cfg.link.schedule,
              security=self.cfg.security.mode, store=str(self.store.path))
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        next_credit = next_cmd_check = next_flush = 0.0
        next_status = time.monotonic() + self.cfg.log.status_interval_s
        try:
            while not self.stopping:
                now = self.clock.now()
                self._forget_gone(now)
                self._update_window(now)
                if now >= next_credit:
                    self._grant_credit(now)
                    next_credit = now + self.credit_tick
                wall = time.monotonic()
                if wall >= next_cmd_check:
                    self._send_commands(now)
                    next_cmd_check = wall + COMMAND_CHECK_WALL_S
                self._deliver(now)
                if wall >= next_flush:
                    self._flush_counters()
                    next_flush = wall + FLUSH_WALL_S
                    if self.clock.run_over():
                        event(log, "the run is over: stopping")
                        break
                if wall >= next_status:
                    self._status(now)
                    next_status = wall + self.cfg.log.status_interval_s
                if poller.poll(self._poll_ms(now, next_credit)):
                    self._receive(self.clock.now())
        finally:
            self.close()

    def _poll_ms(self, now: float, next_credit: float) -> int:
        deadlines = [next_credit]
        for link in (self.uplink, self.downlink):
            if link.next_arrival() is not None:
                deadlines.append(link.next_arrival())
        deadlines.append(self.window.end if self.window else self._next_start(now))
        wait = self.clock.wall_seconds(min(deadlines) - now)
        return int(1000 * min(max(wait, 0.0), MAX_POLL_WALL_S))

    def _next_start(self, now: float) -> float:
        upcoming = self.schedule.next_window(now)
        return upcoming.start if upcoming is not None else now + 1e9

    def close(self) -> None:
        now = self.clock.now()
        if self.window is not None:
            self._close_window(now, reason="shutdown")
        for sat_id, frame in self.downlink.arrived(float("inf")):  # going off the air: say LOS now
            self._transmit(sat_id, frame)
        self._flush_counters()
        if self.cfg.store.report_dir is not None:  # a last report of everything, written in full
            if self.reporter is not None:
                self.reporter.join(60)  # the one running may predate the last window
            self._write_report()
            self.reporter.join(60)
        self.sock.close(linger=0)
        self._stop_auth()
        self.ctx.term()
        self.store.close()
        event(log, "station stopped", **dict(self.counters))

    # ---- windows and credit ---------------------------------------------------

    def _update_window(self, now: float) -> None:
        if self.window is not None and now >= self.window.end:
            self._close_window(now)
        if self.window is None:
            window = self.schedule.window_at(now)
            if window is not None and window.id != self.closed_win:
                self._open_window(window, now)

    def _open_window(self, window: Window, now: float) -> None:
        self.window = window
        self.store.window(window.id, window.start, window.end)
        event(log, "AOS", win=window.id, start=round(window.start, 3), end=round(window.end, 3),
              satellites=len(self.satellites))
        for sat in self.satellites.values():
            self._start_contact(sat, now)

    def _start_contact(self, sat: Satellite, now: float) -> None:
        sat.contact = Contact(self.window.id, now)
        self._send_aos(sat, now)
        self._send_commands_to(sat, now)

    def _send_aos(self, sat: Satellite, now: float) -> None:
        sat.aos_wall, sat.awaiting_reply = time.monotonic(), True
        self._send(sat.id, now, "aos", win=self.window.id, until=self.window.end)

    def _close_window(self, now: float, reason: str = "LOS") -> None:
        window = self.window
        totals = Counter()
        for sat in self.satellites.values():
            if sat.contact is not None:
                self._send(sat.id, now, "los", win=window.id)
                totals.update(self._end_contact(sat))
        self._flush_counters()
        drops = {k: v for k, v in self.counters.items() if k.startswith("drop_")}
        event(log, reason, win=window.id, duration_s=round(window.duration, 1), **dict(totals), **drops)
        self.closed_win = window.id
        self.window = None
        self._write_report()

    def _write_report(self) -> None:
        """Rewrite the report after a window, off the loop (plots take a second), one at a time."""
        report_dir = self.cfg.store.report_dir
        if report_dir is None or (self.reporter is not None and self.reporter.is_alive()):
            return
        from ground.report import write_report

        def write() -> None:
            try:
                write_report(self.store.path, report_dir)
            except Exception as exc:  # a report is never worth the station
                event(log, "report failed", logging.ERROR, error=str(exc), out=str(report_dir))

        self.reporter = threading.Thread(target=write, name="report", daemon=True)
        self.reporter.start()

    def _end_contact(self, sat: Satellite) -> dict:
        """Write a satellite's pass totals for the window; return them."""
        c = sat.contact
        totals = dict(bytes_granted=c.granted, bytes_received=c.used, frames=c.frames, summaries=c.summaries,
                      duplicates=c.duplicates)
        self.store.add_pass(c.win, sat.id, **totals)
        sat.contact = None
        return dict(totals, satellites=1)

    def _forget_gone(self, now: float) -> None:
        """A satellite whose connection dropped says `hello` again when it is back."""
        for sat_id in self.gone:
            sat = self.satellites.pop(sat_id, None)
            if sat is not None:
                if sat.contact is not None:
                    self._end_contact(sat)
                event(log, "satellite left", sat=sat_id)
        self.gone.clear()

    def _grant_credit(self, now: float) -> None:
        for sat in self.satellites.values():
            contact = sat.contact
            if contact is None:
                continue
            target = int(self.rate_bytes * (now - contact.opened))
            if target > contact.granted:
                self._send(sat.id, now, "credit", win=contact.win, bytes=target - contact.granted)
                contact.granted = target

    # ---- commands ---------------------------------------------------------------

    def _send_commands(self, now: float) -> None:
        for sat in self.satellites.values():
            if sat.contact is not None:
                self._send_commands_to(sat, now)

    def _send_commands_to(self, sat: Satellite, now: float) -> None:
        """Every command without a result from `sat`: at the window's start, then every `cmd_retry`."""
        for cmd in self.store.pending_commands(sat.id):
            last = sat.contact.cmd_sent.get(cmd.id)
            if last is not None and now - last < self.cmd_retry:
                continue
            self._send(sat.id, now, "cmd", id=cmd.id, name=cmd.name, args=cmd.args)
            self.store.command_sent(cmd.id, sat.id, now)
            sat.contact.cmd_sent[cmd.id] = now
            event(log, "command sent", sat=sat.id, id=cmd.id, name=cmd.name, args=cmd.args)

    # ---- frames in ------------------------------------------------------------

    def _count(self, name: str) -> None:
        self.counters[name] += 1
        self.unflushed[name] += 1

    def _receive(self, now: float) -> None:
        """Take everything waiting on the socket and hand it to the link model."""
        for _ in range(1000):
            try:
                parts = self.sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            arrival = self._admit(parts)
            if arrival is None:
                continue
            if arrival.msg["t"] != "hello" and self.uplink.lost():
                self._count("lost_uplink")
                continue
            self.uplink.put(now, arrival)

    def _admit(self, parts) -> Arrival | None:
        """Authenticate and decode one message; None (counted) if it must be dropped."""
        if len(parts) != 2:
            self._count("drop_malformed")
            return None
        try:
            sat_id = parts[0].bytes.decode("utf-8")
        except UnicodeDecodeError:
            self._count("drop_malformed")
            return None
        if self.key_owners and self.key_owners.get(parts[1].get("User-Id")) != sat_id:
            self._count("drop_identity")  # a satellite's key may only speak for its own id
            return None
        frame = parts[1].bytes
        try:
            msg = decode(frame, SAT_TO_GROUND)
        except UnknownType:
            self._count("ignored_unknown_type")
            return None
        except FrameError as exc:
            self._count(f"drop_{exc.reason}")
            return None
        if msg["t"] == "hello" and msg["sat"] != sat_id:
            self._count("drop_identity")
            return None
        return Arrival(sat_id, msg, len(frame))

    def _deliver(self, now: float) -> None:
        """Hand out what the link has delivered by `now`, then store and ack summaries in one go."""
        for frame_sat, frame in self.downlink.arrived(now):
            self._transmit(frame_sat, frame)
        summaries = []
        for arrival in self.uplink.arrived(now):
            if arrival.msg["t"] == "hello":
                self._on_hello(arrival, now)
                continue
            sat = self.satellites.get(arrival.sat)
            contact = sat.contact if sat is not None else None
            if contact is None:
                self._count("drop_outside_window" if self.window is None or sat is not None
                            else "drop_no_hello")
                continue
            if contact.used + arrival.size > contact.granted:
                self._count("drop_over_credit")
                continue
            contact.used += arrival.size
            contact.frames += 1
            if arrival.msg["t"] == "summary":
                summaries.append(arrival)
            else:
                HANDLERS[arrival.msg["t"]](self, arrival, now)
        if summaries:
            self._store_and_ack(summaries, now)

    def _on_hello(self, arrival: Arrival, now: float) -> None:
        sat = self.satellites.get(arrival.sat)
        if sat is None:
            sat = self.satellites[arrival.sat] = Satellite(arrival.sat, arrival.msg)
            event(log, "satellite joined", sat=sat.id, model=arrival.msg["model"], prec=arrival.msg["prec"],
                  spooled=arrival.msg["spooled"], last_cmd=arrival.msg["last_cmd"])
        sat.hello = arrival.msg
        self.gone.discard(sat.id)
        if self.window is None:
            return
        if sat.contact is None or sat.contact.win != self.window.id:
            self._start_contact(sat, now)
        elif sat.awaiting_reply and time.monotonic() - sat.aos_wall < REPLY_HELLO_WALL_S:
            sat.awaiting_reply = False  # the `hello` that answers our `aos`
        else:
            self._send_aos(sat, now)  # (re)connected within the window: it needs the window's aos

    def _store_and_ack(self, arrivals: list[Arrival], now: float) -> None:
        rows = [dict(satellite=a.sat, seq=a.msg["seq"], prio=a.msg["prio"], body=a.msg["body"],
                     received=now, win=self.window.id, bytes=a.size) for a in arrivals]
        fresh = self.store.add_summaries(rows)  # committed before any ack goes out
        acks: dict[str, list[int]] = {}
        for arrival, new in zip(arrivals, fresh):
            contact = self.satellites[arrival.sat].contact
            if new:
                contact.summaries += 1
            else:
                contact.duplicates += 1
                self._count("duplicates")
                self._count(f"duplicates.{arrival.sat}")
            acks.setdefault(arrival.sat, []).append(arrival.msg["seq"])
        for sat_id, seqs in acks.items():
            self._send(sat_id, now, "ack", seqs=seqs)

    def _on_cmd_result(self, arrival: Arrival, now: float) -> None:
        msg = arrival.msg
        if not self.store.command_result(msg["id"], arrival.sat, msg["ok"], msg["detail"], now):
            self._count("ignored_unknown_command")
            return
        event(log, "command result", sat=arrival.sat, id=msg["id"], ok=msg["ok"], detail=msg["detail"])

    def _on_telemetry(self, arrival: Arrival, now: float) -> None:
        # A free map from the satellite: nested, so its keys can never collide with the log call's.
        fields = {k: v for k, v in arrival.msg.items() if k not in ("v", "t", "ts")}
        event(log, "telemetry", logging.DEBUG, sat=arrival.sat, telemetry=fields)

    # ---- frames out -------------------------------------------------------------

    def _send(self, sat_id: str, now: float, t: str, **keys) -> None:
        frame = encode(t, now, **keys)
        if self.downlink.lost():
            self._count("lost_downlink")
            return
        if self.cfg.link.delay_s == 0:
            self._transmit(sat_id, frame)
        else:
            self.downlink.put(now, (sat_id, frame))

    def _transmit(self, sat_id: str, frame: bytes) -> None:
        try:
            self.sock.send_multipart([sat_id.encode(), frame], zmq.NOBLOCK)
        except zmq.ZMQError as exc:  # peer gone (ROUTER_MANDATORY) or its queue full
            self._count("unroutable")
            if exc.errno == zmq.EHOSTUNREACH:
                self.gone.add(sat_id)

    # ---- bookkeeping ------------------------------------------------------------

    def _flush_counters(self) -> None:
        self.store.add_counters(dict(self.unflushed))
        self.unflushed.clear()

    def _status(self, now: float) -> None:
        if self.auth is not None:
            try:
                self._refresh_allow_list()
            except UserError as exc:  # a key being written right now: try again next time
                self.allow_list_stamp = None
                event(log, "allow-list not reloaded", logging.WARNING, error=str(exc))
        health.beat(health.heartbeat_path(self.store.path), {"sim_time": now, "win": self.window and self.window.id})
        upcoming = self.schedule.next_window(now)
        event(log, "status", sim_time=round(now, 1), win=self.window.id if self.window else None,
              next_aos=round(upcoming.start, 1) if upcoming and not self.window else None,
              satellites=len(self.satellites), **dict(self.counters))


HANDLERS = {
    "cmd_result": Station._on_cmd_result,
    "telemetry": Station._on_telemetry,
}
