"""Helpers for testing the station's parts without sockets: a radio that records, a wall clock set by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ground.counters import Counters
from ground.intake import Arrival, Intake
from ground.schedule import PeriodicSchedule
from ground.store import Store
from ground.uplink import CommandUplink
from ground.windows import Windows
from satedge.protocol import encode

# Windows of 50 s every 100 s from t = 1000: window 1 is [1000, 1050), window 2 is [1100, 1150).
ORIGIN, PERIOD_S, WINDOW_S = 1000.0, 100.0, 50.0
RATE_BPS = 800.0   # 100 bytes per simulated second
RETRY_S = 20.0


class Radio:
    """A `Send` that keeps every frame instead of sending it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, float, str, dict[str, object]]] = []

    def __call__(self, sat_id: str, now: float, t: str, /, **keys: object) -> None:
        self.sent.append((sat_id, now, t, keys))

    def of(self, t: str, sat_id: str | None = None) -> list[dict[str, object]]:
        return [dict(keys, sat=s, now=now) for s, now, kind, keys in self.sent
                if kind == t and (sat_id is None or s == sat_id)]

    def clear(self) -> None:
        self.sent.clear()


class Wall:
    """A wall clock the test moves."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Parts:
    """The station's parts wired as `Station` wires them, around a real store."""

    store: Store
    radio: Radio = field(default_factory=Radio)
    counters: Counters = field(default_factory=Counters)
    wall: Wall = field(default_factory=Wall)

    def __post_init__(self) -> None:
        self.commands = CommandUplink(self.store, self.radio, RETRY_S)
        self.windows = Windows(PeriodicSchedule(ORIGIN, PERIOD_S, WINDOW_S), RATE_BPS, self.store, self.radio,
                               self.counters, on_contact=self.commands.send_to, wall=self.wall)
        self.intake = Intake(self.windows, self.store, self.radio, self.counters)

    def hello(self, sat_id: str, now: float) -> None:
        self.intake.deliver([arrival(sat_id, hello(sat_id))], now)


def make_parts(tmp_path: Path) -> Parts:
    return Parts(Store(tmp_path / "ground.sqlite"))


def hello(sat_id: str) -> dict[str, object]:
    return {"v": 1, "t": "hello", "ts": 0.0, "sat": sat_id, "model": "tiny", "prec": "int8", "spooled": 0,
            "last_cmd": 0}


def summary(seq: int, prio: int = 0) -> dict[str, object]:
    body = {"scene": f"scene-{seq}", "acq": 900.0, "bbox": [10.0, 45.0, 10.01, 45.01], "model": "tiny",
            "prec": "int8", "raw": 3 << 20, "n": [2, 0, 0, 1], "b": [[100, 200, 4, 120, 80]]}
    return {"v": 1, "t": "summary", "ts": 0.0, "seq": seq, "prio": prio, "body": body}


def cmd_result(cmd_id: int, detail: str, ok: bool = True) -> dict[str, object]:
    return {"v": 1, "t": "cmd_result", "ts": 0.0, "id": cmd_id, "ok": ok, "detail": detail}


def arrival(sat_id: str, msg: dict[str, object], size: int | None = None) -> Arrival:
    """A frame as the link delivers it; its size is its encoded length unless given."""
    if size is None:
        keys = {k: v for k, v in msg.items() if k not in ("v", "t", "ts")}
        size = len(encode(str(msg["t"]), 0.0, **keys))
    return Arrival(sat_id, msg, size)
