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
    id: str = Field("sat-1", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


class GroundSection(Section):
    address: str = "tcp://127.0.0.1:7700"
    resend_s: float = Field(5.0, gt=0, description="wall seconds before an unacknowledged summary is sent again")


class IngestSection(Section):
    inbox: Path = Path("data/inbox")
    reference: Path = Path("data/reference.tif")
    quarantine: Path | None = Field(None, description="default: <inbox>/../quarantine")
    processed: Path | None = Field(None, description="move processed scenes here; default: delete them")
    poll_s: float = Field(0.2, gt=0, description="wall seconds between inbox scans")
    prefetch: int = Field(1, ge=1, le=16, description="decoded scenes waiting for inference (decoding is ~10x "
                                                       "faster than inference: one is enough, more is memory)")
    max_side: int = Field(20000, ge=64, description="refuse scenes wider or taller (pixels)")
    max_pixels: int = Field(100_000_000, ge=4096, description="refuse scenes with more pixels")


class ModelSection(Section):
    dir: Path = REPO / "models" / DEFAULT_MODEL
    precision: Precision = "int8"
    cache_dir: Path = Path("data/ov-cache")
    hint: Literal["THROUGHPUT", "LATENCY"] = "THROUGHPUT"


class PostprocessSection(Section):
    min_class: int = Field(2, ge=1, le=4, description="lowest class listed in a summary's `b`")
    min_area_m2: float = Field(4.0, ge=0, description="smaller blobs are noise, not buildings")
    split_m: float = Field(1.0, ge=0, description="touching buildings joined by necks thinner than 2x this are split")


class SpoolSection(Section):
    path: Path = Path("data/spool.sqlite")
    max_summaries: int = Field(100_000, ge=1)
    max_bytes: int = Field(256 << 20, ge=1024)


class TelemetrySection(Section):
    enabled: bool = True
    interval_s: float = Field(30.0, gt=0, description="wall seconds between telemetry frames (in a window)")


class OnboardConfig(Config):
    clock: ClockSection = ClockSection()
    security: SecuritySection = SecuritySection()
    satellite: SatelliteSection = SatelliteSection()
    ground: GroundSection = GroundSection()
    ingest: IngestSection = IngestSection()
    model: ModelSection = ModelSection()
    postprocess: PostprocessSection = PostprocessSection()
    spool: SpoolSection = SpoolSection()
    log: LogSection = LogSection()
    telemetry: TelemetrySection = TelemetrySection()

    @property
    def quarantine_dir(self) -> Path:
        return self.ingest.quarantine or self.ingest.inbox.parent / "quarantine"
