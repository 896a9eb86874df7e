"""Fixtures for the bench: the tiny real IR plus an NNCF INT8 IR, a tiny reference-class model (a narrow
ResNet-18 encoder U-Net) beside it, and one `satedge bench --quick` run over both."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="session")
def bench_model(tiny_int8_model_dir, tmp_path_factory) -> Path:
    """tests/conftest.py's tiny FP32/FP16/INT8-NNCF model, with held-out scores recorded in its manifest."""
    from onboard.manifest import Manifest

    out = tmp_path_factory.mktemp("bench-model") / "tiny"
    shutil.copytree(tiny_int8_model_dir, out)
    manifest = Manifest.load(out)
    # what `satedge evaluate --record` stores (test data: the bench must carry these through, not judge them)
    manifest.precisions["fp32"].scores = {"score": 0.5, "localization_f1": 0.6, "damage_f1": 0.45, "scenes": 2}
    manifest.precisions["int8-nncf"].scores = {"score": 0.495, "localization_f1": 0.6, "damage_f1": 0.44,
                                               "scenes": 2}
    manifest.save()
    return out


@pytest.fixture(scope="session")
def bench_reference_model(tmp_path_factory) -> Path:
    """A random-weight resnet18-unet of stem width 4 on 64-pixel tiles: FP32/FP16 IRs and an NNCF INT8 IR."""
    import nncf
    import numpy as np
    import openvino as ov
    import torch

    from onboard.manifest import Manifest
    from training.export import export_ir
    from training.model import ResNetUNet

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("bench-ref") / "tiny-ref"
    export_ir(ResNetUNet("resnet18-unet", width=4), out, name="tiny-ref", tile=64, overlap=8,
              training={"command": "tests/bench/conftest.py", "seed": 0})
    rng = np.random.default_rng(0)
    calibration = [rng.integers(0, 256, (1, 6, 64, 64), dtype=np.uint8) for _ in range(4)]
    quantized = nncf.quantize(ov.Core().read_model(out / "fp32.xml"), nncf.Dataset(calibration),
                              subset_size=len(calibration), fast_bias_correction=True)
    ov.save_model(quantized, out / "int8-nncf.xml")
    manifest = Manifest.load(out)
    manifest.add_ir("int8-nncf", out / "int8-nncf.xml")
    manifest.save()
    return out


@pytest.fixture(scope="session")
def quick_run(bench_model, bench_reference_model, tmp_path_factory) -> dict:
    """One real `satedge bench --quick` on the tiny model and the tiny reference model: its exit, output folder,
    work folder and results."""
    out = tmp_path_factory.mktemp("bench-out")
    work = tmp_path_factory.mktemp("bench-work")
    done = run_cli("bench", "--model", str(bench_model), "--model", str(bench_reference_model), "--quick",
                   "--record", "--out", str(out), "--work", str(work), timeout=600)
    results_path = out / "bench" / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else None
    return {"done": done, "out": out, "work": work, "results": results, "model": bench_model}
