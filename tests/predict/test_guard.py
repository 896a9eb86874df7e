"""The committed model's guard: flags a scene of noise and real Joplin imagery, passes held-out synthetic scenes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from onboard import guard
from onboard.engine import Engine
from onboard.manifest import Manifest
from predict.inputs import read_xbd
from tests.predict.conftest import JOPLIN, JOPLIN_COVERED, MODEL

# Held-out scenes at the calibration's size; seed 8400 is neither training (2026), evaluation (7000),
# calibration (8100) nor the false-alarm test set (8200).
HELD_OUT_SEED = 8400


@pytest.fixture(scope="module")
def model_guard() -> guard.Guard:
    g = guard.load(MODEL)
    assert g is not None, f"{MODEL} carries no {guard.GUARD_FILE}"
    return g


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(Manifest.load(MODEL), "int8")


def _verdict(engine: Engine, g: guard.Guard, pixels: np.ndarray) -> list[str]:
    job = engine.run_scene(pixels)
    return g.check(guard.statistics(job.stitcher["classes"], job.stitcher["confidence"]))


def test_noise_is_flagged(engine, model_guard):
    noise = np.random.default_rng(0).integers(0, 256, (6, 1024, 1024), dtype=np.uint8)
    assert _verdict(engine, model_guard, noise)


def test_a_blank_scene_is_not_suspect(engine, model_guard):
    """Sea, desert, cloud: nothing found is an answer the model can give, not a sign of confusion."""
    assert _verdict(engine, model_guard, np.full((6, 1024, 1024), 90, np.uint8)) == []


def test_held_out_synthetic_scenes_pass(engine, model_guard, tmp_path):
    from sim.scenes.generate import generate
    generate(tmp_path, 3, HELD_OUT_SEED, size=1024, fmt="xbd")
    for post in sorted((tmp_path / "images").glob("*_post_disaster.png")):
        assert _verdict(engine, model_guard, read_xbd(post).pixels) == [], post.name


def test_real_joplin_tiles_are_flagged(joplin_reference, model_guard):
    from predict.run import Predictor
    predictor = Predictor(MODEL, "int8", joplin_reference)
    try:
        for name in JOPLIN_COVERED:
            result = predictor.infer(predictor.read(JOPLIN / "post" / name))
            assert result.ood, f"{name}: {result.stats}"
    finally:
        predictor.close()


def test_the_calibration_says_where_it_came_from(model_guard):
    assert model_guard.calibration["scenes"] >= 100
    assert set(model_guard.bounds) == {"building", "conf", "unsure"}
    assert Path(MODEL / guard.GUARD_FILE).exists()
