"""A fault-injecting ZeroMQ proxy between satellites (DEALER) and the ground (ROUTER), CURVE off.

Satellites connect to the proxy's ROUTER; for each routing id it opens a DEALER to the ground (which
binds that connection to the satellite by its `hello`, as it does a direct one). Each frame, in either
direction, is (seeded) duplicated with probability `dup` and held back to go out after the next
frame of that direction with probability `reorder`. Each direction draws from its own seeded generator, so
the k-th frame of a direction meets the same fate whatever the other direction did meanwhile (one shared
generator made the faults depend on how the two streams interleaved: a run saw 13 uplink frames and no
reordering). It counts what it did.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

import zmq


class FaultProxy:
    def __init__(self, ground_address: str, *, dup: float, reorder: float, seed: int):
        self.ground_address = ground_address
        self.dup, self.reorder = dup, reorder
        self.rngs = {direction: random.Random(f"{seed}-{direction}") for direction in ("up", "down")}
        self.ctx = zmq.Context()
        self.front = self.ctx.socket(zmq.ROUTER)
        self.front.setsockopt(zmq.LINGER, 0)
        self.port = self.front.bind_to_random_port("tcp://127.0.0.1")
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.backs: dict[bytes, zmq.Socket] = {}
        self.fronts: dict[zmq.Socket, bytes] = {}   # back socket -> the satellite's routing id at the proxy
        self.held: dict[tuple[str, bytes], bytes] = {}
        self.counts: Counter = Counter()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(10)

    def _back(self, sat: bytes, poller: zmq.Poller) -> zmq.Socket:
        sock = self.backs.get(sat)
        if sock is None:
            sock = self.backs[sat] = self.ctx.socket(zmq.DEALER)
            self.fronts[sock] = sat
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(self.ground_address)
            poller.register(sock, zmq.POLLIN)
        return sock

    def _forward(self, direction: str, sat: bytes, frame: bytes, send) -> None:
        """Send `frame` (maybe twice), or hold it until the next frame of this direction and satellite."""
        self.counts[f"{direction}_frames"] += 1
        key, rng = (direction, sat), self.rngs[direction]
        if key not in self.held and rng.random() < self.reorder:
            self.held[key] = frame
            self.counts[f"{direction}_reordered"] += 1
            return
        send(frame)
        if rng.random() < self.dup:
            send(frame)
            self.counts[f"{direction}_duplicated"] += 1
        if key in self.held:
            send(self.held.pop(key))

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.front, zmq.POLLIN)
        try:
            while not self.stopping.is_set():
                for sock, _ in poller.poll(50):
                    if sock is self.front:
                        sat, frame = self.front.recv_multipart()
                        back = self._back(sat, poller)
                        self._forward("up", sat, frame, lambda f, back=back: back.send(f))
                    else:
                        frame = sock.recv()
                        sat = self.fronts[sock]
                        self._forward("down", sat, frame,
                                      lambda f, sat=sat: self.front.send_multipart([sat, f], zmq.NOBLOCK))
        finally:
            for sock in [self.front, *self.backs.values()]:
                sock.close(0)
            self.ctx.term()
