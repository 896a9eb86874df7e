"""The out-of-distribution guard's statistics, bounds and stored calibration; the capped summary of a flagged scene."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin

from onboard import guard, postprocess
from satedge.errors import UserError
from satedge.vocabulary import CONFIDENCE_STEPS


def test_statistics_of_known_maps():
    classes = np.zeros((64, 64), np.uint8)
    classes[:16] = 1          # a quarter of the scene is buildings
    classes[:4] = 3
    confidence = np.full((64, 64), round(0.9 * CONFIDENCE_STEPS), np.uint8)
    confidence[32:] = round(0.3 * CONFIDENCE_STEPS)     # half the scene unsure
    stats = guard.statistics(classes, confidence)
    assert stats["building"] == pytest.approx(0.25)
    assert stats["unsure"] == pytest.approx(0.5)
    assert stats["conf"] == pytest.approx(0.9, abs=0.5 / CONFIDENCE_STEPS)


def test_a_scene_without_buildings_has_no_building_confidence():
    stats = guard.statistics(np.zeros((32, 32), np.uint8), np.full((32, 32), CONFIDENCE_STEPS, np.uint8))
    assert stats == {"building": 0.0, "unsure": 0.0}
    assert guard.Guard(bounds={"building": (0.0, 0.2), "conf": (0.8, 0.95)}).check(stats) == []


def test_calibrated_bounds_hold_the_samples_and_flag_outliers():
    rng = np.random.default_rng(0)
    samples = [{"building": float(b), "unsure": float(u)} for b, u in zip(rng.normal(0.1, 0.02, 400),
                                                                          rng.normal(0.01, 0.002, 400))]
    g = guard.Guard(bounds=guard.calibrate(samples, tail=0.005, margin=0.25))
    assert sum(bool(g.check(s)) for s in samples) <= 4
    assert g.check({"building": 0.6, "unsure": 0.01}) == ["building"]
    assert g.check({"building": 0.6, "unsure": 0.08}) == ["building", "unsure"]


def test_guard_travels_with_the_model(tmp_path):
    assert guard.load(tmp_path) is None
    g = guard.Guard(bounds={"building": (0.0, 0.3)}, calibration={"scenes": 3})
    g.save(tmp_path)
    assert guard.load(tmp_path) == g
    (tmp_path / guard.GUARD_FILE).write_text("{not json")
    with pytest.raises(UserError, match="guard.json"):
        guard.load(tmp_path)


def _found(n: int) -> postprocess.Buildings:
    cls = np.array([4, 1, 3, 4, 2] * (n // 5))
    conf = np.linspace(50, 99, len(cls))
    return postprocess.Buildings(cls, np.full(len(cls), 80.0), conf, np.full(len(cls), 10.001),
                                 np.full(len(cls), 50.001), label=np.arange(1, len(cls) + 1),
                                 post_only=np.zeros(len(cls), bool))


def _body(found: postprocess.Buildings, ood: list[str]) -> dict:
    return postprocess.summary_body("s", 0.0, CRS.from_epsg(32633), from_origin(500_000, 5_540_000, 0.5, 0.5), 512,
                                    512, found, model="m", precision="int8", raw_bytes=1, min_class=2, ood=ood,
                                    ood_max_listed=5)


def test_a_flagged_scene_lists_only_its_most_severe_buildings():
    found = _found(100)
    plain, flagged = _body(found, []), _body(found, ["building"])
    assert "ood" not in plain and len(plain["b"]) == 80
    assert flagged["ood"] == ["building"] and flagged["n"] == plain["n"]
    assert len(flagged["b"]) == 5 and all(row[2] == 4 for row in flagged["b"])
    confs = sorted((row[4] for row in flagged["b"]), reverse=True)   # the most confident destroyed ones
    assert confs[0] == 99 and flagged["cut"] == 75
