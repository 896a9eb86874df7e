"""The ground station: one ROUTER, one loop, in simulated time.

Each turn of the loop opens or closes the contact window, grants credit,
delivers what the link model has let through (both ways), stores summaries,
then acks them. A bad frame is dropped and counted, never fatal. All state
that must survive a crash is in the store; what is in memory (credit,
counters since the last flush) is only this window's bookkeeping.

The work is done by parts that never touch the socket, so each can be tested
on its own: `windows` (which window is open, contacts, credit), `intake`
(admit, decode, deliver: store and ack), `uplink` (which command to send to
whom, and when), `reporter` (the report rewritten off the loop) and
`allow_list` (which key may speak for which satellite). `Station` owns the
socket, the clock and the link model, and turns the loop. With `console.bind`
set, the web console (`ground/console`) runs on its own thread; the loop only
hands it a snapshot now and then, so no browser can hold the loop up.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

import zmq

from ground.allow_list import AllowList
from ground.config import GroundConfig
from ground.counters import Counters
from ground.intake import Arrival, Intake
from ground.link import Link
from ground.reporter import Reporter
from ground.schedule import build
from ground.store import Store
from ground.uplink import CommandUplink, retry_interval
from ground.windows import Satellite, Windows, credit_interval
from satedge import health, keys
from satedge.clock import SimClock
from satedge.errors import UserError
from satedge.logs import event
from satedge.protocol import encode

if TYPE_CHECKING:
    from zmq.auth.thread import ThreadAuthenticator

    from ground.console.server import Console

log = logging.getLogger("ground.station")

MAX_POLL_WALL_S = 0.05       # the loop looks at the clock at least this often
COMMAND_CHECK_WALL_S = 0.25  # how often the store is asked for newly queued commands
FLUSH_WALL_S = 1.0           # how often drop counters go to the store
HEARTBEAT_IVL_MS, HEARTBEAT_TIMEOUT_MS = 2000, 10000   # ZMTP pings: a silent dead peer's socket is closed


class Station:
    """The loop: owns the ROUTER socket, the clock and the link model, and wires the parts that do the work."""

    def __init__(self, cfg: GroundConfig, clock: SimClock | None = None):
        self.cfg = cfg
        self.console = self._start_console()   # first: a console port in use stops the start, nothing opened yet
        self.uplink: Link[Arrival] = Link(cfg.link.loss, cfg.link.delay_s, cfg.link.seed)  # satellite -> ground
        self.downlink: Link[tuple[str, bytes]] = Link(cfg.link.loss, cfg.link.delay_s,
                                                      cfg.link.seed + 1)  # ground -> satellite
        self.store = Store(cfg.store.path)
        self.counters = Counters()
        self.stopping = False
        self.allow_list: AllowList | None = None
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.auth: ThreadAuthenticator | None = None
        self.sock = self._bind()
        # Listening first: a run whose clock starts later (`clock.await_start`) finds the station up.
        self.clock = clock or SimClock.from_config(cfg.clock, waiting=lambda: health.waiting(cfg.store.path))
        self.reporter = Reporter(self.store.path, cfg.store.report_dir)
        self.commands = CommandUplink(self.store, self._send, retry_interval(cfg.link.cmd_retry_s, self.clock.speedup))
        self.windows = Windows(build(cfg.link, cfg.station, self.clock.epoch), cfg.link.rate_bps, self.store,
                               self._send, self.counters, on_contact=self.commands.send_to)
        self.intake = Intake(self.windows, self.store, self._send, self.counters, self.allow_list)
        self.credit_tick = credit_interval(cfg.link.credit_interval_s, self.clock.speedup)

    @property
    def satellites(self) -> dict[str, Satellite]:
        """The satellites the station has had a `hello` from (the windows part keeps them)."""
        return self.windows.satellites

    # ---- set-up ------------------------------------------------------------

    def _bind(self) -> zmq.Socket[bytes]:
        sock = self.ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # an unreachable peer is an error we count, not silence
        # A satellite that names its own routing id (older versions; tests' minimal ones) takes it back when it
        # restarts. Ours let libzmq pick one, so no peer can take theirs over: their route is bound to their key
        # by their hello (Intake.admit). Heartbeats close a connection whose peer vanished without a FIN.
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
        try:
            security = self.cfg.security
            if security.mode == "curve":
                keys_dir = Path(security.keys_dir)
                keys.secure_server(sock, keys_dir)
                auth = self.auth = keys.start_authenticator(self.ctx, keys_dir)
                self.allow_list = AllowList(keys_dir, lambda folder: auth.configure_curve(domain="*",
                                                                                          location=str(folder)))
                self.allow_list.refresh()
            else:
                event(log, "security.mode = none: satellites are not authenticated and frames are not "
                      "encrypted", logging.WARNING)
            try:
                sock.bind(self.cfg.station.bind)
            except zmq.ZMQError as exc:
                raise UserError(f"cannot bind station.bind = {self.cfg.station.bind}: {exc}") from None
        except BaseException:
            sock.close()
            self._stop_console()
            self._stop_auth()
            self.ctx.term()
            self.store.close()
            raise
        return sock

    def _start_console(self) -> Console | None:
        """The web console on its own thread (docs/console.md), if `console.bind` is set."""
        if self.cfg.console.bind is None:
            return None
        from ground.console.server import Console  # aiohttp is loaded only when a console is served

        return Console.start(self.cfg)

    def _stop_console(self) -> None:
        if self.console is not None:
            self.console.stop()
            self.console = None

    def _stop_auth(self) -> None:
        if self.auth is not None:
            self.auth.stop()
            self.auth = None

    # ---- the loop ----------------------------------------------------------

    def run(self) -> None:
        """Turn the loop until `stopping` is set or the run is marked over, then close."""
        event(log, "station listening", bind=self.cfg.station.bind, schedule=self.cfg.link.schedule,
              security=self.cfg.security.mode, store=str(self.store.path))
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        next_credit = next_cmd_check = next_flush = 0.0
        next_status = time.monotonic() + self.cfg.log.status_interval_s
        try:
            while not self.stopping:
                now = self.clock.now()
                self.windows.forget_gone()
                self.update_window(now)
                if now >= next_credit:
                    self.windows.grant(now)
                    next_credit = now + self.credit_tick
                wall = time.monotonic()
                if wall >= next_cmd_check:
                    self.commands.send_due(self.windows.in_contact(), now)
                    next_cmd_check = wall + COMMAND_CHECK_WALL_S
                self.deliver(now)
                if wall >= next_flush:
                    self.counters.flush(self.store)
                    next_flush = wall + FLUSH_WALL_S
                    if self.clock.run_over():
                        event(log, "the run is over: stopping")
                        break
                if wall >= next_status:
                    self._status(now)
                    next_status = wall + self.cfg.log.status_interval_s
                if self.console is not None:
                    self.console.publisher.tick(self.windows, self.counters.total, now)
                if poller.poll(self._poll_ms(now, next_credit)):
                    self.receive(self.clock.now())
        except sqlite3.Error as exc:   # a full disk: whatever was acknowledged is in the store; nothing else was
            raise UserError(f"stopping: the store {self.store.path} cannot be written ({exc}); every summary "
                            f"acknowledged is in it, the satellites keep the rest") from None
        finally:
            self.close()

    def _poll_ms(self, now: float, next_credit: float) -> int:
        deadlines = [next_credit, self.windows.next_change(now)]
        for arrival in (self.uplink.next_arrival(), self.downlink.next_arrival()):
            if arrival is not None:
                deadlines.append(arrival)
        wait = self.clock.wall_seconds(min(deadlines) - now)
        return int(1000 * min(max(wait, 0.0), MAX_POLL_WALL_S))

    def close(self) -> None:
        """Go off the air cleanly: close the window (`los`, pass totals), flush, a last report, close the store."""
        now = self.clock.now()
        try:
            if self.windows.close(now, reason="shutdown") is not None:
                self.reporter.request()
            for sat_id, frame in self.downlink.arrived(float("inf")):  # going off the air: say LOS now
                self._transmit(sat_id, frame)
            self.counters.flush(self.store)
        except sqlite3.Error as exc:
            event(log, "the last pass totals and counters could not be written", logging.ERROR, error=str(exc))
        self.reporter.finish()  # a last report of everything, written in full
        self.sock.close(linger=0)
        self._stop_console()
        self._stop_auth()
        self.ctx.term()
        self.store.close()
        event(log, "station stopped", **dict(self.counters.total))

    # ---- one turn's steps, each handed to its part ----------------------------

    def update_window(self, now: float) -> None:
        """Open or close the contact window; a closed one gets the report rewritten."""
        if self.windows.update(now) is not None:
            self.reporter.request()

    def receive(self, now: float) -> None:
        """Take everything waiting on the socket and hand it to the link model."""
        for _ in range(1000):
            try:
                parts = self.sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            arrival = self.intake.admit(parts)
            if arrival is None:
                continue
            if arrival.msg["t"] != "hello" and self.uplink.lost():
                self.counters.count("lost_uplink")
                continue
            self.uplink.put(now, arrival)

    def deliver(self, now: float) -> None:
        """Hand out what the link has delivered by `now`, both ways."""
        for sat_id, frame in self.downlink.arrived(now):
            self._transmit(sat_id, frame)
        self.intake.deliver(self.uplink.arrived(now), now)

    # ---- frames out -------------------------------------------------------------

    def _send(self, sat_id: str, now: float, t: str, /, **fields: object) -> None:
        frame = encode(t, now, **fields)
        if self.downlink.lost():
            self.counters.count("lost_downlink")
            return
        if self.cfg.link.delay_s == 0:
            self._transmit(sat_id, frame)
        else:
            self.downlink.put(now, (sat_id, frame))

    def _transmit(self, sat_id: str, frame: bytes) -> None:
        try:
            self.sock.send_multipart([self.intake.route(sat_id), frame], zmq.NOBLOCK)
        except zmq.ZMQError as exc:  # peer gone (ROUTER_MANDATORY) or its queue full
            self.counters.count("unroutable")
            if exc.errno == zmq.EHOSTUNREACH:
                self.windows.gone.add(sat_id)

    # ---- bookkeeping ------------------------------------------------------------

    def _status(self, now: float) -> None:
        if self.allow_list is not None:
            self.allow_list.reload()
        window = self.windows.window
        try:
            health.beat(health.heartbeat_path(self.store.path), {"sim_time": now, "win": window.id if window else None})
        except OSError as exc:   # a full disk: the stale heartbeat fails the health check, which is the point
            event(log, "cannot write the heartbeat", logging.WARNING, error=str(exc))
        upcoming = self.windows.schedule.next_window(now)
        event(log, "status", sim_time=round(now, 1), win=window.id if window else None,
              next_aos=round(upcoming.start, 1) if upcoming and not window else None,
              satellites=len(self.windows.satellites), **dict(self.counters.total))
