"""Issue 16, row 1: a satellite with a valid key of its own connects with routing id `sat-1` (the ground sets
ROUTER_HANDOVER), against a real ground station and a real sat-1 daemon, with CURVE. It used to take sat-1's
route: it got sat-1's credit and a queued command, and sat-1 was left unread. Now a route belongs to the key
that authenticated it: the impostor gets nothing, sat-1 is served throughout, and no connection is left over."""

from __future__ import annotations

import subprocess
import time

import msgpack
import pytest
import zmq

from ground import store
from satedge import keys

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(300)]


def established(port: int) -> int:
    """TCP connections the ground holds on its port (its side only)."""
    out = subprocess.run(["ss", "-tnH", "state", "established", f"( sport = :{port} )"], capture_output=True,
                         text=True, check=True).stdout
    return len(out.strip().splitlines())


def impostor(address: str, keys_dir, seconds: float) -> list[dict]:
    """sat-2's own valid key, routing id `sat-1`, a hello as sat-1 then as sat-2; what the ground sent it."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.ROUTING_ID, b"sat-1")
    sock.setsockopt(zmq.LINGER, 0)
    keys.secure_client(sock, keys_dir, "sat-2")
    sock.connect(address)
    got = []
    try:
        for sat in ("sat-1", "sat-2"):
            sock.send(msgpack.packb({"v": 1, "t": "hello", "ts": time.time(), "sat": sat, "model": "tiny",
                                     "prec": "fp32", "spooled": 0, "last_cmd": 0}))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if sock.poll(50):
                got.append(msgpack.unpackb(sock.recv()))
    finally:
        sock.close(0)
        ctx.term()
    return got


def test_a_valid_key_cannot_take_another_satellites_route(pair, geo, tmp_path):
    keys_dir = tmp_path / "keys"
    keys.make(keys_dir, ["sat-1", "sat-2"])
    p = pair(security="curve", keys_dir=keys_dir)
    port = int(p.address.rsplit(":", 1)[1])
    p.start_ground()
    p.start_sat()
    p.ground.wait_event("satellite joined", 1, 60)
    cmd = p.queue("set_min_class", {"cls": 3})
    p.inbox.mkdir(parents=True, exist_ok=True)
    for attempt in range(4):
        geo.scene(p.inbox, f"during-{attempt}", col=60 * attempt, row=40 * attempt, seed=attempt)
        assert impostor(p.address, keys_dir, seconds=1.5) == [], "the impostor was sent frames"
    assert p.wait_answered(cmd)["detail"] == "min_class 3"
    p.wait(lambda: len(p.stored_scenes()) == 4 and p.spooled() == 0, "sat-1 served through the attempts")
    p.wait(lambda: store.counters(p.store).get("drop_identity", 0) >= 8, "every impostor hello dropped, counted")
    p.wait(lambda: established(port) == 1, "no connection but sat-1's left on the ground", timeout=30)
    assert [e["sat"] for e in p.ground.events("satellite joined")] == ["sat-1"]
