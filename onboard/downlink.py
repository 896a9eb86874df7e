"""The downlink client: one DEALER to the ground, spending only the credit it is granted.

One thread owns the socket (ZeroMQ sockets are not thread-safe) and never
touches the pipeline, so the link can neither stall inference nor be stalled
by it. What it sends, most urgent first, only inside a window and only while
the encoded frame fits in the unspent credit of that window:

1. `hello` at connect (the one frame exempt from credit), and again as the
   first frame after each `aos`;
2. command results;
3. summaries from the spool, lowest `prio` first, oldest first; strictly in
   that order (a frame that does not fit waits for more credit rather than
   letting a less urgent one pass);
4. a `telemetry` frame every `telemetry.interval_s`.

A summary sent but not acknowledged after `ground.resend_s`, or by the next
`aos`, is sent again. `IMMEDIATE` keeps ZeroMQ from queueing frames for a
ground that is not connected (they would otherwise go out later, without
credit); a disconnect ends the window and its credit. ZeroMQ reconnects by
itself, and the new connection gets a new `hello`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import zmq
from zmq.utils.monitor import recv_monitor_message

from onboard.commands import Commander
from onboard.config import GroundSection, SatelliteSection, TelemetrySection
from onboard.spool import Spool, Unwritable
from onboard.telemetry import Telemetry
from satedge import keys, protocol
from satedge.clock import SimClock
from satedge.config import SecuritySection
from satedge.logs import event

log = logging.getLogger("satedge.onboard.downlink")

POLL_MS = 50
HANDSHAKE_RETRY_S = 5.0     # wall seconds before trying again after the ground refused our key
MONITORED = zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_FAILED_AUTH \
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL


class Downlink:
    """The satellite's end of the link: one thread, one socket, and never a byte beyond the credit granted."""

    def __init__(self, ground_cfg: GroundSection, satellite_cfg: SatelliteSection, security_cfg: SecuritySection,
                 telemetry_cfg: TelemetrySection, *, spool: Spool, telemetry: Telemetry, commander: Commander,
                 clock: SimClock, identity: Callable[[], tuple[str, str]]):
        self.ground_cfg, self.satellite_cfg, self.telemetry_cfg = ground_cfg, satellite_cfg, telemetry_cfg
        self.spool, self.telemetry, self.commander, self.clock = spool, telemetry, commander, clock
        self.identity = identity              # () -> (model name, precision) for hello
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.DEALER)
        # No ROUTING_ID: libzmq's own id (which no peer can choose) means no other connection can take this
        # one's route; the ground binds it to this satellite by the `hello`, under this satellite's key.
        self.socket.setsockopt(zmq.IMMEDIATE, 1)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.RECONNECT_IVL, 200)
        self.socket.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        if security_cfg.mode == "curve":
            keys.secure_client(self.socket, security_cfg.keys_dir, satellite_cfg.id)
        self.monitor = self.socket.get_monitor_socket(MONITORED)
        # Link state, touched only by the link thread.
        self.connected = False
        self.window: int | None = None
        self.credit = 0
        self.hello_due = False                # after aos: the window's first frame
        self.in_flight: dict[int, float] = {}  # seq -> monotonic time sent
        self.sent: set[int] = set()            # seqs sent by this process: an ack for any other deletes nothing
        self.unsendable: set[int] = set()      # seqs too large for any frame (said once, skipped)
        self.failed = False
        self.last_telemetry = 0.0
        self.retry_at: float | None = None     # after a failed handshake: when to try again
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="onboard-downlink", daemon=True)

    def start(self) -> None:
        """Connect (ZeroMQ keeps reconnecting by itself) and start the link thread."""
        self.socket.connect(self.ground_cfg.address)
        self.thread.start()

    def stop(self) -> None:
        """Close the socket; whatever was not acknowledged is still in the spool for the next run."""
        self.stopping.set()
        self.thread.join(10)

    # --- the loop ----------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Unwritable as exc:
            event(log, "stopping: the spool cannot be written", logging.ERROR, error=str(exc))
            self.failed = True
        except BaseException:   # never a dead link behind a healthy heartbeat: the daemon stops, loudly
            log.exception("the downlink thread failed")
            self.failed = True
            raise

    def _loop(self) -> None:
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        poller.register(self.monitor, zmq.POLLIN)
        try:
            while not self.stopping.is_set():
                ready = dict(poller.poll(POLL_MS))
                if self.monitor in ready:
                    self._on_monitor(recv_monitor_message(self.monitor)["event"])
                if self.socket in ready:
                    while self.socket.poll(0):
                        self._on_frame(self.socket.recv())
                if self.retry_at is not None and time.monotonic() >= self.retry_at:
                    self._reconnect()
                self._pump()
        finally:
            self.socket.disable_monitor()
            self.monitor.close(0)
            self.socket.close(0)
            self.context.term()

    def _on_monitor(self, kind: int) -> None:
        if kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self.connected = True
            self._end_window()
            event(log, "ground connected", address=self.ground_cfg.address)
            self._send(self._hello(), exempt=True)
        elif kind == zmq.EVENT_DISCONNECTED:
            if self.connected:
                event(log, "ground disconnected", logging.WARNING, address=self.ground_cfg.address)
            self.connected = False
            self._end_window()
        else:
            event(log, "handshake with the ground failed (wrong CURVE key?)", logging.WARNING,
                  address=self.ground_cfg.address, event=zmq.Event(kind).name, retry_s=HANDSHAKE_RETRY_S)
            self.retry_at = time.monotonic() + HANDSHAKE_RETRY_S
        self.telemetry.gauge(connected=self.connected)

    def _reconnect(self) -> None:
        """libzmq never retries a connection the ground refused at authentication; we do, since
        the ground may admit this satellite's key later (a constellation scaled up at run time)."""
        self.retry_at = None
        self.socket.disconnect(self.ground_cfg.address)
        self.socket.connect(self.ground_cfg.address)

    def _end_window(self) -> None:
        self.window, self.credit, self.hello_due = None, 0, False
        self.in_flight.clear()
        self.telemetry.gauge(window=-1, credit=0)

    def _on_frame(self, frame: bytes) -> None:
        try:
            msg = protocol.decode(frame, protocol.GROUND_TO_SAT)
        except protocol.UnknownType:
            self.telemetry.count("frames_unknown")
            return
        except protocol.FrameError as exc:
            self.telemetry.count("frames_dropped")
            event(log, "frame dropped", logging.WARNING, reason=exc.reason)
            return
        t = msg["t"]
        if t == "aos":
            self._end_window()
            self.window, self.hello_due = msg["win"], True
            event(log, "window open", win=msg["win"], until=msg["until"])
        elif t == "credit":
            if msg["win"] == self.window and msg["bytes"] > 0:
                self.credit += msg["bytes"]
        elif t == "los":
            if msg["win"] == self.window:
                event(log, "window closed", win=msg["win"], unspent=self.credit)
                self._end_window()
        elif t == "ack":
            if msg.get("inc", self.spool.inc) != self.spool.inc:   # for a spool this one replaced
                self.telemetry.count("acks_ignored")
                return
            seqs = [seq for seq in msg["seqs"] if seq in self.sent]   # never one this process did not send
            removed = self.spool.ack(seqs)
            for seq in seqs:
                self.in_flight.pop(seq, None)
                self.sent.discard(seq)
            self.telemetry.count("acked", removed)
        elif t == "cmd":
            event(log, "command received", id=msg["id"], name=msg["name"])
            self.commander.receive(msg)
        self.telemetry.gauge(window=self.window if self.window is not None else -1, credit=self.credit)

    # --- sending -----------------------------------------------------------

    def _hello(self) -> bytes:
        model, precision = self.identity()
        return protocol.encode("hello", self.clock.now(), sat=self.satellite_cfg.id, model=model, prec=precision,
                               spooled=self.spool.stats()[0], last_cmd=self.spool.last_cmd, inc=self.spool.inc)

    def _send(self, frame: bytes, exempt: bool = False) -> bool:
        """Send one frame if credit allows (or it is the connect hello); False if it must wait."""
        if not exempt and (self.window is None or len(frame) > self.credit):
            return False
        try:
            self.socket.send(frame, zmq.NOBLOCK)
        except zmq.Again:
            return False
        if not exempt:
            self.credit -= len(frame)
            self.telemetry.gauge(credit=self.credit)   # what is left, not what was granted
        self.telemetry.count("frames_sent")
        self.telemetry.count("bytes_sent", len(frame))
        return True

    def _pump(self) -> None:
        if self.window is None or not self.connected:
            return
        if self.hello_due:
            if not self._send(self._hello()):
                return
            self.hello_due = False
        if not self._send_results() or not self._send_summaries():
            return
        self._send_telemetry()

    def _result(self, cmd_id: int, ok: bool, detail: str, inc: int) -> bytes:
        """A `cmd_result`, carrying the ground incarnation its command came with (if it came with one)."""
        extra = {"inc": inc} if inc else {}
        return protocol.encode("cmd_result", self.clock.now(), id=cmd_id, ok=ok, detail=detail, **extra)

    def _send_results(self) -> bool:
        for reply in self.commander.replies[:]:
            if not self._send(self._result(*reply)):
                return False
            self.commander.replies.remove(reply)
        for cmd_id, ok, detail, inc in self.spool.results():
            if not self._send(self._result(cmd_id, ok, detail, inc)):
                return False
            self.spool.result_sent(cmd_id, inc)   # kept: a repeat of the command gets it again
        return True

    def _send_summaries(self) -> bool:
        now = time.monotonic()
        for seq, sent in list(self.in_flight.items()):
            if now - sent > self.ground_cfg.resend_s:
                del self.in_flight[seq]
                self.telemetry.count("resent")
        while True:
            batch = self.spool.next_batch(exclude=set(self.in_flight) | self.unsendable)
            if not batch:
                return True
            for item in batch:
                frame = protocol.encode("summary", self.clock.now(), seq=item.seq, prio=item.prio, body=item.body)
                if len(frame) > protocol.MAX_FRAME_BYTES:   # spooled by an older version: it would block the queue
                    event(log, "summary too large for any frame: left in the spool, not sent", logging.ERROR,
                          seq=item.seq, bytes=len(frame))
                    self.unsendable.add(item.seq)
                    continue
                if not self._send(frame):
                    return False
                self.in_flight[item.seq] = time.monotonic()
                self.sent.add(item.seq)

    def _send_telemetry(self) -> None:
        cfg = self.telemetry_cfg
        if not cfg.enabled or time.monotonic() - self.last_telemetry < cfg.interval_s:
            return
        frame = protocol.encode("telemetry", self.clock.now(), sat=self.satellite_cfg.id, **self.telemetry.snapshot())
        if self._send(frame):
            self.last_telemetry = time.monotonic()
