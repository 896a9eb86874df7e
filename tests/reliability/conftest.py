"""Fixtures for the reliability suite: a ground station and a satellite daemon built in-process
(for fuzzing their receive paths directly), small real GeoTIFFs, and a valid summary body."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest
import zmq

from satedge import config as satedge_config
from satedge.config import to_toml
from tests.onboard.conftest import ORIGIN, geo, start_daemon, texture, write_tiff  # noqa: F401 (fixtures)


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summary_body(i: int, prio_class: int = 4) -> dict:
    """A body that keeps to docs/protocol.md (the ground accepts and stores it)."""
    return {"scene": f"scene-{i}", "acq": 1.8e9, "bbox": [10.0, 45.0, 10.01, 45.01], "model": "tiny",
            "prec": "fp32", "raw": 3 << 20, "n": [2, 0, 0, 1], "b": [[100, 200, prio_class, 120, 80]]}


# --- the ground station, in-process ---------------------------------------------------


class InProcessGround:
    """A real `Station` (real ROUTER, real store) whose loop the test turns by hand, and a real DEALER."""

    def __init__(self, tmp: Path):
        from ground.config import GroundConfig
        from ground.station import Station

        now = time.time()
        port = free_tcp_port()
        path = tmp / "ground.toml"
        path.write_text(to_toml({
            "clock": {"epoch": now - 10, "start": now, "speedup": 1.0},
            "security": {"mode": "none"},
            "station": {"bind": f"tcp://127.0.0.1:{port}"},
            "link": {"period_s": 1e7, "window_s": 1e7, "offset_s": 0.0, "rate_bps": 1e9, "delay_s": 0.0},
            "store": {"path": str(tmp / "ground.sqlite")},
            "log": {"status_interval_s": 3600.0},
        }))
        self.station = Station(satedge_config.load(GroundConfig, path))
        self.ctx = zmq.Context()
        self.sat = self.ctx.socket(zmq.DEALER)
        self.sat.setsockopt(zmq.ROUTING_ID, b"sat-1")
        self.sat.setsockopt(zmq.LINGER, 0)
        self.sat.connect(f"tcp://127.0.0.1:{port}")
        self._seq = 10**12
        from satedge.protocol import encode
        self.sat.send(encode("hello", now, sat="sat-1", model="tiny", prec="fp32", spooled=0, last_cmd=0))
        deadline = time.monotonic() + 10
        while "sat-1" not in self.station.satellites or self.station.satellites["sat-1"].contact is None:
            assert time.monotonic() < deadline, "the station never saw the hello"
            self.pump(1)

    def now(self) -> float:
        return self.station.clock.now()

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def pump(self, turns: int = 3) -> None:
        """Turns of the station's loop, as `Station.run` makes them, through its parts' public methods."""
        s = self.station
        for _ in range(turns):
            now = self.now()
            s.windows.forget_gone()
            s.update_window(now)
            s.windows.grant(now)
            if s.sock.poll(10):
                s.receive(self.now())
            s.deliver(self.now())

    def wait_ack(self, seq: int, timeout: float = 10.0) -> bool:
        from satedge.protocol import GROUND_TO_SAT, FrameError, decode
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(1)
            while self.sat.poll(0):
                try:
                    msg = decode(self.sat.recv(), GROUND_TO_SAT)
                except FrameError:
                    continue
                if msg["t"] == "ack" and seq in msg["seqs"]:
                    return True
        return False

    def close(self) -> None:
        self.sat.close(0)
        self.ctx.term()
        self.station.close()


@pytest.fixture(scope="module")
def in_process_ground(tmp_path_factory):
    ground = InProcessGround(tmp_path_factory.mktemp("ground"))
    try:
        yield ground
    finally:
        ground.close()


# --- the satellite daemon, in-process ---------------------------------------------------


class CommandLog(logging.Handler):
    """Collects the commander's `command done` events, in the order they happen."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.done: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "command done":
            self.done.append(dict(getattr(record, "fields", {})))


class InProcessSatellite:
    """A real `Daemon` (engine, pipeline threads, spool, commander) whose downlink thread is not
    started: the test hands frames to `Downlink._on_frame` itself, as that thread would."""

    def __init__(self, tmp: Path, model: Path, reference: Path):
        from onboard.config import OnboardConfig
        from onboard.daemon import Daemon

        path = tmp / "onboard.toml"
        path.write_text(to_toml({
            "security": {"mode": "none"},
            "ground": {"address": f"tcp://127.0.0.1:{free_tcp_port()}"},
            "ingest": {"inbox": str(tmp / "inbox"), "reference": str(reference)},
            "model": {"dir": str(model), "precision": "fp32", "cache_dir": str(tmp / "ov-cache")},
            "spool": {"path": str(tmp / "spool.sqlite")},
            "log": {"status_interval_s": 3600.0},
        }))
        self.log = CommandLog()
        logger = logging.getLogger("satedge.onboard.commands")
        logger.addHandler(self.log)
        logger.setLevel(logging.INFO)   # whatever the root logger's level is in this test session
        self.daemon = Daemon(satedge_config.load(OnboardConfig, path))
        self.daemon.pipeline.start()

    def executed(self) -> list[dict]:
        return list(self.log.done)

    def close(self) -> None:
        logging.getLogger("satedge.onboard.commands").removeHandler(self.log)
        d = self.daemon
        d.pipeline.stop()
        d.commander.close()
        d.downlink.socket.close(0)
        d.downlink.monitor.close(0)
        d.downlink.context.term()
        d.spool.close()
        d.reference.close()
        d.release_locks()


@pytest.fixture(scope="module")
def small_reference(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("reference")
    return write_tiff(root / "reference.tif", texture(1234, 256), west=ORIGIN[0], north=ORIGIN[1])


def _satellite(tmp_path_factory, name: str, tiny_model_dir, small_reference):
    sat = InProcessSatellite(tmp_path_factory.mktemp(name), tiny_model_dir, small_reference)
    try:
        yield sat
    finally:
        sat.close()


@pytest.fixture(scope="module")
def in_process_satellite(tmp_path_factory, tiny_model_dir, small_reference):
    yield from _satellite(tmp_path_factory, "sat", tiny_model_dir, small_reference)


@pytest.fixture(scope="module")
def commanding_satellite(tmp_path_factory, tiny_model_dir, small_reference):
    """A second daemon for command-id properties (fuzzing may push the first one's last_cmd to 2**63-1)."""
    yield from _satellite(tmp_path_factory, "sat-cmd", tiny_model_dir, small_reference)


# --- a real ground and a real satellite, as processes ----------------------------------------


@pytest.fixture
def pair(tmp_path, tiny_model_dir, geo):  # noqa: F811 (the fixture imported above)
    """Make `Pair`s (tests/reliability/pair.py); every process they started is stopped at teardown."""
    from tests.reliability.pair import Pair

    made: list[Pair] = []

    def make(**kwargs) -> Pair:
        p = Pair(tmp_path / f"pair{len(made)}", tiny_model_dir, geo.reference, **kwargs)
        made.append(p)
        return p

    try:
        yield make
    finally:
        for p in made:
            p.stop()
