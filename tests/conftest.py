"""Fixtures every test area may use: free ports, a tiny real IR, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"     # real imagery, used by path (its README.md)
JOPLIN = REALDATA / "joplin"
# The post tiles the four pre-event tiles cover fully (../shared/realdata/README.md).
JOPLIN_COVERED = ("tile_31500-5137.tif", "tile_32524-5137.tif")


@pytest.fixture
def free_port() -> int:
    from satedge.processes import free_port as port
    return port()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random-weight U-Net (width 4, 64x64 tiles) exported as a real FP32/FP16 IR with manifest."""
    torch = pytest.importorskip("torch")
    from training.export import export_ir
    from training.model import UNet

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-model")
    export_ir(UNet(width=4, depth=2), out, name="tiny", tile=64, overlap=8,
              training={"command": "tests/conftest.py tiny_model_dir", "seed": 0})
    return out


@pytest.fixture(scope="session")
def tiny_int8_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny IR plus a real INT8 IR quantized by NNCF (random calibration tiles), as `int8-nncf`."""
    nncf = pytest.importorskip("nncf")
    import shutil

    import numpy as np
    import openvino as ov

    from onboard.manifest import Manifest

    out = tmp_path_factory.mktemp("tiny-int8-model") / "tiny"
    shutil.copytree(tiny_model_dir, out)
    manifest = Manifest.load(out)
    rng = np.random.default_rng(0)
    calibration = [rng.integers(0, 256, (1, 6, manifest.tile, manifest.tile), dtype=np.uint8) for _ in range(8)]
    quantized = nncf.quantize(ov.Core().read_model(out / "fp32.xml"), nncf.Dataset(calibration),
                              subset_size=len(calibration), fast_bias_correction=True)
    ov.save_model(quantized, out / "int8-nncf.xml")
    manifest.add_ir("int8-nncf", out / "int8-nncf.xml")
    manifest.save()
    return out


def run_cli(*args: str, env: dict | None = None, timeout: float = 300, cwd: Path | None = None):
    """Run `satedge ARGS` in a subprocess, as a user would; returns CompletedProcess."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "satedge.cli", *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout, cwd=cwd or REPO)


@pytest.fixture(scope="session")
def joplin_reference(tmp_path_factory) -> Path:
    """The four Joplin pre-event tiles merged into one mosaic (UTM 15N), as the daemon's reference; its
    gaps are black without a no-data mark, as a mosaic put together in a hurry would be."""
    import rasterio
    from rasterio.merge import merge
    if not JOPLIN.is_dir():
        pytest.skip(f"real imagery not here: {JOPLIN} is absent (see ../shared/realdata/README.md)")
    tiles = [rasterio.open(p) for p in sorted((JOPLIN / "pre").glob("*.tif"))]
    try:
        pixels, transform = merge(tiles)
        crs = tiles[0].crs
    finally:
        for t in tiles:
            t.close()
    path = tmp_path_factory.mktemp("joplin") / "pre-mosaic.tif"
    with rasterio.open(path, "w", driver="GTiff", width=pixels.shape[2], height=pixels.shape[1], count=3,
                       dtype="uint8", crs=crs, transform=transform, tiled=True, blockxsize=256,
                       blockysize=256) as ds:
        ds.write(pixels)
    return path
