"""A minimal satellite written from docs/protocol.md alone (zmq + msgpack, nothing of satedge).

It says `hello` whenever its socket (re)connects and after each `aos`,
keeps per-window credit, sends only within it, resends what is not acked,
and records everything the ground sends with the wall time it arrived.
"""

from __future__ import annotations

import time

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message


def pack(t: str, **keys) -> bytes:
    return msgpack.packb({"v": 1, "t": t, "ts": time.time(), **keys}, use_bin_type=True)


def summary_body(i: int, destroyed: int = 1, buildings: int = 3) -> dict:
    lon0, lat0 = 10.0 + i * 0.01, 45.0
    rows = [[100 + 50 * k, 200 + 40 * k, 4 if k < destroyed else 2, 120 + k, 80] for k in range(buildings)]
    return {"scene": f"scene-{i:03d}", "acq": time.time() - 100.0, "bbox": [lon0, lat0, lon0 + 0.01, lat0 + 0.01],
            "model": "tiny", "prec": "int8", "raw": 3 * 1024 * 1024, "n": [5, buildings - destroyed, 0, destroyed],
            "b": rows}


class MiniSat:
    def __init__(self, address: str, sat_id: str, curve: tuple[bytes, bytes, bytes] | None = None):
        self.id = sat_id
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.ROUTING_ID, sat_id.encode())
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            self.sock.curve_publickey, self.sock.curve_secretkey, self.sock.curve_serverkey = curve
        self.monitor = self.sock.get_monitor_socket()
        self.sock.connect(address)
        self.received: list[tuple[float, dict]] = []   # (wall time, message)
        self.credit: dict[int, int] = {}              # open window -> unspent bytes
        self.window: int | None = None
        self.acked: set[int] = set()
        self.ack_counts: dict[int, int] = {}
        self.commands: list[dict] = []
        self.events: list[int] = []
        self.sent_bytes: dict[int, int] = {}
        self.last_sent: dict[int, float] = {}

    def close(self) -> None:
        if self.sock.closed:
            return
        self.sock.disable_monitor()
        self.monitor.close(linger=0)
        self.sock.close(linger=0)
        self.ctx.term()

    def hello(self) -> None:
        self.send_raw(pack("hello", sat=self.id, model="tiny", prec="int8", spooled=0, last_cmd=0))

    def send_raw(self, frame: bytes) -> bool:
        """Send without blocking: a DEALER with no connected peer would block forever."""
        try:
            self.sock.send(frame, zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False

    def spend(self, frame: bytes) -> bool:
        """Send `frame` if the open window's credit covers it."""
        if self.window is None or self.credit.get(self.window, 0) < len(frame):
            return False
        self.credit[self.window] -= len(frame)
        self.sent_bytes[self.window] = self.sent_bytes.get(self.window, 0) + len(frame)
        return self.send_raw(frame)

    def pump(self, timeout_s: float = 0.01) -> None:
        """Handle socket events and everything the ground sent, waiting at most `timeout_s`."""
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        poller.register(self.monitor, zmq.POLLIN)
        ready = dict(poller.poll(int(timeout_s * 1000)))
        while self.monitor.poll(0):
            ev = recv_monitor_message(self.monitor)["event"]
            self.events.append(ev)
            if ev == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.hello()
        if self.sock in ready:
            while self.sock.poll(0):
                self._handle(msgpack.unpackb(self.sock.recv(), raw=False))

    def _handle(self, msg: dict) -> None:
        self.received.append((time.time(), msg))
        t = msg["t"]
        if t == "aos":
            self.window = msg["win"]
            self.credit[msg["win"]] = 0  # a fresh grant: what a restarted ground granted before is void
            self.hello()
        elif t == "credit":
            self.credit[msg["win"]] = self.credit.get(msg["win"], 0) + msg["bytes"]
            self.window = msg["win"]  # a credit implies the window is open even if its aos was lost
        elif t == "los":
            self.credit.pop(msg["win"], None)
            if self.window == msg["win"]:
                self.window = None
        elif t == "ack":
            for seq in msg["seqs"]:
                self.acked.add(seq)
                self.ack_counts[seq] = self.ack_counts.get(seq, 0) + 1
        elif t == "cmd":
            self.commands.append(msg)

    def pump_until(self, condition, timeout_s: float, what: str = "condition", others=()) -> None:
        """Pump this satellite (and `others`) until `condition()` holds."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
            self.pump(0.01)
            for other in others:
                other.pump(0)

    def step(self, frames: dict[int, bytes], resend_after_s: float = 0.3) -> None:
        """One turn of the downlink: send each unacked summary that is due, within credit, then listen."""
        now = time.monotonic()
        for seq in sorted(set(frames) - self.acked):
            if now - self.last_sent.get(seq, -1e9) >= resend_after_s and self.spend(frames[seq]):
                self.last_sent[seq] = now
        self.pump(0.01)

    def downlink(self, frames: dict[int, bytes], timeout_s: float, resend_after_s: float = 0.3) -> None:
        """Send every summary within credit and resend it until acked (docs/protocol.md, "Reliability")."""
        deadline = time.monotonic() + timeout_s
        while not set(frames) <= self.acked:
            if time.monotonic() > deadline:
                missing = sorted(set(frames) - self.acked)
                raise AssertionError(f"{self.id}: {len(missing)} summaries never acked: {missing[:10]}")
            self.step(frames, resend_after_s)

    def of_type(self, t: str) -> list[dict]:
        return [m for _, m in self.received if m["t"] == t]
