"""A whole constellation as `satedge sim` runs it (ground, onboard daemon, camera as separate
processes, one run folder made by `sim.run.prepare`), with the handles fault injection needs:
`kill9` and `restart` of any process, and probes for the moments worth killing at."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ground import store
from onboard import spool
from satedge.processes import Child
from sim import run as simrun
from sim.config import SimConfig

STARTED = {"ground": "station listening", "onboard": "onboard daemon started", "camera": "scene"}


@dataclass
class Member:
    """One process of the run: how to start it again."""

    name: str
    command: str
    config: Path
    process: Child | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()


class Constellation:
    def __init__(self, config: SimConfig, out: Path):
        self.run = simrun.prepare(config, out)
        self.sat = self.run.satellites[0]
        run = self.run
        self.members = {
            "ground": Member("ground", "ground", run.out / "ground" / "ground.toml"),
            "onboard": Member(f"{self.sat.id}-onboard", "onboard", self.sat.dir / "onboard.toml"),
            "camera": Member(f"{self.sat.id}-camera", "camera", self.sat.dir / "camera.toml"),
        }
        self.starts = {name: 0 for name in self.members}
        self.expected = sorted(p.stem.removesuffix("_post_disaster")
                               for p in (self.sat.dir / "staging" / "geotiff").glob("*_post_disaster.tif"))

    # --- processes --------------------------------------------------------------------

    def start(self, name: str, wait: bool = True) -> None:
        member = self.members[name]
        member.process = simrun.spawn(self.run, member.name, member.command, member.config)
        self.starts[name] += 1
        if wait and name != "camera":
            self.wait_log(name, STARTED[name], self.starts[name], timeout=90)

    def start_all(self) -> None:
        for name in ("ground", "onboard", "camera"):
            self.start(name)

    def kill9(self, name: str) -> None:
        self.members[name].process.kill9()

    def stop_member(self, name: str, timeout: float = 30) -> int:
        """SIGTERM one process and wait for it (a clean stop, unlike `kill9`)."""
        return self.members[name].process.stop(timeout)

    def stop(self) -> dict:
        return simrun.stop(self.run)

    def log(self, name: str) -> str:
        path = self.members[name].process.log_path
        return path.read_text(errors="replace") if path.exists() else ""

    def events(self, name: str, msg: str) -> list[dict]:
        return self.members[name].process.events(msg)

    def wait_log(self, name: str, text: str, times: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.log(name).count(text) < times:
            member = self.members[name]
            if not member.alive():
                raise AssertionError(f"{name} exited before {text!r}:\n{self.log(name)[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} x{times} from {name} within {timeout} s:\n"
                                     f"{self.log(name)[-3000:]}")
            time.sleep(0.05)

    # --- what the run has done -----------------------------------------------------------

    @property
    def inbox(self) -> Path:
        return self.sat.dir / "inbox"

    @property
    def spool_wal(self) -> Path:
        return self.sat.spool.with_name(self.sat.spool.name + "-wal")

    def inbox_files(self) -> list[str]:
        return sorted(p.name for p in self.inbox.glob("*.tif"))

    def spooled_sources(self) -> set[str]:
        return spool.spooled_sources(self.sat.spool)

    def spooled(self) -> int:
        return spool.spooled_count(self.sat.spool)

    def stored_scenes(self) -> list[str]:
        return [row["body"]["scene"] for row in store.stored_rows(self.run.store)]

    def counters(self) -> dict:
        return store.counters(self.run.store)

    def in_window(self) -> bool:
        s = self.run.config.link
        since = self.run.clock.now() - self.run.clock.epoch - s.offset_s
        return since >= 0 and since % s.period_s < s.window_s

    def spool_bodies(self) -> list[dict]:
        return spool.spooled_bodies(self.sat.spool)

    def wait_delivered(self, timeout: float) -> None:
        """Until every staged scene is in the store and the spool is empty (or raise with the state)."""
        deadline = time.monotonic() + timeout
        while True:
            stored = set(self.stored_scenes())
            if stored >= set(self.expected) and self.spooled() == 0:
                return
            for name in ("ground", "onboard"):
                if not self.members[name].alive():
                    raise AssertionError(f"{name} died:\n{self.log(name)[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not delivered in {timeout} s: missing {sorted(set(self.expected) - stored)}, "
                                     f"spooled {self.spooled()}, inbox {self.inbox_files()}")
            time.sleep(0.2)


def scenario(model: Path, **over) -> SimConfig:
    """A short scenario on the tiny model: a pass of scenes, a slow link so sending takes a while."""
    base = {
        "clock": {"epoch": float(int(time.time())), "speedup": 20.0},
        "security": {"mode": "curve"},
        "scenario": {"orbits": 1, "scenes_per_orbit": 6, "scene_size": 512, "orbit_period_s": 600.0,
                     "pass_offset_s": 20.0, "scene_interval_s": 20.0, "drain_orbits": 0},
        "link": {"period_s": 300.0, "window_s": 150.0, "offset_s": 60.0, "rate_bps": 400.0, "delay_s": 0.01},
        "model": {"dir": str(model), "precision": "fp32"},
        "log": {"status_interval_s": 0.5},
    }
    for section, values in over.items():
        base.setdefault(section, {}).update(values)
    return SimConfig.model_validate(base)


def stop_quietly(constellation: Constellation | None) -> None:
    if constellation is None:
        return
    try:
        constellation.stop()
    except (subprocess.SubprocessError, OSError):
        for p in constellation.run.processes:
            if p.alive():
                p.proc.kill()
