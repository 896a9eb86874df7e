"""The realistic style: reproducible by seed, labels that match what is drawn at the event's GSD, and the
properties it exists for (noise, texture, bigger irregular buildings), with the classic style left alone."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import shapely

from sim.scenes import make_scene, plan
from sim.scenes.realism import image_stats, noise_sigma, to_metres, utm
from sim.scenes.spec import GSD_M, GSD_RANGE
from tests.sim.conftest import SMALL
from tests.sim.helpers import load_label, rasterize, ring


@pytest.fixture(scope="module")
def pairs():
    """The same 6 scenes (seed 21, 256 px) in both styles."""
    classic = plan(6, seed=21, size=SMALL)
    realistic = plan(6, seed=21, size=SMALL, style="realistic")
    return [make_scene(s) for s in classic], [make_scene(s) for s in realistic]


def test_plan_keeps_the_classic_style_and_gives_realistic_events_their_own_gsd():
    classic, realistic = plan(40, seed=5, size=256), plan(40, seed=5, size=256, style="realistic")
    assert {(s.style, s.gsd) for s in classic} == {("classic", GSD_M)}
    assert [dataclasses.replace(s, style="classic", gsd=GSD_M) for s in realistic] == classic
    by_event = {}
    for s in realistic:
        by_event.setdefault(s.event, set()).add(s.gsd)
        assert GSD_RANGE[0] - 0.01 <= s.gsd <= GSD_RANGE[1] + 0.01
        assert (s.size * s.gsd / GSD_M) == round(s.size * s.gsd / GSD_M)   # a whole number of drawing pixels
        assert s.transform[0] == s.gsd and s.transform[4] == -s.gsd
    assert all(len(g) == 1 for g in by_event.values()) and len({next(iter(g)) for g in by_event.values()}) > 1


def test_same_seed_same_bytes_other_seed_other_scene():
    spec = plan(4, seed=8, size=128, style="realistic")[2]
    a, b = make_scene(spec), make_scene(spec)
    for name in ("pre", "post", "target_pre", "target_post"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert [x.uid for x in a.buildings] == [x.uid for x in b.buildings]
    other = make_scene(dataclasses.replace(spec, seed=9))
    assert not np.array_equal(a.post, other.post)


def test_targets_are_the_footprints_and_inside_the_scene(pairs):
    from sim.scenes.scene import rasterize as draw

    for s in pairs[1]:
        assert s.pre.shape == s.post.shape == (SMALL, SMALL, 3)
        assert np.array_equal(s.target_post, draw(s.buildings, SMALL))
        assert np.array_equal(s.target_pre, (s.target_post > 0).astype(np.uint8))
        for b in s.buildings:
            assert shapely.Polygon(b.outline).is_valid
            assert b.outline.min() >= 0 and b.outline.max() <= SMALL


def test_written_labels_rasterize_onto_targets_with_the_scene_gsd(realistic_set):
    labels = sorted((realistic_set / "labels").glob("*_post_disaster.json"))
    assert len(labels) == 6
    buildings = 0
    for path in labels:
        label = load_label(path)
        meta = label["metadata"]
        assert meta["transform"][0] == meta["gsd"] and GSD_RANGE[0] - 0.01 <= meta["gsd"] <= GSD_RANGE[1] + 0.01
        stem = path.name[: -len("_post_disaster.json")]
        target = cv2.imread(str(realistic_set / "targets" / f"{stem}_post_disaster_target.png"), cv2.IMREAD_UNCHANGED)
        drawn = rasterize(label, SMALL)
        for c in range(1, 5):
            a, b = drawn == c, target == c
            if a.any() or b.any():
                assert (a & b).sum() / (a | b).sum() > 0.98, (stem, c)
        # Areas in metres agree: pixel polygons x gsd^2 against the lon/lat polygons projected to UTM.
        xy = [shapely.Polygon(ring(f["wkt"])) for f in label["features"]["xy"]]
        ll = [shapely.from_wkt(f["wkt"]) for f in label["features"]["lng_lat"]]
        buildings += len(xy)
        if ll:
            centre = shapely.MultiPolygon(ll).centroid
            metres = to_metres(ll, utm(centre.x, centre.y))
            for p, m in zip(xy, metres):
                assert m.area == pytest.approx(p.area * meta["gsd"] ** 2, rel=0.01)
    assert buildings > 0


def test_realistic_images_are_noisier_and_textured_and_greyer(pairs):
    classic, realistic = pairs
    c = [image_stats(s.post) for s in classic]
    r = [image_stats(s.post) for s in realistic]
    # Means over the scenes: each realistic image has its own sensor (noise, blur, JPEG or not), so they vary.
    med = {k: (np.mean([x[k] for x in c]), np.mean([x[k] for x in r])) for k in c[0]}
    assert med["noise_sigma"][1] > 1.3 * med["noise_sigma"][0], med["noise_sigma"]
    assert med["laplacian_var"][1] > 1.3 * med["laplacian_var"][0], med["laplacian_var"]
    assert med["flat_share"][1] < 0.5 * med["flat_share"][0] + 1e-3, med["flat_share"]
    assert med["saturation"][1] < 0.9 * med["saturation"][0], med["saturation"]
    # Pre and post come from different sensors: even their noise differs from scene to scene.
    assert any(abs(noise_sigma(cv2.cvtColor(s.pre, cv2.COLOR_RGB2GRAY))
                   - noise_sigma(cv2.cvtColor(s.post, cv2.COLOR_RGB2GRAY))) > 0.3 for s in realistic)


def test_realistic_buildings_are_bigger_fewer_and_irregular(pairs):
    def footprints(scenes):
        polys = [shapely.Polygon(b.outline) for s in scenes for b in s.buildings]
        areas = np.array([p.area * s.spec.gsd ** 2 for s in scenes for p in
                          (shapely.Polygon(b.outline) for b in s.buildings)])
        rect = np.array([p.area / shapely.minimum_rotated_rectangle(p).area for p in polys])
        km2 = sum((s.spec.size * s.spec.gsd) ** 2 for s in scenes) / 1e6
        return areas, rect, len(polys) / km2

    c_area, c_rect, c_density = footprints(pairs[0])
    r_area, r_rect, r_density = footprints(pairs[1])
    assert np.median(r_area) > 1.3 * np.median(c_area)
    assert r_density < c_density
    assert (r_rect < 0.97).mean() > 0.3 > (c_rect < 0.97).mean() - 0.3


def test_a_fixed_gsd_writes_geotiffs_and_a_reference_mosaic_at_it(tmp_path):
    import rasterio

    from sim.scenes import generate

    result = generate(tmp_path / "geo", count=2, seed=4, size=128, fmt="both", style="realistic", gsd=0.6)
    assert result["gsd_m"] == [0.6015625]            # 0.6 rounded to the 0.5 m drawing grid at 128 px
    for stem in result["stems"]:
        with rasterio.open(tmp_path / "geo" / "geotiff" / f"{stem}_post_disaster.tif") as src:
            assert src.res == (0.6015625, 0.6015625)
    with rasterio.open(tmp_path / "geo" / "geotiff" / "reference.tif") as ref:
        assert ref.res == (0.6015625, 0.6015625) and ref.width == 2 * 128


def test_the_camera_scenario_can_ask_for_the_realistic_style():
    from sim.camera import scenario_specs
    from sim.config import ScenarioSection

    specs = scenario_specs(ScenarioSection(style="realistic", orbits=1, scenes_per_orbit=2, scene_size=256), 0.0)
    assert {(s.style, s.gsd) for s in specs} == {("realistic", GSD_M)}
    assert {s.style for s in scenario_specs(ScenarioSection(orbits=1, scenes_per_orbit=2), 0.0)} == {"classic"}
