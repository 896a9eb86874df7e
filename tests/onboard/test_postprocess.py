"""Buildings from a class map: instances, votes, areas, WGS84 centroids, and the summary body."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin
from rasterio.warp import transform as warp_transform

from onboard import postprocess
from satedge.protocol import post_only_rows, priority, validate_body
from satedge.vocabulary import CONFIDENCE_STEPS

UTM = CRS.from_epsg(32633)
TRANSFORM = from_origin(500_000.0, 6_000_000.0, 0.5, 0.5)


def confidence_for(classes: np.ndarray, p: float = 0.8) -> np.ndarray:
    """Every pixel's winning probability is `p` (as the head gives it: u8 in 1/255 steps)."""
    return np.full(classes.shape, round(p * CONFIDENCE_STEPS), dtype=np.uint8)


def test_buildings_classes_areas_and_centroids():
    classes = np.zeros((100, 100), np.uint8)
    classes[10:30, 10:30] = 4          # 20x20 px = 100 m², destroyed
    classes[60:70, 50:60] = 1          # 10x10 px = 25 m², no damage
    found = postprocess.buildings(classes, confidence_for(classes), UTM, TRANSFORM, split_m=1.0, min_area_m2=1.0)
    order = np.argsort(found.area)[::-1]
    assert found.cls[order].tolist() == [4, 1]
    assert found.area[order].tolist() == [100.0, 25.0]
    np.testing.assert_allclose(found.conf, 80, atol=0.1)
    # Centroid of the first: pixel centre (20, 20) -> UTM -> WGS84.
    (lon,), (lat,) = warp_transform(UTM, postprocess.WGS84, [500_000 + 20 * 0.5], [6_000_000 - 20 * 0.5])
    assert found.lon[order][0] == pytest.approx(lon, abs=1e-7) and found.lat[order][0] == pytest.approx(lat, abs=1e-7)


def test_touching_buildings_are_split_at_a_neck():
    classes = np.zeros((60, 80), np.uint8)
    classes[10:30, 10:30] = 2
    classes[19:21, 30:40] = 2          # a 1 m wide neck
    classes[10:30, 40:60] = 3
    n, labels = postprocess.label_buildings(classes, split_px=2)
    assert n == 2
    assert labels[20, 20] != labels[20, 50] and labels[20, 20] > 0 and labels[20, 50] > 0
    assert (labels > 0).sum() == (classes > 0).sum()     # every building pixel belongs to one


def test_a_row_of_three_joined_buildings_is_split_in_three_and_a_neighbour_is_left_alone():
    classes = np.zeros((60, 120), np.uint8)
    for x in (10, 45, 80):
        classes[10:30, x:x + 25] = 2
    classes[19:21, 35:45] = 2          # necks
    classes[19:21, 70:80] = 2
    classes[40:55, 10:25] = 4          # a separate building
    n, labels = postprocess.label_buildings(classes, split_px=2)
    assert n == 4
    assert len({labels[20, 20], labels[20, 55], labels[20, 90], labels[48, 15]}) == 4
    assert (labels > 0).sum() == (classes > 0).sum() and labels.max() == 4


def test_more_seeds_than_16_bit_labels_can_count_are_still_split_right():
    """Seeds are labelled in 16 bits to save memory; past 65,535 of them OpenCV refuses, and 32 bits take over."""
    classes = np.zeros((2048, 2048), np.uint8)
    starts = range(0, 2048 - 5, 7)                 # 5x5 buildings 2 px apart: 85,849 of them, one seed each
    for y in starts:
        for x in starts:
            classes[y:y + 5, x:x + 5] = 2
    classes[2, 5:7] = 2                            # the first two joined by a 1 px neck: one component
    n, labels = postprocess.label_buildings(classes, split_px=1)
    assert n == len(starts) ** 2                   # the joined pair split in two again
    assert labels[2, 2] != labels[2, 9] and labels[2, 2] > 0 and labels[2, 9] > 0
    assert (labels > 0).sum() == (classes > 0).sum()


def test_a_solid_block_is_one_building_and_a_tie_goes_to_the_more_severe_class():
    classes = np.zeros((40, 60), np.uint8)
    classes[10:20, 10:20] = 1
    classes[10:20, 20:30] = 4          # same block, half no-damage, half destroyed
    found = postprocess.buildings(classes, confidence_for(classes), UTM, TRANSFORM, split_m=1.0, min_area_m2=1.0)
    assert found.cls.tolist() == [4]
    assert found.conf[0] == pytest.approx(0.5 * 80, abs=0.2)   # the no-damage half voted otherwise


def test_small_blobs_are_not_buildings():
    classes = np.zeros((40, 40), np.uint8)
    classes[5, 5] = 3                  # 0.25 m²
    classes[20:26, 20:26] = 3          # 9 m²
    found = postprocess.buildings(classes, confidence_for(classes), UTM, TRANSFORM, split_m=1.0, min_area_m2=4.0)
    assert found.area.tolist() == [9.0]


def test_area_in_a_geographic_crs():
    degrees = from_origin(15.0, 60.0, 1e-5, 1e-5)       # about 1.1 m x 0.56 m at 60 N
    classes = np.zeros((20, 20), np.uint8)
    classes[5:15, 5:15] = 1
    found = postprocess.buildings(classes, confidence_for(classes), CRS.from_epsg(4326), degrees,
                                  split_m=0, min_area_m2=0)
    expected = 100 * (1e-5 * 111_320) ** 2 * np.cos(np.radians(60.0))
    assert found.area[0] == pytest.approx(expected, rel=0.01)


