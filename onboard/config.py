"""The satellite daemon's configuration (docs/architecture.md, "Configuration"): defaults in code.

Relative paths in a file are relative to the file; without a file they are
relative to the working directory, except the model, which defaults to the
repository's committed model zoo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from satedge.config import ClockSection, Config, LogSection, Section, SecuritySection
from satedge.vocabulary import Precision

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = "satedge-unet"


class SatelliteSection(Section):
    """Who this satellite is: its id is its routing id on the link and names its CURVE key pair."""

    id: str = Field(default="sat-1", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


class GroundSection(Section):
    """The ground station to connect to, and how long a summary waits for its ack before it goes again."""

    address: str = "tcp://127.0.0.1:7700"
    resend_s: float = Field(default=5.0, gt=0,
                            description="wall seconds before an unacknowledged summary is sent again")


class IngestSection(Section):
    """The inbox and the reference mosaic, and the limits a scene is held to before a pixel is read."""

    inbox: Path = Path("data/inbox")
    reference: Path = Path("data/reference.tif")
    quarantine: Path | None = Field(default=None, description="default: <inbox>/../quarantine")
    processed: Path | None = Field(default=None, description="move processed scenes here; default: delete them")
    poll_s: float = Field(default=0.2, gt=0, description="wall seconds between inbox scans")
    prefetch: int = Field(default=1, ge=1, le=16,
                          description="opened scenes waiting for inference (their pixels are read as their "
                                      "tiles are queued: one is enough)")
    max_side: int = Field(default=20000, ge=64, description="refuse scenes wider or taller (pixels)")
    max_pixels: int = Field(default=100_000_000, ge=4096, description="refuse scenes with more pixels")

    @property
    def quarantine_dir(self) -> Path:
        """Where a bad scene goes: `quarantine` if set, else a `quarantine` folder beside the inbox."""
        return self.quarantine or self.inbox.parent / "quarantine"


class ModelSection(Section):
    """The IR served at start (a precision the ground commanded, kept in the spool, wins) and how it compiles."""

    dir: Path = REPO / "models" / DEFAULT_MODEL
    precision: Precision = "int8"
    cache_dir: Path = Path("data/ov-cache")
    hint: Literal["THROUGHPUT", "LATENCY"] = "THROUGHPUT"


class PostprocessSection(Section):
    """From pixels to buildings, and the lowest class a summary lists until `set_min_class` says otherwise."""

    min_class: int = Field(default=2, ge=1, le=4, description="lowest class listed in a summary's `b`")
    min_area_m2: float = Field(default=4.0, ge=0, description="smaller blobs are noise, not buildings")
    split_m: float = Field(default=1.0, ge=0,
                           description="touching buildings joined by necks thinner than 2x this are split")
    ood_max_listed: int = Field(default=20, ge=0, le=65535,
                                description="a scene the out-of-distribution guard flags lists at most this many "
                                            "buildings (onboard/guard.py)")


class SpoolSection(Section):
    """Where summaries wait for their ack, and the bounds past which the least urgent are dropped."""

    path: Path = Path("data/spool.sqlite")
    max_summaries: int = Field(default=100_000, ge=1)
    max_bytes: int = Field(default=256 << 20, ge=1024)


class TelemetrySection(Section):
    """Whether the counters go to the ground as `telemetry` frames, and how often inside a window."""

    enabled: bool = True
    interval_s: float = Field(default=30.0, gt=0, description="wall seconds between telemetry frames (in a window)")


class OnboardConfig(Config):
    """The daemon's one file: each part of it takes the section(s) it needs, never loose values."""

    # model_validate({}) is ClockSection() and LogSection(): their Field defaults are positional, which
    # mypy's dataclass_transform does not see, so the plain call would not type-check.
    clock: ClockSection = ClockSection.model_validate({})
    security: SecuritySection = SecuritySection()
    satellite: SatelliteSection = SatelliteSection()
    ground: GroundSection = GroundSection()
    ingest: IngestSection = IngestSection()
    model: ModelSection = ModelSection()
    postprocess: PostprocessSection = PostprocessSection()
    spool: SpoolSection = SpoolSection()
    log: LogSection = LogSection.model_validate({})
    telemetry: TelemetrySection = TelemetrySection()
