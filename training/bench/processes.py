"""The real daemons as child processes: start, wait for a log event, read peak RSS, stop.

Each process logs JSON lines (`--log-format json`) to a file; events are
read back from it. Peak RSS is the kernel's high-water mark (`VmHWM`) of
the process, read while it is still alive.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from satedge.config import to_toml
from training.bench.timing import peak_rss_mb

REPO = Path(__file__).resolve().parents[2]
POLL_S = 0.05


class ProcessFailed(Exception):
    """A daemon exited early or never logged what was waited for; the message says which."""


class Child:
    """`python -m satedge.cli COMMAND --config FILE --log-format json`, logging to `log`."""

    def __init__(self, command: str, config: dict, folder: Path, siblings: list[Child] | None = None):
        folder.mkdir(parents=True, exist_ok=True)
        self.name = command
        self.siblings = siblings if siblings is not None else []   # a wait fails if any of them dies
        self.config_path = folder / f"{command}.toml"
        self.config_path.write_text(to_toml(config))
        self.log_path = folder / f"{command}.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "satedge.cli", command, "--config", str(self.config_path), "--log-format",
             "json"], cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"))

    def events(self, message: str | None = None) -> list[dict]:
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and (message is None or record.get("msg") == message):
                found.append(record)
        return found

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            for child in {self, *self.siblings}:
                if child.proc.poll() is not None:
                    raise ProcessFailed(f"{child.name} exited ({child.proc.returncode}) while waiting for "
                                        f"{self.name}'s {what}: {child.last_lines()}")
            if time.monotonic() > deadline:
                raise ProcessFailed(f"{self.name}: no {what} within {timeout:.0f} s: {self.last_lines()}")
            time.sleep(POLL_S)

    def wait_event(self, message: str, count: int = 1, timeout: float = 120.0) -> list[dict]:
        self.wait_for(lambda: len(self.events(message)) >= count, f"{count} x {message!r}", timeout)
        return self.events(message)

    def last_lines(self, n: int = 3) -> str:
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(lines[-n:])

    def peak_rss_mb(self) -> float:
        """The process's resident-set high-water mark so far."""
        return peak_rss_mb(self.proc.pid)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (the daemons finish what is in flight), then kill after `timeout`."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(10)
        finally:
            self._log.close()


class Children:
    """Started children, all stopped (in reverse order) on exit, whatever happens."""

    def __init__(self):
        self.started: list[Child] = []

    def start(self, command: str, config: dict, folder: Path) -> Child:
        child = Child(command, config, folder, self.started)
        self.started.append(child)
        return child

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc) -> None:
        for child in reversed(self.started):
            child.stop()
