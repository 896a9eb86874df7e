"""A minimal ground station written from docs/protocol.md alone (plain msgpack, no `ground` or `onboard` code).

It opens contact windows (`aos`, `credit` in small grants, `los`), acks
summaries, sends commands, and keeps the books the tests check: bytes granted
and received per window, frames outside any window, summaries by seq.
"""

from __future__ import annotations

import time
from collections import defaultdict

import msgpack
import zmq

from satedge import keys


def frame(t: str, **keys_) -> bytes:
    return msgpack.packb({"v": 1, "t": t, "ts": time.time(), **keys_}, use_bin_type=True)


class MiniGround:
    def __init__(self, port: int, *, keys_dir=None, open_s: float = 1.0, closed_s: float = 0.4,
                 grant: int = 100, tick_s: float = 0.05):
        self.context = zmq.Context()
        self.auth = None
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.ROUTER_MANDATORY, 1)
        if keys_dir is not None:
            self.auth = keys.start_authenticator(self.context, keys_dir)
            keys.secure_server(self.socket, keys_dir)
        self.socket.bind(f"tcp://127.0.0.1:{port}")
        self.open_s, self.closed_s, self.grant, self.tick_s = open_s, closed_s, grant, tick_s
        self.windows_enabled = True
        self.peers: set[bytes] = set()
        self.win = 0                       # last window number (0: none yet)
        self.open = False
        self.next_change = time.monotonic()
        self.next_grant = 0.0
        self.los_at: float | None = None
        self.granted: dict[int, int] = defaultdict(int)
        self.received: dict[int, int] = defaultdict(int)
        self.violations: list[str] = []
        self.frames: list[dict] = []
        self.summaries: dict[int, dict] = {}     # seq -> body, stored once
        self.summary_receipts: dict[int, int] = defaultdict(int)
        self.results: list[dict] = []
        self.hellos: list[dict] = []
        self.telemetry: list[dict] = []
        self.withhold_first_ack = True
        self.commands: list[tuple[int, str, dict]] = []   # to send at the next window

    def close(self) -> None:
        self.socket.close(0)
        if self.auth is not None:
            self.auth.stop()
        self.context.term()

    def send(self, peer: bytes, data: bytes) -> None:
        try:
            self.socket.send_multipart([peer, data])
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise

    # --- windows -----------------------------------------------------------

    def _tick_windows(self) -> None:
        now = time.monotonic()
        if not self.windows_enabled:
            return
        if now >= self.next_change and self.peers:
            if self.open:
                for peer in self.peers:
                    self.send(peer, frame("los", win=self.win))
                self.open, self.los_at = False, now
                self.next_change = now + self.closed_s
            else:
                self.win += 1
                self.open = True
                for peer in self.peers:
                    self.send(peer, frame("aos", win=self.win, until=time.time() + self.open_s))
                    for cmd_id, name, args in self.commands:
                        self.send(peer, frame("cmd", id=cmd_id, name=name, args=args))
                self.commands.clear()
                self.next_change = now + self.open_s
                self.next_grant = now
        if self.open and now >= self.next_grant:
            for peer in self.peers:
                self.send(peer, frame("credit", win=self.win, bytes=self.grant))
            self.granted[self.win] += self.grant
            self.next_grant = now + self.tick_s

    # --- receiving ---------------------------------------------------------

    def _on_frame(self, peer: bytes, data: bytes) -> None:
        msg = msgpack.unpackb(data, raw=False)
        assert msg["v"] == 1 and "t" in msg and "ts" in msg, msg
        self.frames.append(msg)
        t = msg["t"]
        first_hello = t == "hello" and peer not in self.peers
        if t == "hello":
            self.hellos.append(msg)
            self.peers.add(peer)
        if not first_hello:                       # the connect hello is exempt from credit
            if self.win == 0:
                self.violations.append(f"{t} before any window")
            elif not self.open and self.los_at is not None and time.monotonic() - self.los_at > 0.25:
                self.violations.append(f"{t} outside a window")
            self.received[self.win] += len(data)
        if t == "summary":
            self.summary_receipts[msg["seq"]] += 1
            first = msg["seq"] not in self.summaries
            self.summaries.setdefault(msg["seq"], msg["body"])
            if first and self.withhold_first_ack:  # make the satellite resend one
                self.withhold_first_ack = False
                return
            self.send(peer, frame("ack", seqs=[msg["seq"]]))
        elif t == "cmd_result":
            self.results.append(msg)
        elif t == "telemetry":
            self.telemetry.append(msg)

    def step(self, timeout_ms: int = 20) -> None:
        self._tick_windows()
        if self.socket.poll(timeout_ms):
            while self.socket.poll(0):
                peer, data = self.socket.recv_multipart()
                self._on_frame(peer, data)

    def run_until(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            self.step()

    def over_credit(self) -> dict[int, tuple[int, int]]:
        """Windows in which more bytes arrived than were granted: {win: (received, granted)}."""
        return {w: (self.received[w], self.granted[w]) for w in self.received
                if self.received[w] > self.granted[w]}
