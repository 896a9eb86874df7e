"""Fixtures for the ground tests: a station started as a real subprocess, stopped on teardown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from satedge.config import to_toml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def write_config(path: Path, sections: dict) -> Path:
    path.write_text(to_toml(sections))
    return path


class StationProcess:
    """`python -m ground --config FILE` as a subprocess, with its log in a file."""

    def __init__(self, config: Path, log: Path):
        self.config, self.log_path = config, log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> StationProcess:
        self.log_file = open(self.log_path, "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "ground", "--config", str(self.config)], cwd=REPO,
                                     stdout=self.log_file, stderr=subprocess.STDOUT, env=dict(os.environ))
        deadline = time.monotonic() + timeout_s
        while "station listening" not in self.log():
            if self.proc.poll() is not None:
                raise AssertionError(f"station exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"station did not start:\n{self.log()}")
            time.sleep(0.05)
        return self

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self, sig=signal.SIGTERM, timeout_s: float = 15.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"station ignored signal {sig}:\n{self.log()}") from None
        finally:
            self.log_file.close()

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.log_file.close()


@pytest.fixture
def station_factory(tmp_path, free_port):
    """make(link=..., security=..., ...) -> a started StationProcess on 127.0.0.1:free_port; all stopped after."""
    started: list[StationProcess] = []
    now = time.time()

    def make(start: bool = True, **sections) -> StationProcess:
        cfg = {
            "clock": {"epoch": now, "start": now, "speedup": 20.0},
            "security": {"mode": "none"},
            "station": {"bind": f"tcp://127.0.0.1:{free_port}"},
            "link": {"period_s": 60.0, "window_s": 30.0, "offset_s": 10.0, "delay_s": 0.01},
            "store": {"path": "ground.sqlite"},
            "log": {"status_interval_s": 60.0},
        }
        for name, values in sections.items():
            cfg.setdefault(name, {}).update(values)
        station = StationProcess(write_config(tmp_path / "ground.toml", cfg), tmp_path / "ground.log")
        station.address = f"tcp://127.0.0.1:{free_port}"
        station.db_path = tmp_path / cfg["store"]["path"]
        station.cfg = cfg
        started.append(station)
        return station.start() if start else station

    yield make
    for station in started:
        if station.proc is not None and station.proc.poll() is None:
            station.proc.kill()
            station.proc.wait()
