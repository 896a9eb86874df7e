"""`onboard.downlink.Downlink` in-process against a ROUTER the test binds and speaks for the ground.

Built as `onboard/daemon.py` builds it (real spool, telemetry, commander and pipeline on the tiny IR), over
plain ZeroMQ on 127.0.0.1 (`security.mode = "none"`); the test's ground speaks `satedge.protocol`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgpack
import pytest
import zmq

from onboard import ingest
from onboard.commands import Commander
from onboard.config import GroundSection, IngestSection, PostprocessSection, SatelliteSection, TelemetrySection
from onboard.downlink import Downlink
from onboard.engine import Engine
from onboard.manifest import Manifest
from onboard.pipeline import Pipeline
from onboard.spool import Spool
from onboard.telemetry import Telemetry
from satedge import protocol
from satedge.clock import SimClock
from satedge.config import SecuritySection
from satedge.processes import free_port

pytestmark = pytest.mark.timeout(60)



def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


def body(scene: str, listed: int = 0) -> dict:
    """A valid summary body; `listed` buildings in `b` make it bigger."""
    return {"scene": scene, "acq": 1.8e9, "bbox": [15.0, 54.0, 15.01, 54.01], "model": "tiny", "prec": "fp16",
            "raw": 196608, "n": [0, 0, listed, 0], "b": [[1000 + i, 2000 + i, 3, 40, 90] for i in range(listed)]}


class Ground:
    """A ROUTER bound by the test: records what the satellite sends, sends what the ground would."""

    def __init__(self, port: int):
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.ROUTER_MANDATORY, 1)   # sending to a peer that is not there is an error
        self.socket.bind(f"tcp://127.0.0.1:{port}")
        self.received: list[tuple[float, int, dict]] = []  # (monotonic, bytes, message)
        self.peer: bytes | None = None                      # libzmq's id for the satellite's connection

    def close(self) -> None:
        self.socket.close(0)
        self.context.term()

    def recv(self, timeout: float = 5.0) -> dict:
        """The next frame from the satellite, decoded and validated as the real ground would."""
        if not self.socket.poll(int(timeout * 1000)):
            raise AssertionError(f"nothing from the satellite within {timeout} s")
        peer, data = self.socket.recv_multipart()
        assert self.peer in (None, peer)   # one connection: the route its hello came on
        self.peer = peer
        msg = protocol.decode(data, protocol.SAT_TO_GROUND)
        self.received.append((time.monotonic(), len(data), msg))
        return msg

    def recv_sized(self, timeout: float = 5.0) -> tuple[dict, int]:
        msg = self.recv(timeout)
        return msg, self.received[-1][1]

    def quiet(self, seconds: float) -> None:
        """Nothing arrives for `seconds` (the one kind of check that has to wait its full time)."""
        if self.socket.poll(int(seconds * 1000)):
            raise AssertionError(f"the satellite sent {self.recv(0)!r} when it should have stayed silent")

    def send(self, t: str, **keys) -> None:
        self.send_raw(protocol.encode(t, time.time(), **keys))

    def open_window(self, win: int, credit: int) -> None:
        """An AOS for window `win` (open a minute) and a credit of `credit` bytes in it."""
        self.send("aos", win=win, until=time.time() + 60)
        self.send("credit", win=win, bytes=credit)

    def send_raw(self, data: bytes) -> None:
        assert self.peer is not None, "nothing received yet: no route to the satellite"
        self.socket.send_multipart([self.peer, data])


@pytest.fixture(scope="module")
def tiny(tiny_model_dir) -> Manifest:
    return Manifest.load(tiny_model_dir)


class Link:
    """The satellite side as the daemon wires it: spool, telemetry, pipeline, commander and the downlink."""

    def __init__(self, tmp: Path, manifest: Manifest, reference: Path, address: str, *, resend_s: float,
                 telemetry_s: float | None):
        self.spool = Spool(tmp / "spool.sqlite")
        self.telemetry = Telemetry()
        self.clock = SimClock(epoch=time.time(), start=time.time())
        engine = Engine(manifest, "fp16", cache_dir=tmp / "ov-cache")
        self.reference = ingest.Reference(reference)
        ingest_cfg = IngestSection(inbox=tmp / "inbox", reference=reference)
        self.pipeline = Pipeline(engine, ingest.Reader(self.reference, ingest_cfg.max_side, ingest_cfg.max_pixels),
                                 self.spool, self.telemetry, self.clock, ingest_cfg, PostprocessSection(),
                                 min_class=2)
        self.commander = Commander(self.spool, self.pipeline, self.telemetry,
                                   lambda precision: Engine(manifest, precision, cache_dir=tmp / "ov-cache"))
        telemetry_cfg = TelemetrySection(enabled=telemetry_s is not None, interval_s=telemetry_s or 30.0)
        self.downlink = Downlink(GroundSection(address=address, resend_s=resend_s), SatelliteSection(id="sat-1"),
                                 SecuritySection(mode="none"), telemetry_cfg, spool=self.spool,
                                 telemetry=self.telemetry, commander=self.commander, clock=self.clock,
                                 identity=lambda: (manifest.name, self.pipeline.engine.precision))
        self.started = False

    def start(self) -> None:
        self.downlink.start()
        self.started = True

    def spooled(self) -> list[int]:
        return sorted(s.seq for s in self.spool.next_batch(exclude=set(), limit=10_000))

    def close(self) -> None:
        if self.started:
            self.downlink.stop()
        self.commander.close()
        self.spool.close()
        self.reference.close()


@pytest.fixture
def link(tmp_path, tiny, geo) -> Iterator[Callable[..., tuple[Link, Ground]]]:
    """make(resend_s=..., telemetry_s=...) -> (satellite side, not started; the test's ground, bound)."""
    made: list[tuple[Link, Ground]] = []

    def make(*, resend_s: float = 30.0, telemetry_s: float | None = None) -> tuple[Link, Ground]:
        port = free_port()
        ground = Ground(port)
        sat = Link(tmp_path, tiny, geo.reference, f"tcp://127.0.0.1:{port}", resend_s=resend_s,
                   telemetry_s=telemetry_s)
        made.append((sat, ground))
        return sat, ground

    yield make
    for sat, ground in made:
        sat.close()
        ground.close()


def size(t: str, **keys) -> int:
    """The encoded length of a frame (`ts` is always a float64: the length does not depend on it)."""
    return len(protocol.encode(t, 0.0, **keys))


def test_hello_on_connect_then_nothing_until_an_aos_and_a_credit(link):
    sat, ground = link()
    for i in range(3):
        sat.spool.add(1, body(f"s{i}"))
    sat.start()
    hello = ground.recv()
    assert hello["t"] == "hello"
    assert (hello["sat"], hello["model"], hello["prec"], hello["spooled"], hello["last_cmd"]) == \
        ("sat-1", "tiny", "fp16", 3, 0)
    wait_for(lambda: sat.telemetry.values["frames_sent"] == 1, 2, "the hello counted")
    assert sat.telemetry.values["connected"] is True and sat.telemetry.values["credit"] == 0

    ground.quiet(0.4)                                   # connected, no window: nothing but the hello
    ground.send("credit", win=1, bytes=100_000)         # credit without a window is not spendable
    ground.quiet(0.2)
    ground.send("aos", win=1, until=time.time() + 60)   # a window without credit: not even its hello
    ground.quiet(0.2)
    ground.send("credit", win=1, bytes=100_000)
    frames = [ground.recv() for _ in range(4)]
    assert [m["t"] for m in frames] == ["hello", "summary", "summary", "summary"]
    assert [m["seq"] for m in frames[1:]] == [1, 2, 3]
    ground.quiet(0.25)


def test_summaries_go_most_urgent_first_and_never_beyond_the_credit(link):
    sat, ground = link()
    bodies = {1: (3, body("calm")), 2: (1, body("major-a", 2)), 3: (0, body("destroyed", 1)),
              4: (2, body("minor")), 5: (1, body("major-b", 6))}
    for seq, (prio, b) in bodies.items():
        assert sat.spool.add(prio, b) == seq
    frame_size = {seq: size("summary", seq=seq, prio=prio, body=b) for seq, (prio, b) in bodies.items()}
    hello_size = size("hello", sat="sat-1", model="tiny", prec="fp16", spooled=5, last_cmd=0, inc=sat.spool.inc)
    assert frame_size[1] < frame_size[5]      # the least urgent would fit where the next one does not
    sat.start()
    assert ground.recv()["t"] == "hello"

    ground.send("aos", win=7, until=time.time() + 60)
    granted = hello_size + frame_size[3] + frame_size[2] + frame_size[5] - 1   # one byte short of seq 5
    ground.send("credit", win=7, bytes=granted)
    got = [ground.recv_sized() for _ in range(3)]
    assert [(m["t"], m.get("seq")) for m, _ in got] == [("hello", None), ("summary", 3), ("summary", 2)]
    assert got[0][1] == hello_size
    ground.quiet(0.4)                          # seq 5 waits, and seq 1 (small enough) does not overtake it
    ground.send("credit", win=7, bytes=1)
    granted += 1
    msg, n = ground.recv_sized()
    assert (msg["seq"], msg["prio"], n) == (5, 1, frame_size[5])   # an exact fit is sent
    ground.quiet(0.25)
    ground.send("credit", win=7, bytes=frame_size[4] + frame_size[1])
    granted += frame_size[4] + frame_size[1]
    rest = [ground.recv() for _ in range(2)]
    assert [(m["seq"], m["prio"]) for m in rest] == [(4, 2), (1, 3)]
    ground.quiet(0.25)
    assert all(m["body"] == bodies[m["seq"]][1] for _, _, m in ground.received if m["t"] == "summary")
    in_window = sum(n for _, n, _ in ground.received[1:])
    assert in_window == granted                # every granted byte spent, not one more
    wait_for(lambda: sat.telemetry.values["bytes_sent"] == in_window + ground.received[0][1], 2,
             "bytes_sent to count every frame")   # counted just after the send


def test_an_ack_removes_exactly_the_acked_summaries(link):
    sat, ground = link()
    for i in range(4):
        sat.spool.add(i % 2, body(f"s{i}"))
    sat.start()
    ground.recv()
    ground.open_window(1, 100_000)
    assert sorted(m["seq"] for m in (ground.recv() for _ in range(5)) if m["t"] == "summary") == [1, 2, 3, 4]

    ground.send("ack", seqs=[2, 4])
    wait_for(lambda: sat.telemetry.values["acked"] == 2, 2, "seqs 2 and 4 acked")   # counted after the delete
    assert sat.spooled() == [1, 3]
    ground.send("ack", seqs=[999, 2, -5])      # unknown, already acked, nonsense: nothing else goes
    ground.send("ack", seqs=[3])               # processed after the one above: once it shows, so has that
    wait_for(lambda: sat.telemetry.values["acked"] == 3, 2, "seq 3 acked")
    assert sat.spooled() == [1]
    ground.quiet(0.25)                          # acks cost nothing and ask for nothing


def test_an_unacknowledged_summary_is_sent_again_after_resend_s(link):
    sat, ground = link(resend_s=1.0)
    sat.spool.add(0, body("destroyed", 1))
    sat.start()
    ground.recv()
    ground.open_window(1, 100_000)
    assert ground.recv()["t"] == "hello"
    first = ground.recv()
    t0 = ground.received[-1][0]
    again = ground.recv(timeout=5)
    t1 = ground.received[-1][0]
    assert first["t"] == again["t"] == "summary" and first["seq"] == again["seq"] == 1
    assert again["body"] == first["body"]
    assert 1.0 <= t1 - t0 < 1.6, t1 - t0   # not before resend_s, and not long after
    assert sat.telemetry.values["resent"] == 1
    ground.send("ack", seqs=[1])
    wait_for(lambda: sat.spooled() == [], 2, "the ack")
    ground.quiet(1.2)                          # acknowledged: never sent again


def test_los_stops_sending_until_the_next_window(link):
    sat, ground = link()
    sat.spool.add(0, body("destroyed", 1))
    sat.spool.add(1, body("major", 1))
    sizes = {1: size("summary", seq=1, prio=0, body=body("destroyed", 1)),
             2: size("summary", seq=2, prio=1, body=body("major", 1))}
    hello_size = size("hello", sat="sat-1", model="tiny", prec="fp16", spooled=2, last_cmd=0, inc=sat.spool.inc)
    sat.start()
    ground.recv()
    ground.open_window(1, hello_size + sizes[1] + sizes[2] - 1)
    assert [(m["t"], m.get("seq")) for m in (ground.recv(), ground.recv())] == [("hello", None), ("summary", 1)]
    ground.send("los", win=1)                  # seq 2 was one byte short; now the window is gone
    ground.send("credit", win=1, bytes=100_000)    # a late grant for the closed window
    ground.send("credit", win=2, bytes=100_000)    # and one for a window not yet opened
    ground.quiet(0.4)
    wait_for(lambda: sat.telemetry.values["window"] == -1 and sat.telemetry.values["credit"] == 0, 2,
             "the window closed")
    ground.send("aos", win=2, until=time.time() + 60)
    ground.quiet(0.25)                          # what was left of window 1's credit expired with it
    ground.send("credit", win=2, bytes=100_000)
    frames = [ground.recv() for _ in range(3)]
    # The new window opens with a hello; seq 1 was never acked, so it goes again, most urgent first.
    assert [(m["t"], m.get("seq")) for m in frames] == [("hello", None), ("summary", 1), ("summary", 2)]
    assert frames[0]["spooled"] == 2
    ground.quiet(0.25)


def test_malformed_frames_are_counted_and_the_link_goes_on(link):
    sat, ground = link(telemetry_s=0.2)
    sat.spool.add(2, body("minor"))
    sat.start()
    ground.recv()
    malformed = [
        b"\xc1 not msgpack",
        msgpack.packb([1, 2, 3]),                                            # not a map
        msgpack.packb({"v": 2, "t": "aos", "ts": 1.0, "win": 1, "until": 2.0}),   # another version
        protocol.encode("aos", time.time(), until=1.0),                      # no win
        protocol.encode("credit", time.time(), win=1, bytes=True),           # a bool for an int
        protocol.encode("ack", time.time(), seqs=["1"]),                     # a seq that is not an int
        b"\x80" * (protocol.MAX_FRAME_BYTES + 1),                            # oversize
    ]
    for data in malformed:
        ground.send_raw(data)
    ground.send("party", hats=3)                                             # well formed, unknown type
    wait_for(lambda: sat.telemetry.values["frames_unknown"] == 1, 5, "the last frame counted")   # frames go in order
    assert sat.telemetry.values["frames_dropped"] == len(malformed)
    assert sat.spooled() == [1]                                              # the bad ack removed nothing

    ground.open_window(1, 100_000)
    assert [ground.recv()["t"] for _ in range(2)] == ["hello", "summary"]
    report = ground.recv()
    assert report["t"] == "telemetry" and report["sat"] == "sat-1"
    assert report["frames_dropped"] == len(malformed) and report["frames_unknown"] == 1
    assert report["window"] == 1 and report["connected"] is True
    ground.send("ack", seqs=[1])
    wait_for(lambda: sat.spooled() == [], 2, "the ack after the bad frames")


def test_telemetry_reports_the_unspent_credit(link):
    sat, ground = link(telemetry_s=30.0)
    sat.spool.add(0, body("destroyed", 1))
    sat.start()
    ground.recv()
    ground.open_window(1, 10_000)
    frames = [ground.recv_sized() for _ in range(3)]
    assert [m["t"] for m, _ in frames] == ["hello", "summary", "telemetry"]
    spent_before_report = frames[0][1] + frames[1][1]
    assert frames[2][0]["credit"] == 10_000 - spent_before_report
