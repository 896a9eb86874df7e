"""sim.scenes.gaps: the statistics it compares generated and real scenes by."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.scenes import gaps


def test_flat_image_has_no_texture_and_checkerboard_has_much():
    flat = gaps.image_statistics(np.full((64, 64, 3), (100, 150, 90), np.uint8))
    assert flat["gradient"] == 0 and flat["laplacian_var"] == 0 and flat["std_gray"] == 0
    assert flat["vegetation"] == 1.0 and flat["mean_g"] == 150
    board = np.kron(np.indices((32, 32)).sum(0) % 2, np.ones((2, 2))).astype(np.uint8) * 255
    busy = gaps.image_statistics(np.repeat(board[..., None], 3, axis=2))
    assert busy["gradient"] > 100 and busy["laplacian_var"] > 1000 and busy["saturation"] == 0


def test_building_statistics():
    stats = gaps.building_statistics([100.0, 200.0, 300.0], covered_km2=0.001)
    assert stats["buildings"] == 3 and stats["per_km2"] == 3000 and stats["area_median_m2"] == 200
    assert stats["share"] == pytest.approx(0.6)


def test_run_on_generated_scenes(tmp_path, capsys):
    from sim.scenes.generate import generate
    generate(tmp_path, 2, 8500, size=256, fmt="xbd")
    real = sorted((tmp_path / "images").glob("*_pre_disaster.png"))[0]
    assert gaps.main(["--generated", str(tmp_path), "--real", str(real)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["generated"]["scenes"] == 2 and out["generated"]["buildings"]["buildings"] > 0
    assert out["real"][str(real)]["mean_r"] > 0
