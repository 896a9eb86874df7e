"""The project's processes as children: start `satedge COMMAND --config FILE`, read its events, stop it.

`satedge sim`, the benchmark and the tests start, watch and stop the ground
station, the onboard daemon and the camera the same way, through this one
harness. A child logs JSON lines (`--log-format json`) to its own file, and
its structured events are read back from there (`events`, `wait_event`), never
its prose. Stopping is SIGTERM (the daemons finish what is in flight), then
SIGKILL after a grace period.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from satedge.logs import event

log = logging.getLogger("satedge.processes")

POLL_S = 0.05


class ProcessFailed(Exception):
    """A child exited early or never logged what was waited for; the message says which and why."""


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set of a process's own memory: VmHWM, in kB in /proc/PID/status.

    Not `getrusage(...).ru_maxrss`: Linux carries that over `exec`, so a worker
    would report the peak of the process that forked it.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise OSError(f"no VmHWM in /proc/{pid}/status")


def free_port() -> int:
    """A TCP port free on the loopback now (for a child to bind; a race is possible but harmless in tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def read_events(path: Path, message: str | None = None) -> list[dict[str, Any]]:
    """The JSON-lines events in a log file (lines that are not JSON objects, or half written, are skipped)."""
    found: list[dict[str, Any]] = []
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return found
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and (message is None or record.get("msg") == message):
            found.append(record)
    return found


class Child:
    """`python -m satedge.cli COMMAND --config FILE --log-format json`, its output appended to `log_path`."""

    def __init__(self, name: str, command: str, config: Path, log_path: Path, cwd: Path | None = None,
                 siblings: list[Child] | None = None, own_session: bool = False):
        self.name, self.command, self.config, self.log_path = name, command, config, log_path
        self.siblings = siblings if siblings is not None else []   # a wait fails if any of them dies
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "satedge.cli", command, "--config", str(config), "--log-format", "json"],
                cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                start_new_session=own_session)

    @property
    def pid(self) -> int:
        """Its process id (to signal or measure it from outside)."""
        return self.proc.pid

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc.poll() is None

    def events(self, message: str | None = None) -> list[dict[str, Any]]:
        """Every event it logged so far (of one message, if given)."""
        return read_events(self.log_path, message)

    def log(self) -> str:
        """Everything it wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def last_lines(self, n: int = 3) -> str:
        """Its last lines, for an error message."""
        return " | ".join(self.log().strip().splitlines()[-n:])

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float) -> None:
        """Until `condition()`; ProcessFailed if it or a sibling exits first, or after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            for child in (self, *self.siblings):
                if not child.alive():
                    raise ProcessFailed(f"{child.name} exited ({child.proc.returncode}) while waiting for "
                                        f"{self.name}'s {what}: {child.last_lines()}")
            if time.monotonic() > deadline:
                raise ProcessFailed(f"{self.name}: no {what} within {timeout:.0f} s: {self.last_lines()}")
            time.sleep(POLL_S)

    def wait_event(self, message: str, count: int = 1, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Until it has logged `message` `count` times; returns those events."""
        self.wait_for(lambda: len(self.events(message)) >= count, f"{count} x {message!r}", timeout)
        return self.events(message)

    def peak_rss_mb(self) -> float:
        """Its resident-set high-water mark so far (read while it is alive)."""
        return peak_rss_mb(self.proc.pid)

    def kill9(self) -> int:
        """SIGKILL: a crash, as far as the process can tell."""
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(10)

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM) without waiting."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, grace: float = 60.0) -> int:
        """SIGTERM, then SIGKILL if it is not gone after `grace` seconds; its exit status."""
        self.terminate()
        return self._reap(grace)

    def _reap(self, grace: float) -> int:
        try:
            return self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            event(log, "process killed after the grace period", logging.WARNING, process=self.name)
            return self.proc.wait(10)


class Children:
    """Started children; stopped in reverse order of start (camera, satellite, ground), whatever happens."""

    def __init__(self) -> None:
        self.started: list[Child] = []

    def start(self, name: str, command: str, config: Path, log_path: Path, cwd: Path | None = None,
              own_session: bool = False) -> Child:
        """Start one child; a wait on it fails if any earlier one has died."""
        child = Child(name, command, config, log_path, cwd, self.started, own_session)
        self.started.append(child)
        return child

    def stop_all(self, grace: float = 60.0) -> dict[str, int]:
        """SIGTERM every child at once, then wait for each (SIGKILL after a shared grace); exit statuses."""
        for child in reversed(self.started):
            child.terminate()
        deadline = time.monotonic() + grace
        return {child.name: child._reap(max(0.1, deadline - time.monotonic())) for child in reversed(self.started)}

    def __enter__(self) -> Children:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop_all()
