"""A scenario's processes: each one's folder and configuration file, made from the scenario alone.

`satedge sim` runs every process on this machine; `docker compose` runs each
in its own container (`satedge mission ground|satellite`). Both make the
ground's and each satellite's configuration here, from the same scenario, so
a key means the same in both. A satellite's folder is laid out the same way
in both, which is how mission control (`sim.mission`) reads it:

    <dir>/onboard.toml, camera.toml   its processes' configuration (onboard.toml last: "prepared")
    <dir>/inbox/, reference.tif        what its daemon reads
    <dir>/staging/, truth/             scenes not yet acquired; the ground truth they are scored against
    <dir>/spool.sqlite                 its spool
    <dir>/events.jsonl                 its daemon's structured events (`log.file`)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from satedge.config import to_toml
from sim.config import SimConfig

SATELLITE_ID = re.compile(r"^sat-(\d+)$")


@dataclass(frozen=True)
class SatelliteFiles:
    """One satellite's folder."""

    id: str
    dir: Path

    @property
    def index(self) -> int:
        """0 for sat-1: the satellite's scenes use the scenario's seed plus this."""
        match = SATELLITE_ID.match(self.id)
        return int(match.group(1)) - 1 if match else 0

    @property
    def inbox(self) -> Path:
        """Where the camera drops scenes and the daemon reads them."""
        return self.dir / "inbox"

    @property
    def reference(self) -> Path:
        """The pre-event mosaic the daemon reads windows from."""
        return self.dir / "reference.tif"

    @property
    def staging(self) -> Path:
        """Scenes made but not yet acquired, out of the daemon's sight."""
        return self.dir / "staging"

    @property
    def truth(self) -> Path:
        """The scenes' ground truth (xBD layout), for scoring only."""
        return self.dir / "truth"

    @property
    def spool(self) -> Path:
        """The daemon's spool (SQLite)."""
        return self.dir / "spool.sqlite"

    @property
    def events(self) -> Path:
        """The daemon's structured events (`log.file`), read by mission control."""
        return self.dir / "events.jsonl"

    @property
    def onboard_config(self) -> Path:
        """The daemon's configuration."""
        return self.dir / "onboard.toml"

    @property
    def camera_config(self) -> Path:
        """The camera feed's configuration."""
        return self.dir / "camera.toml"

    @property
    def prepared(self) -> bool:
        """Whether its scenes are staged and its configuration written."""
        return self.onboard_config.exists()


def satellites_in(root: Path) -> list[SatelliteFiles]:
    """The prepared satellites under `root` (one `sat-N` folder each), in id order."""
    found = [SatelliteFiles(p.name, p) for p in Path(root).glob("sat-*") if SATELLITE_ID.match(p.name)]
    return sorted((s for s in found if s.prepared), key=lambda s: s.index)


def _sections(config: SimConfig, *names: str) -> dict:
    effective = config.effective()
    return {name: dict(effective[name]) for name in names}


def ground_sections(config: SimConfig, **overrides: dict) -> dict:
    """The ground station's configuration: the scenario's clock, link and station; `overrides` per section."""
    sections = _sections(config, "clock", "security", "station", "link", "log")
    for name, values in overrides.items():
        sections.setdefault(name, {}).update(values)
    return sections


def satellite_scenario(config: SimConfig, sat: SatelliteFiles):
    """The scenario as one satellite flies it: its own scenes (seed + index)."""
    return config.scenario.model_copy(update={"seed": config.scenario.seed + sat.index, "satellites": 1})


def camera_config(config: SimConfig, sat: SatelliteFiles, clock: dict | None = None) -> dict:
    """The camera feed's configuration: the satellite's own scenario, inbox and staging."""
    return {"clock": clock if clock is not None else dict(config.effective()["clock"]),
            "scenario": satellite_scenario(config, sat).model_dump(mode="json"),
            "ingest": {"inbox": str(sat.inbox), "reference": str(sat.reference)},
            "camera": {"staging": str(sat.staging), "truth": str(sat.truth)},
            "log": dict(config.effective()["log"])}


def stage(config: SimConfig, sat: SatelliteFiles, epoch: float) -> None:
    """Make the satellite's reference mosaic, truth and staged scenes (once: see `sim.camera.prepare`)."""
    from sim import camera
    from sim.config import CameraConfig

    sat.dir.mkdir(parents=True, exist_ok=True)
    camera.prepare(CameraConfig.model_validate(camera_config(config, sat)), epoch)


def write_satellite(config: SimConfig, sat: SatelliteFiles, clock: dict | None = None, **onboard: dict) -> None:
    """Write the satellite's configuration files, the daemon's last (which marks it prepared).

    `clock` replaces the scenario's clock section in both (a run with a known
    start); `onboard` adds to sections of the daemon's (its ground address,
    keys, model cache).
    """
    daemon = {**_sections(config, "security", "log", "model", "postprocess", "spool"),
              "clock": clock if clock is not None else dict(config.effective()["clock"]),
              "satellite": {"id": sat.id}, "ingest": {"inbox": str(sat.inbox), "reference": str(sat.reference)}}
    daemon["spool"]["path"] = str(sat.spool)
    daemon["log"]["file"] = str(sat.events)
    for name, values in onboard.items():
        daemon.setdefault(name, {}).update(values)
    sat.camera_config.write_text(to_toml(camera_config(config, sat, clock)))
    sat.onboard_config.write_text(to_toml(daemon))
