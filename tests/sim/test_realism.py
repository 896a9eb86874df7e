"""`satedge realism`: each statistic on inputs whose answer is known, then the command on real Joplin tiles."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely

from sim.scenes.realism import WGS84, building_stats, image_stats, noise_sigma, resample, to_metres, utm
from tests.conftest import REPO, run_cli

JOPLIN = REPO.parent / "shared" / "realdata" / "joplin"


def test_noise_estimate_recovers_the_noise_added_to_a_flat_image():
    rng = np.random.default_rng(0)
    flat = np.full((512, 512), 100.0)
    assert noise_sigma(flat.astype(np.uint8)) == 0.0
    noisy = np.clip(flat + rng.normal(0, 5, flat.shape), 0, 255).round().astype(np.uint8)
    assert noise_sigma(noisy) == pytest.approx(5.0, rel=0.1)


def test_a_flat_grey_image_is_all_flat_blocks_no_texture_no_colour():
    stats = image_stats(np.full((64, 64, 3), 120, dtype=np.uint8))
    assert stats["flat_share"] == 1.0 and stats["gradient"] == 0.0 and stats["saturation"] == 0.0
    assert stats["mean_g"] == 120.0 and stats["green_share"] == 0.0


def test_resampling_to_a_coarser_gsd_shrinks_the_image():
    assert resample(np.zeros((100, 100, 3), np.uint8), 0.5, 0.5, 0.6).shape == (83, 83, 3)
    image = np.zeros((10, 10, 3), np.uint8)
    assert resample(image, 0.6, 0.6, 0.6) is image


def test_building_statistics_of_two_known_squares():
    squares = [shapely.box(0, 0, 10, 10), shapely.box(100, 100, 120, 105)]
    stats = building_stats(squares, scene_km2=1.0)
    assert stats["per_km2"] == 2 and stats["roof_share"] == pytest.approx(200 / 1e6)
    assert stats["area_median"] == pytest.approx(100.0) and stats["rectangularity"] == pytest.approx(1.0)
    assert stats["compactness"] == pytest.approx((math.pi / 4 + 4 * math.pi * 100 / 50 ** 2) / 2)


def test_polygons_in_degrees_become_metres_in_their_utm_zone():
    square = shapely.box(-94.5, 37.08, -94.499, 37.081)        # 0.001° in Joplin: ~89 m × 111 m
    crs = utm(-94.5, 37.08)
    assert crs.to_epsg() == 32615 and WGS84.to_epsg() == 4326
    (metres,) = to_metres([square], crs)
    assert metres.area == pytest.approx(88.8 * 111.0, rel=0.02)


@pytest.mark.skipif(not JOPLIN.is_dir(), reason=f"the real Joplin tiles are not at {JOPLIN}")
def test_the_command_compares_real_joplin_tiles_with_generated_scenes(both_set, tmp_path):
    out = tmp_path / "realism.json"
    done = run_cli("realism", "--real", *map(str, sorted((JOPLIN / "post").glob("*.tif"))), "--footprints",
                   str(JOPLIN / "footprints.geojson"), "--generated", str(both_set), "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "| roof share of the scene |" in done.stdout and "generated / real" in done.stdout
    result = json.loads(out.read_text())
    real = result["sets"]["real"]
    assert real["images"] == 6 and 0.02 < real["buildings"]["roof_share"] < 0.3   # README: footprints 6–11 %
    assert result["sets"]["generated"]["images"] == 4


def test_a_missing_input_is_one_line(both_set, tmp_path):
    done = run_cli("realism", "--real", str(tmp_path / "nope.tif"), "--generated", str(both_set))
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1 and "nope.tif" in done.stderr
