"""Fixtures for the onboard daemon: small real GeoTIFFs, a reference mosaic, a model with INT8."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from satedge.config import to_toml

REPO = Path(__file__).resolve().parents[2]
CRS = "EPSG:32633"                 # UTM 33N
RES = 0.5                          # metres per pixel
ORIGIN = (500_000.0, 6_000_000.0)  # west, north of the reference mosaic
REF_SIZE = 1024                    # reference mosaic: 512 m square
SCENE = 256
ACQUIRED = 1_800_000_000.0


def write_tiff(path: Path, pixels: np.ndarray, *, west: float, north: float, res: float = RES,
               crs: str | None = CRS, tags: dict | None = None, georef: bool = True, **options) -> Path:
    """A GeoTIFF from `pixels` (bands, H, W), published atomically (written aside, then renamed); `options`:
    GDAL creation options (compress=, blockysize=, ...)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")
    profile = dict(driver="GTiff", width=pixels.shape[2], height=pixels.shape[1], count=pixels.shape[0],
                   dtype=pixels.dtype, **options)
    if georef:
        profile.update(crs=crs, transform=from_origin(west, north, res, res))
    with rasterio.open(tmp, "w", **profile) as ds:
        ds.write(pixels)
        if tags:
            ds.update_tags(**tags)
    os.replace(tmp, path)
    return path


def texture(seed: int, size: int, bands: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (bands, size, size), dtype=np.uint8)


@dataclass
class Geo:
    """A reference mosaic and a maker of post-event scenes inside (or outside) it."""

    root: Path
    reference: Path

    def scene(self, folder: Path, name: str, col: int = 0, row: int = 0, size: int = SCENE, seed: int = 0,
              acquired: float | None = ACQUIRED) -> Path:
        """A 3-band u8 post-event scene whose top-left is pixel (col, row) of the reference."""
        tags = {"ACQUISITION_TIME": str(acquired)} if acquired is not None else None
        return write_tiff(Path(folder) / f"{name}.tif", texture(seed, size),
                          west=ORIGIN[0] + col * RES, north=ORIGIN[1] - row * RES, tags=tags)


@pytest.fixture(scope="session")
def geo(tmp_path_factory) -> Geo:
    root = tmp_path_factory.mktemp("geo")
    reference = write_tiff(root / "reference.tif", texture(1234, REF_SIZE), west=ORIGIN[0], north=ORIGIN[1])
    return Geo(root, reference)


@pytest.fixture(scope="session")
def model_dir(tiny_int8_model_dir) -> Path:
    """The tiny IR with its NNCF INT8 IR (tests/conftest.py)."""
    return tiny_int8_model_dir


def config_text(tmp: Path, *, model: Path, reference: Path, address: str, security: str = "none",
                keys_dir: Path | None = None, precision: str = "fp16") -> str:
    """A daemon's configuration file for a test, written by the project's one TOML writer."""
    sections = {
        "security": {"mode": security, "keys_dir": str(keys_dir or tmp / "keys")},
        "satellite": {"id": "sat-1"},
        "ground": {"address": address, "resend_s": 2.0},
        "ingest": {"inbox": str(tmp / "inbox"), "reference": str(reference), "poll_s": 0.05},
        "model": {"dir": str(model), "precision": precision, "cache_dir": str(tmp / "ov-cache")},
        "spool": {"path": str(tmp / "spool.sqlite")},
        "log": {"status_interval_s": 0.5},
        "telemetry": {"interval_s": 1.0},
    }
    return to_toml(sections)


class DaemonProcess:
    """`python -m onboard --config FILE` as a real child process; stderr (the log) goes to a file."""

    def __init__(self, config: Path, log: Path):
        self.log_path = log
        self._log = open(log, "w")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "onboard", "--config", str(config)],
                                     cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_log(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}) before {text!r}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in the daemon log within {timeout} s:\n{self.log()}")
            time.sleep(0.05)

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


@pytest.fixture
def start_daemon():
    """Start daemons; every one is stopped (SIGTERM, then kill) at teardown."""
    started: list[DaemonProcess] = []

    def start(config: Path, log: Path) -> DaemonProcess:
        daemon = DaemonProcess(config, log)
        started.append(daemon)
        return daemon

    try:
        yield start
    finally:
        for daemon in started:
            try:
                daemon.terminate(timeout=15)
            except subprocess.TimeoutExpired:
                pass
