"""The ground station's configuration (docs/architecture.md, "Configuration"): keys, defaults, checks."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from satedge.config import ClockSection, Config, LogSection, Section, SecuritySection


class StationSection(Section):
    """Where the station listens and where it stands (default: SvalSat, Svalbard)."""

    bind: str = "tcp://*:7700"
    lat: float = Field(default=78.2298, ge=-90, le=90)
    lon: float = Field(default=15.4078, ge=-180, le=180)
    alt_m: float = 500.0


class LinkSection(Section):
    """Contact schedule and link model, all durations in simulated seconds."""

    schedule: Literal["periodic", "tle"] = "periodic"
    period_s: float = Field(default=5400.0, gt=0)
    window_s: float = Field(default=480.0, gt=0)
    offset_s: float = Field(default=0.0, ge=0, description="start of the first periodic window after clock.epoch")
    rate_bps: float = Field(default=9600.0, gt=0,
                            description="bits per second granted to each satellite in a window")
    delay_s: float = Field(default=0.01, ge=0, description="one-way delay")
    loss: float = Field(default=0.0, ge=0, lt=1,
                        description="probability that a frame is lost, either direction")
    seed: int = 0
    tle: list[str] | None = Field(default=None, description="two-line element set: a list of two strings")
    min_elevation_deg: float = Field(default=10.0, ge=-90, lt=90)
    credit_interval_s: float = Field(default=1.0, gt=0,
                                     description="how often credit is granted (at most 100 per wall second)")
    cmd_retry_s: float = Field(default=60.0, gt=0, description="re-send an unanswered command after this long in a "
                               "window (and not within 2 wall seconds)")

    @model_validator(mode="after")
    def _consistent(self) -> LinkSection:
        if self.schedule == "periodic" and self.window_s > self.period_s:
            raise ValueError(f"window_s ({self.window_s}) is longer than period_s ({self.period_s})")
        if self.schedule == "tle":
            if self.tle is None:
                raise ValueError("schedule = 'tle' needs link.tle (a list of the two TLE lines)")
            if len(self.tle) != 2:
                raise ValueError(f"link.tle must be two lines, got {len(self.tle)}")
        return self


class StoreSection(Section):
    """The store the station, `satedge command` and the report share, and where the report goes."""

    path: Path = Path("data/ground.sqlite")
    report_dir: Path | None = Field(default=None,
                                    description="if set, the report is rewritten here after every window")


class ConsoleSection(Section):
    """The web console (docs/console.md): off unless `bind` is set, read-only unless `write` is."""

    bind: str | None = Field(default=None, description="HOST:PORT to serve the console on, e.g. 127.0.0.1:8080 or "
                             "0.0.0.0:8080 (unset: no console)")
    write: bool = Field(default=False, description="accept set-precision and set-min-class from the page, each "
                        "carrying the token")
    token_file: Path | None = Field(default=None, description="the token a command must carry (unset: "
                                    "console.token in security.keys_dir, made on first start with write on)")
    basemap_url: str | None = Field(default=None, description="tile URL template, e.g. "
                                    "https://tile.openstreetmap.org/{z}/{x}/{y}.png (unset: a plain background, "
                                    "which works offline)")
    refresh_s: float = Field(default=1.0, gt=0, le=60, description="wall seconds between live updates to a page")

    @field_validator("bind")
    @classmethod
    def _address(cls, bind: str | None) -> str | None:
        if bind is not None:
            host, sep, port = bind.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
                raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:8080")
        return bind

    def address(self) -> tuple[str, int]:
        """(host, port) of `bind`, which must be set; IPv6 brackets removed."""
        assert self.bind is not None
        host, _, port = self.bind.rpartition(":")
        return host.strip("[]"), int(port)


class GroundConfig(Config):
    """Everything `satedge ground` reads; every section has defaults, so no file is needed."""

    clock: ClockSection = ClockSection()
    security: SecuritySection = SecuritySection()
    station: StationSection = StationSection()
    link: LinkSection = LinkSection()
    store: StoreSection = StoreSection()
    console: ConsoleSection = ConsoleSection()
    log: LogSection = LogSection()
