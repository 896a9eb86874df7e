"""`satedge predict` end to end with the committed model: outputs on the post grid, valid polygons, nothing partial."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.warp import transform_bounds
from shapely.geometry import shape

from tests.conftest import run_cli
from tests.predict.conftest import JOPLIN, JOPLIN_COVERED, MODEL


def check_outputs(out: Path, post: Path) -> dict:
    """The three files of one GeoTIFF input: class raster on the post grid, polygons inside it, an overlay."""
    stem = post.stem
    with rasterio.open(post) as src, rasterio.open(out / f"{stem}_classes.tif") as got:
        assert (got.crs, got.transform, got.width, got.height) == (src.crs, src.transform, src.width, src.height)
        assert got.count == 1 and got.dtypes[0] == "uint8"
        classes = got.read(1)
        bounds = shapely.box(*transform_bounds(src.crs, "EPSG:4326", *src.bounds))
    assert classes.max() <= 4
    collection = json.loads((out / f"{stem}.geojson").read_text())
    assert collection["features"], "a scene with buildings yields polygons"
    slack = bounds.buffer(1e-6)   # a millionth of a degree: rounding of the written coordinates
    for feature in collection["features"]:
        polygon = shape(feature["geometry"])
        assert polygon.is_valid and polygon.area > 0
        assert slack.contains(polygon)
        props = feature["properties"]
        assert 1 <= props["grade"] <= 4 and 0 <= props["confidence"] <= 100 and props["area_m2"] > 0
    overlay = out / f"{stem}_overlay.png"
    assert overlay.stat().st_size > 0
    return collection


def test_predict_generated_geotiff(generated, tmp_path):
    post = sorted((generated / "geotiff").glob("*_post_disaster.tif"))[0]
    result = run_cli("predict", "--model", str(MODEL), "--reference", str(generated / "geotiff" / "reference.tif"),
                     "--out", str(tmp_path), "--quiet", str(post))
    assert result.returncode == 0, result.stderr
    collection = check_outputs(tmp_path, post)
    assert collection["properties"]["ood"] == [], "a held-out synthetic scene is in distribution"


def test_predict_xbd_pair(generated, tmp_path):
    post = sorted((generated / "images").glob("*_post_disaster.png"))[0]
    result = run_cli("predict", "--model", str(MODEL), "--precision", "fp16", "--out", str(tmp_path), "--quiet",
                     str(post))
    assert result.returncode == 0, result.stderr
    import cv2
    classes = cv2.imread(str(tmp_path / f"{post.stem}_classes.png"), cv2.IMREAD_UNCHANGED)
    assert classes.shape == cv2.imread(str(post)).shape[:2] and classes.max() <= 4 and classes.any()
    assert (tmp_path / f"{post.stem}_overlay.png").exists()
    assert not (tmp_path / f"{post.stem}.geojson").exists(), "an xBD PNG has no georeferencing: no polygons"


def test_predict_real_joplin_tile(joplin_reference, tmp_path):
    post = JOPLIN / "post" / JOPLIN_COVERED[0]
    result = run_cli("predict", "--model", str(MODEL), "--reference", str(joplin_reference),
                     "--out", str(tmp_path), "--quiet", str(post))
    assert result.returncode == 0, result.stderr
    check_outputs(tmp_path, post)


def test_bad_input_is_one_line_and_leaves_nothing(generated, tmp_path):
    good = sorted((generated / "geotiff").glob("*_post_disaster.tif"))[0]
    truncated = tmp_path / "in" / "truncated.tif"
    truncated.parent.mkdir()
    truncated.write_bytes(good.read_bytes()[:5000])
    out = tmp_path / "out"
    result = run_cli("predict", "--model", str(MODEL), "--reference", str(generated / "geotiff" / "reference.tif"),
                     "--out", str(out), "--quiet", str(truncated), str(good))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "truncated.tif" in errors[0] and "Traceback" not in result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert not any(n.startswith("truncated") or n.startswith(".") for n in names), names
    assert f"{good.stem}_classes.tif" in names, "the good input after the bad one is still predicted"


def test_geotiff_without_reference_is_graded_post_only(generated, tmp_path):
    post = sorted((generated / "geotiff").glob("*_post_disaster.tif"))[0]
    result = run_cli("predict", "--model", str(MODEL), "--out", str(tmp_path), "--quiet", str(post))
    assert result.returncode == 0, result.stderr
    collection = json.loads((tmp_path / f"{post.stem}.geojson").read_text())
    assert collection["properties"]["coverage"] == 0.0
    assert collection["features"] and {f["properties"]["basis"] for f in collection["features"]} == {"post-only"}


def test_failed_write_leaves_no_partial_output(generated, tmp_path, monkeypatch):
    """A failure after some files of an input are written removes them (all or nothing)."""
    from predict import cli, outputs
    from predict.run import Predictor

    post = sorted((generated / "geotiff").glob("*_post_disaster.tif"))[0]
    predictor = Predictor(MODEL, "int8", generated / "geotiff" / "reference.tif")
    result = predictor.infer(predictor.read(post))
    predictor.close()

    def broken_overlay(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(outputs, "overlay", broken_overlay)
    with pytest.raises(OSError):
        cli.write(result, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_reference_in_another_crs_is_warped(generated, tmp_path):
    """A reference in WGS84 while the post scene is UTM: the pre window is warped onto the post grid."""
    from rasterio.vrt import WarpedVRT
    reference = generated / "geotiff" / "reference.tif"
    lonlat = tmp_path / "reference-4326.tif"
    with rasterio.open(reference) as src, WarpedVRT(src, crs="EPSG:4326") as vrt:
        profile = dict(driver="GTiff", width=vrt.width, height=vrt.height, count=3, dtype="uint8", crs=vrt.crs,
                       transform=vrt.transform)
        with rasterio.open(lonlat, "w", **profile) as dst:
            dst.write(vrt.read())
    post = sorted((generated / "geotiff").glob("*_post_disaster.tif"))[0]
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    for ref, out in ((reference, out_a), (lonlat, out_b)):
        result = run_cli("predict", "--model", str(MODEL), "--reference", str(ref), "--out", str(out), "--quiet",
                         str(post))
        assert result.returncode == 0, result.stderr
    with rasterio.open(out_a / f"{post.stem}_classes.tif") as a, rasterio.open(out_b / f"{post.stem}_classes.tif") as b:
        same, warped = a.read(1) > 0, b.read(1) > 0
    agreement = (same == warped).mean()
    assert agreement > 0.95, f"buildings from a warped reference agree on {agreement:.1%} of pixels"
    shutil.rmtree(out_b)
    assert np.isfinite(agreement)