def test_summary_body_keeps_to_the_protocol():
    classes = np.zeros((100, 100), np.uint8)
    classes[10:30, 10:30] = 4
    classes[60:70, 50:60] = 1
    classes[40:50, 70:80] = 2
    found = postprocess.buildings(classes, confidence_for(classes), UTM, TRANSFORM, split_m=1.0, min_area_m2=1.0)
    body = postprocess.summary_body("scene-1", 1.8e9, UTM, TRANSFORM, 100, 100, found, model="tiny",
                                    precision="fp16", raw_bytes=30000, min_class=2)
    validate_body(body)
    assert body["n"] == [1, 1, 0, 1]
    assert sorted(row[2] for row in body["b"]) == [2, 4]          # no-damage is counted, not listed
    assert priority(body["n"]) == 0
    lon0, lat0, lon1, lat1 = body["bbox"]
    assert lon0 < lon1 and lat0 < lat1
    for dlon, dlat, *_ in body["b"]:
        assert 0 < dlon < (lon1 - lon0) * 1e6 and 0 < dlat < (lat1 - lat0) * 1e6
    everything = postprocess.summary_body("scene-1", 1.8e9, UTM, TRANSFORM, 100, 100, found, model="tiny",
                                          precision="fp16", raw_bytes=30000, min_class=1)
    assert len(everything["b"]) == 3


def test_a_building_is_post_only_where_most_of_it_had_no_pre_event_view():
    classes = np.zeros((100, 100), np.uint8)
    classes[10:30, 10:30] = 4          # wholly in the covered west
    classes[60:70, 44:54] = 3          # 6 of 10 columns east of the edge at x = 48: post-only
    classes[40:50, 70:80] = 2          # wholly in the uncovered east
    coverage = np.zeros((100, 100), bool)
    coverage[:, :48] = True
    found = postprocess.buildings(classes, confidence_for(classes), UTM, TRANSFORM, split_m=1.0, min_area_m2=1.0,
                                  coverage=coverage)
    assert dict(zip(found.cls.tolist(), found.post_only.tolist())) == {4: False, 3: True, 2: True}
    body = postprocess.summary_body("edge", 1.8e9, UTM, TRANSFORM, 100, 100, found, model="tiny", precision="fp16",
                                    raw_bytes=30000, min_class=3, coverage=coverage.mean())
    validate_body(body)
    assert body["cov"] == 48
    assert {row[2]: flag for row, flag in zip(body["b"], post_only_rows(body))} == {4: False, 3: True}
    whole = postprocess.summary_body("seen", 1.8e9, UTM, TRANSFORM, 100, 100,
                                     postprocess.buildings(classes, confidence_for(classes), UTM, TRANSFORM, 1.0, 1.0),
                                     model="tiny", precision="fp16", raw_bytes=30000, min_class=1)
    assert whole["cov"] == 100 and "po" not in whole


def test_a_scene_without_buildings():
    classes = np.zeros((32, 32), np.uint8)
    found = postprocess.buildings(classes, confidence_for(classes), UTM, TRANSFORM, split_m=1.0, min_area_m2=1.0)
    body = postprocess.summary_body("empty", 0.0, UTM, TRANSFORM, 32, 32, found, model="tiny", precision="fp32",
                                    raw_bytes=1, min_class=2)
    validate_body(body)
    assert body["n"] == [0, 0, 0, 0] and body["b"] == [] and priority(body["n"]) == 3


def test_an_oversized_summary_is_cut_to_the_protocols_bounds():
    """Issue 16 row 3: a 1.5 MB SCENE_ID or a scene of countless buildings made a summary no window could
    carry, blocking every summary behind it. The id is cut, the most damaged buildings are listed, `cut`
    counts the rest, `n` still counts them all, and the frame fits the protocol's bounds."""
    from satedge.protocol import MAX_LISTED, MAX_SCENE_ID, encode
    many = 3 * MAX_LISTED
    rng = np.random.default_rng(0)
    cls = np.array([1, 2, 3, 4] * (many // 4) + [2] * (many % 4), dtype=np.int64)
    found = postprocess.Buildings(cls=cls, area=np.full(many, 20.0), conf=rng.uniform(50, 100, many),
                                  lon=np.full(many, 15.0001), lat=np.full(many, 54.1001),
                                  label=np.arange(1, many + 1), post_only=np.zeros(many, bool))
    body = postprocess.summary_body("x" * 1_500_000, 1.8e9, UTM, TRANSFORM, 100, 100, found, model="tiny",
                                    precision="fp16", raw_bytes=30000, min_class=2)
    validate_body(body)
    assert len(body["scene"]) == MAX_SCENE_ID and len(body["b"]) == MAX_LISTED
    assert body["cut"] == int((cls >= 2).sum()) - MAX_LISTED and sum(body["n"]) == many
    assert sorted(row[2] for row in body["b"])[0] == 3      # destroyed and major first: 750 of each class
    assert len(encode("summary", 1.0, seq=1, prio=0, body=body)) < 20_000
