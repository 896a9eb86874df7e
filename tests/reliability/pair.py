"""One real ground station and one real satellite daemon as separate processes (`satedge ground`,
`satedge onboard`) on 127.0.0.1, with one contact window that stays open: the attacks of issue 16
are made against these, through their files, their sockets and their command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ground import store
from onboard import spool
from satedge.config import to_toml
from satedge.processes import Child, free_port


class Pair:
    def __init__(self, tmp: Path, model: Path, reference: Path, *, security: str = "none",
                 keys_dir: Path | None = None, ground: dict[str, dict[str, Any]] | None = None,
                 onboard: dict[str, dict[str, Any]] | None = None, sat_id: str = "sat-1"):
        self.tmp, self.sat_id = tmp, sat_id
        tmp.mkdir(parents=True, exist_ok=True)
        now = time.time()
        self.address = f"tcp://127.0.0.1:{free_port()}"
        keys_dir = keys_dir or tmp / "keys"
        clock = {"epoch": now - 10, "start": now, "speedup": 1.0}
        self.store = tmp / "ground" / "ground.sqlite"
        self.spool = tmp / sat_id / "spool.sqlite"
        self.inbox = tmp / sat_id / "inbox"
        self.ground_sections: dict[str, dict[str, Any]] = {
            "clock": clock, "security": {"mode": security, "keys_dir": str(keys_dir)},
            "station": {"bind": self.address.replace("127.0.0.1", "*")},
            "link": {"period_s": 1e7, "window_s": 1e7, "offset_s": 0.0, "rate_bps": 1e6, "delay_s": 0.0,
                     "cmd_retry_s": 1.0},
            "store": {"path": str(self.store)}, "log": {"status_interval_s": 0.5},
        }
        self.onboard_sections: dict[str, dict[str, Any]] = {
            "clock": clock, "security": {"mode": security, "keys_dir": str(keys_dir)},
            "satellite": {"id": sat_id}, "ground": {"address": self.address, "resend_s": 2.0},
            "ingest": {"inbox": str(self.inbox), "reference": str(reference), "poll_s": 0.05},
            "model": {"dir": str(model), "precision": "fp32", "cache_dir": str(tmp / "ov-cache")},
            "spool": {"path": str(self.spool)}, "log": {"status_interval_s": 0.5},
            "telemetry": {"enabled": False},
        }
        for mine, theirs in ((self.ground_sections, ground), (self.onboard_sections, onboard)):
            for section, values in (theirs or {}).items():
                mine.setdefault(section, {}).update(values)
        self.children: list[Child] = []
        self.ground: Child | None = None
        self.sat: Child | None = None

    def _config(self, name: str, sections: dict[str, dict[str, Any]]) -> Path:
        path = self.tmp / f"{name}.toml"
        path.write_text(to_toml(sections))
        return path

    def start_ground(self, wait: bool = True) -> Child:
        config = self._config("ground", self.ground_sections)
        self.ground = self._start("ground", "ground", config)
        if wait:
            self.ground.wait_event("station listening", len(self.ground.events("station listening")) + 1, 60)
        return self.ground

    def start_sat(self, wait: bool = True, name: str | None = None, **over: dict[str, Any]) -> Child:
        sections = {k: dict(v) for k, v in self.onboard_sections.items()}
        for section, values in over.items():
            sections.setdefault(section, {}).update(values)
        config = self._config(name or self.sat_id, sections)
        child = self._start(name or self.sat_id, "onboard", config)
        if name is None:
            self.sat = child
        if wait:
            child.wait_event("onboard daemon started", 1, 90)
        return child

    def _start(self, name: str, command: str, config: Path) -> Child:
        n = sum(c.name == name for c in self.children)
        child = Child(name, command, config, self.tmp / "logs" / f"{name}.{n}.log", siblings=[])
        self.children.append(child)
        return child

    def stop(self) -> None:
        for child in reversed(self.children):
            child.terminate()
        for child in reversed(self.children):
            child.stop(30)

    # --- what happened -------------------------------------------------------

    def stored_scenes(self) -> list[str]:
        return [row["body"]["scene"] for row in store.stored_rows(self.store)]

    def spooled(self) -> int:
        return spool.spooled_count(self.spool)

    def results(self) -> dict[int, store.CommandResultRow]:
        return {r["cmd_id"]: r for r in store.command_results(self.store) if r["satellite"] == self.sat_id}

    def queue(self, name: str, args: Any) -> int:
        db = store.connect(self.store)
        try:
            cmd_id = store.queue_command(db, name, args, self.sat_id)
        finally:
            db.close()
        assert cmd_id is not None
        return cmd_id

    def wait(self, condition, what: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            for child in (self.ground, self.sat):
                if child is not None and not child.alive():
                    raise AssertionError(f"{child.name} exited ({child.proc.returncode}) waiting for {what}:\n"
                                         f"{child.log()[-3000:]}")
            if time.monotonic() > deadline:
                ground, sat = (c.last_lines(5) if c else "" for c in (self.ground, self.sat))
                raise AssertionError(f"no {what} within {timeout} s; ground: {ground}\nsat: {sat}")
            time.sleep(0.1)

    def wait_answered(self, cmd_id: int, timeout: float = 90.0) -> store.CommandResultRow:
        self.wait(lambda: cmd_id in self.results() and self.results()[cmd_id]["ok"] is not None,
                  f"an answer to command {cmd_id}", timeout)
        return self.results()[cmd_id]
