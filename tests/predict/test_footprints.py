"""The localisation score against footprints: known answers from the generator's own truth."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio

from onboard import postprocess
from predict import footprints
from satedge.vocabulary import CONFIDENCE_STEPS
from tests.conftest import run_cli
from tests.predict.conftest import JOPLIN, MODEL, truth_footprints


def _scene(generated: Path):
    """A generated post GeoTIFF's grid and its true building mask (the generator's post target)."""
    post = sorted((generated / "geotiff").glob("*_post_disaster.tif"))[0]
    target = cv2.imread(str(generated / "targets" / f"{post.stem}_target.png"), cv2.IMREAD_UNCHANGED)
    with rasterio.open(post) as ds:
        crs, transform = ds.crs, ds.transform
    return post, target.astype(np.uint8), crs, transform


def _score(classes, crs, transform, polygons, tree, coverage=None, part="all") -> dict:
    confidence = np.full(classes.shape, CONFIDENCE_STEPS, np.uint8)
    found, labels = postprocess.instances(classes, confidence, crs, transform, split_m=0.0, min_area_m2=0.0,
                                          coverage=coverage)
    return footprints.score_scene(classes, labels, found, crs, transform, polygons, tree, coverage)[part].scores()


@pytest.fixture(scope="module")
def truth(generated, tmp_path_factory):
    return footprints.load(truth_footprints(generated / "labels", tmp_path_factory.mktemp("fp") / "truth.geojson"))


def test_the_truth_scores_one(generated, truth):
    _, target, crs, transform = _scene(generated)
    scores = _score(target, crs, transform, *truth)
    # The generator's target includes every pixel an outline touches, the score's rasterisation only pixels
    # whose centre is inside: about one pixel ring, ~10 % of a small house's pixels.
    assert scores["pixel"]["recall"] > 0.98 and scores["pixel"]["f1"] > 0.92, scores
    assert scores["building"]["f1"] > 0.95, scores
    assert 0.9 < scores["share_ratio"] < 1.2


def test_the_parts_with_and_without_a_pre_image_are_scored_apart(generated, truth):
    """The truth as prediction, the reference covering the west half: each part scores the truth, and the
    two parts split the scene's buildings between them."""
    _, target, crs, transform = _scene(generated)
    coverage = np.zeros(target.shape, bool)
    coverage[:, : target.shape[1] // 2] = True
    whole = _score(target, crs, transform, *truth, coverage=coverage)
    parts = {part: _score(target, crs, transform, *truth, coverage=coverage, part=part)
             for part in ("with_pre", "post_only")}
    for scores in parts.values():
        assert scores["pixel"]["f1"] > 0.9 and scores["building"]["f1"] > 0.85, scores
        assert 0 < scores["building"]["footprints"] < whole["building"]["footprints"]
    assert sum(p["building"]["footprints"] for p in parts.values()) == whole["building"]["footprints"]


def test_half_the_buildings_scores_half_the_recall(generated, truth):
    _, target, crs, transform = _scene(generated)
    _, labels = cv2.connectedComponents((target > 0).astype(np.uint8))
    half = np.where(labels % 2 == 1, target, 0).astype(np.uint8)
    scores = _score(half, crs, transform, *truth)
    assert scores["pixel"]["precision"] > 0.85
    assert 0.3 < scores["pixel"]["recall"] < 0.7
    assert scores["building"]["precision"] > 0.9 and 0.3 < scores["building"]["recall"] < 0.7


def test_shifted_buildings_do_not_match(generated, truth):
    """Every building moved by 20 pixels (10 m): IoU drops below 0.5, nothing matches."""
    _, target, crs, transform = _scene(generated)
    shifted = np.zeros_like(target)
    shifted[20:, 20:] = target[:-20, :-20]
    scores = _score(shifted, crs, transform, *truth)
    assert scores["building"]["f1"] < 0.1 and scores["pixel"]["f1"] < 0.5, scores


def test_nothing_predicted_scores_zero(generated, truth):
    _, target, crs, transform = _scene(generated)
    scores = _score(np.zeros_like(target), crs, transform, *truth)
    assert scores["pixel"]["f1"] == 0 and scores["building"]["f1"] == 0 and scores["building"]["footprints"] > 0


def test_evaluate_cli_on_a_generated_scene(generated, tmp_path):
    """The committed model through `satedge evaluate --footprints` on a held-out-style scene: close to its
    synthetic localisation F1 (0.89 on the held-out set), far from what a blind model gets."""
    truth_path = truth_footprints(generated / "labels", tmp_path / "truth.geojson")
    result = run_cli("evaluate", "--model", str(MODEL), "--precision", "int8", "--footprints", str(truth_path),
                     "--reference", str(generated / "geotiff" / "reference.tif"),
                     "--data", str(generated / "geotiff" / "flood-1_00000000_post_disaster.tif"),
                     str(generated / "geotiff" / "flood-1_00000001_post_disaster.tif"), "--quiet")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["kind"] == "real imagery, localisation only" and scores["scored"] == 2
    assert scores["pixel"]["f1"] > 0.75, scores["pixel"]
    assert scores["building"]["f1"] > 0.5, scores["building"]


def test_evaluate_cli_scores_every_joplin_tile_and_its_covered_and_uncovered_parts(joplin_reference, tmp_path):
    """Real tiles: all six scored (four only partly under the reference), the parts adding up to the whole."""
    result = run_cli("evaluate", "--model", str(MODEL), "--footprints", str(JOPLIN / "footprints.geojson"),
                     "--reference", str(joplin_reference), "--data", str(JOPLIN / "post"), "--quiet")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["scored"] == 6 and scores["skipped"] == []
    assert sorted(round(s["coverage"], 2) for s in scores["scenes"]) == [0.07, 0.16, 0.41, 0.42, 1.0, 1.0]
    with_pre, post_only = scores["parts"]["with_pre"], scores["parts"]["post_only"]
    assert with_pre["building"]["footprints"] > 100 and post_only["building"]["footprints"] > 100
    share = [part["predicted_share"] * part["footprint_share"] for part in (with_pre, post_only)]
    assert all(s > 0 for s in share) and 0 <= scores["pixel"]["f1"] <= 1
    # the parts split every footprint and every predicted building between them
    for key in ("footprints", "predicted"):
        assert with_pre["building"][key] + post_only["building"][key] == scores["building"][key]


def test_evaluate_cli_refuses_a_checkpoint_for_footprints(tmp_path):
    fake = tmp_path / "model.pt"
    fake.write_bytes(b"x")
    result = run_cli("evaluate", "--model", str(fake), "--footprints", str(fake), "--data", str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
