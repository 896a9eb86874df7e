"""Fixtures every test area may use: free ports, a tiny real IR, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


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
