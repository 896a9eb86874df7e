"""`satedge scenes --format both`: the xBD layout, labels that agree with targets, and georeferencing."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import cv2
import numpy as np
import rasterio
from rasterio.warp import transform as warp_transform
from rasterio.windows import from_bounds

from tests.sim.conftest import SMALL
from tests.sim.helpers import load_label, rasterize, ring

STEM = re.compile(r"^(flood|wildfire|earthquake|hurricane)-\d+_\d{8}$")
METADATA_KEYS = {"width", "height", "gsd", "off_nadir_angle", "sensor", "capture_date", "disaster", "disaster_type"}


def stems(root):
    return sorted(p.name[: -len("_pre_disaster.png")] for p in (root / "images").glob("*_pre_disaster.png"))


def test_layout_has_four_xbd_pairs(both_set):
    names = stems(both_set)
    assert len(names) == 4
    buildings = 0
    for stem in names:
        assert STEM.match(stem), stem
        for phase in ("pre", "post"):
            image = cv2.imread(str(both_set / "images" / f"{stem}_{phase}_disaster.png"), cv2.IMREAD_UNCHANGED)
            assert image.shape == (SMALL, SMALL, 3) and image.dtype == np.uint8
            target = cv2.imread(str(both_set / "targets" / f"{stem}_{phase}_disaster_target.png"),
                                cv2.IMREAD_UNCHANGED)
            assert target.shape == (SMALL, SMALL) and target.dtype == np.uint8
            allowed = {0, 1} if phase == "pre" else {0, 1, 2, 3, 4}
            assert set(np.unique(target).tolist()) <= allowed
            label = load_label(both_set / "labels" / f"{stem}_{phase}_disaster.json")
            assert METADATA_KEYS <= set(label["metadata"])
            assert label["metadata"]["width"] == label["metadata"]["height"] == SMALL
            assert label["metadata"]["disaster"] == stem.split("_")[0]
            assert len(label["features"]["xy"]) == len(label["features"]["lng_lat"])
            buildings += len(label["features"]["xy"])
            for feature in label["features"]["xy"]:
                assert feature["properties"]["feature_type"] == "building"
                assert ("subtype" in feature["properties"]) == (phase == "post")
    assert buildings > 0


def test_post_labels_rasterize_onto_targets(both_set):
    for stem in stems(both_set):
        label = load_label(both_set / "labels" / f"{stem}_post_disaster.json")
        target = cv2.imread(str(both_set / "targets" / f"{stem}_post_disaster_target.png"), cv2.IMREAD_UNCHANGED)
        drawn = rasterize(label, SMALL)
        for c in range(1, 5):
            a, b = drawn == c, target == c
            if a.any() or b.any():
                iou = (a & b).sum() / (a | b).sum()
                assert iou > 0.98, (stem, c, iou)
        pre = cv2.imread(str(both_set / "targets" / f"{stem}_pre_disaster_target.png"), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(pre, (target > 0).astype(np.uint8))


def test_lng_lat_matches_the_geotiff_transform(both_set):
    for stem in stems(both_set):
        label = load_label(both_set / "labels" / f"{stem}_post_disaster.json")
        with rasterio.open(both_set / "geotiff" / f"{stem}_post_disaster.tif") as src:
            crs, transform = src.crs, src.transform
        for xy_feature, ll_feature in zip(label["features"]["xy"], label["features"]["lng_lat"]):
            assert xy_feature["properties"]["uid"] == ll_feature["properties"]["uid"]
            xy, ll = ring(xy_feature["wkt"]), ring(ll_feature["wkt"])
            assert np.all(np.abs(ll[:, 0]) <= 180) and np.all(np.abs(ll[:, 1]) <= 90)
            xs, ys = warp_transform("EPSG:4326", crs, ll[:, 0].tolist(), ll[:, 1].tolist())
            cols, rows = ~transform @ (np.array(xs), np.array(ys))
            assert np.allclose(np.column_stack([cols, rows]), xy, atol=0.02)


def test_geotiffs_are_georeferenced_with_acquisition_time(both_set):
    for stem in stems(both_set):
        label = load_label(both_set / "labels" / f"{stem}_post_disaster.json")
        with rasterio.open(both_set / "geotiff" / f"{stem}_post_disaster.tif") as src:
            assert src.crs.is_projected and 32601 <= src.crs.to_epsg() <= 32660   # UTM north
            assert src.res == (0.5, 0.5)
            assert src.transform.b == src.transform.d == 0                          # north up
            assert (src.count, src.dtypes[0], src.width, src.height) == (3, "uint8", SMALL, SMALL)
            when = src.tags()["ACQUISITION_TIME"]
            post = cv2.cvtColor(cv2.imread(str(both_set / "images" / f"{stem}_post_disaster.png")),
                                cv2.COLOR_BGR2RGB)
            assert np.array_equal(np.moveaxis(src.read(), 0, 2), post)
        parsed = datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert when == label["metadata"]["capture_date"]
        pre_label = load_label(both_set / "labels" / f"{stem}_pre_disaster.json")
        assert datetime.strptime(pre_label["metadata"]["capture_date"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC) < parsed


def test_reference_mosaic_covers_every_scene_with_its_pre_image(both_set):
    with rasterio.open(both_set / "geotiff" / "reference.tif") as ref:
        # laid out as the daemon reads it cheapest: tiled, uncompressed, bands apart (sim/scenes/geo.py)
        assert ref.profile["tiled"] and "compress" not in ref.profile and ref.profile["interleave"] == "band"
        assert ref.res == (0.5, 0.5)
        # Compact: the four scenes sit on a 2 x 2 grid of adjacent cells.
        assert (ref.width, ref.height) == (2 * SMALL, 2 * SMALL)
        for stem in stems(both_set):
            with rasterio.open(both_set / "geotiff" / f"{stem}_post_disaster.tif") as src:
                assert src.crs == ref.crs
                b, r = src.bounds, ref.bounds
                assert r.left <= b.left and b.right <= r.right and r.bottom <= b.bottom and b.top <= r.top
                window = from_bounds(*b, transform=ref.transform)
                pre_ref = np.moveaxis(ref.read(window=window), 0, 2)
            pre = cv2.cvtColor(cv2.imread(str(both_set / "images" / f"{stem}_pre_disaster.png")), cv2.COLOR_BGR2RGB)
            assert np.array_equal(pre_ref, pre)


def test_reference_mosaic_follows_any_cell_layout(tmp_path):
    """The camera feed lays scenes out one row per orbit; the mosaic takes the cells it is given."""
    import dataclasses

    from sim.scenes.geo import GeoTiffWriter
    from sim.scenes.scene import make_scene
    from sim.scenes.spec import plan

    specs = [dataclasses.replace(s, cell=(0, k)) for k, s in enumerate(plan(5, seed=4, size=64))]
    writer = GeoTiffWriter(tmp_path, specs)
    scenes = [make_scene(s) for s in specs]
    for scene in scenes:
        writer.add(scene)
    writer.close()
    with rasterio.open(tmp_path / "geotiff" / "reference.tif") as ref:
        assert (ref.width, ref.height) == (5 * 64, 64)
        for k, scene in enumerate(scenes):
            assert np.array_equal(np.moveaxis(ref.read(window=((0, 64), (64 * k, 64 * (k + 1)))), 0, 2), scene.pre)
