"""The scenario of a simulation (`sim/default.toml`): one validated model.

A scenario reuses the ground's link and station sections and the onboard
model section as they are, so a key means the same thing in `satedge sim`,
`satedge ground` and `satedge onboard`; `sim.run` writes each process's own
configuration file from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ground.config import LinkSection, StationSection
from onboard.config import IngestSection, ModelSection, PostprocessSection, SpoolSection
from satedge.config import ClockSection, Config, LogSection, Section, SecuritySection
from satedge.vocabulary import Precision

DEFAULT_SCENARIO = Path(__file__).with_name("default.toml")


class ScenarioSection(Section):
    """The disaster and the satellite's passes over it: where, how many orbits and scenes, when (sim seconds)."""

    disaster: Literal["flood", "wildfire", "earthquake", "hurricane"] = "hurricane"
    seed: int = Field(7, ge=0)
    orbits: int = Field(3, ge=1, le=1000, description="orbits over the disaster area with acquisitions")
    scenes_per_orbit: int = Field(4, ge=1, le=1000, description="a strip of scenes per pass over the area")
    scene_size: int = Field(1024, ge=256, le=8192, multiple_of=32)
    style: Literal["classic", "realistic"] = Field(
        "classic", description="how scenes are drawn (docs/scenes.md); the camera's are always at 0.5 m")
    lat: float = Field(27.95, ge=-80, le=84, description="centre of the disaster area (WGS84; UTM must cover it)")
    lon: float = Field(-82.46, ge=-180, le=180)
    intensity: float = Field(0.3, gt=0, lt=1, description="mean fraction of damaged buildings")
    orbit_period_s: float = Field(5400.0, gt=0, description="sim seconds between passes over the area")
    pass_offset_s: float = Field(600.0, ge=0, description="sim seconds into each orbit of the pass over the area")
    scene_interval_s: float = Field(8.0, gt=0, description="sim seconds between two scenes of a strip")
    satellites: int = Field(1, ge=1, le=16)
    drain_orbits: int = Field(3, ge=0, description="extra orbits allowed for the spool to drain")

    def acquisition_time(self, epoch: float, orbit: int, k: int) -> float:
        """Simulated time of the k-th scene of the pass in `orbit` (from 1)."""
        return epoch + (orbit - 1) * self.orbit_period_s + self.pass_offset_s + k * self.scene_interval_s


class CameraSection(Section):
    """Where the camera keeps the staged post scenes and the ground truth, out of the daemon's sight."""

    staging: Path = Path("data/staging")
    truth: Path = Path("data/truth")


class PrecisionStep(Section):
    """From orbit `orbit` on, scenes are assessed at `precision` (uplinked in the window before)."""

    orbit: int = Field(ge=1)
    precision: Precision


class CameraConfig(Config):
    """`satedge camera`: the scenario, the clock, and the satellite's inbox and reference mosaic."""

    clock: ClockSection = ClockSection()
    scenario: ScenarioSection = ScenarioSection()
    ingest: IngestSection = IngestSection()
    camera: CameraSection = CameraSection()
    log: LogSection = LogSection()


class SimConfig(Config):
    """`satedge sim`: a scenario and every process's sections; the precision schedule must end by the last orbit."""

    clock: ClockSection = ClockSection(speedup=100.0)
    security: SecuritySection = SecuritySection()
    scenario: ScenarioSection = ScenarioSection()
    station: StationSection = StationSection(bind="tcp://127.0.0.1:0")
    link: LinkSection = LinkSection(offset_s=2400.0)
    model: ModelSection = ModelSection()
    postprocess: PostprocessSection = PostprocessSection()
    spool: SpoolSection = SpoolSection()
    precision_schedule: list[PrecisionStep] = Field(default_factory=list)
    log: LogSection = LogSection(status_interval_s=2.0)

    @model_validator(mode="after")
    def _schedule_in_range(self) -> SimConfig:
        for step in self.precision_schedule:
            if step.orbit > self.scenario.orbits:
                raise ValueError(f"precision_schedule: orbit {step.orbit} is after the last orbit "
                                 f"({self.scenario.orbits})")
        return self
