"""Ingest: every kind of bad input is refused with a reason; good scenes get their pre-event window, and
what the reference does not cover is the no-view fill, said in the scene's coverage."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from onboard import ingest
from tests.onboard.conftest import ACQUIRED, CRS, ORIGIN, RES, texture, write_tiff


@pytest.fixture(scope="module")
def reader(geo):
    reference = ingest.Reference(geo.reference)
    yield ingest.Reader(reference, max_side=4096, max_pixels=4096 * 4096)
    reference.close()


def test_good_scene_gets_the_reference_pixels_under_it(geo, reader, tmp_path):
    path = geo.scene(tmp_path, "good", col=100, row=40, size=96, seed=5)
    scene = reader.read(path, arrived=1.0)
    assert scene.id == "good" and scene.acquired == ACQUIRED
    assert scene.post.shape == scene.pre.shape == (96, 96, 3) and scene.pre.dtype == np.uint8
    with rasterio.open(geo.reference) as ref:
        expected = ref.read(window=((40, 136), (100, 196))).transpose(1, 2, 0)
    np.testing.assert_array_equal(scene.pre, expected)   # aligned grids: read as they are
    assert reader.reference._aligned_window(scene.crs, scene.transform, 96, 96) is not None
    assert scene.raw_bytes == 96 * 96 * 3


def test_reference_is_resampled_onto_the_scene_grid(geo, reader, tmp_path):
    """A scene at 1 m over the 0.5 m reference: pre-event pixels on the scene's own (coarser) grid."""
    path = write_tiff(tmp_path / "coarse.tif", texture(3, 64), west=ORIGIN[0] + 20, north=ORIGIN[1] - 20, res=1.0)
    scene = reader.read(path, arrived=5.0)
    assert scene.pre.shape == (64, 64, 3)
    with rasterio.open(geo.reference) as ref:
        block = ref.read(window=((40, 168), (40, 168))).astype(np.float32)
    coarse = block.reshape(3, 64, 2, 64, 2).mean(axis=(2, 4)).transpose(1, 2, 0)
    assert np.abs(scene.pre.astype(np.float32) - coarse).mean() < 40   # bilinear, not nearest to garbage
    assert reader.reference._aligned_window(scene.crs, scene.transform, 64, 64) is None
    assert scene.acquired == 5.0                                         # no tag: the arrival time


def test_a_covered_scene_keeps_no_coverage_mask(geo, reader, tmp_path):
    scene = reader.read(geo.scene(tmp_path, "inside", col=10, row=10, size=64, seed=2), arrived=0)
    assert scene.coverage is None and scene.coverage_share == 1.0


def test_a_scene_outside_the_reference_is_read_without_a_pre_image(geo, reader, tmp_path):
    path = write_tiff(tmp_path / "far.tif", texture(1, 64), west=ORIGIN[0] + 5000, north=ORIGIN[1])
    scene = reader.read(path, arrived=0)
    assert scene.coverage_share == 0.0 and scene.coverage is not None and not scene.coverage.any()
    assert (scene.pre == ingest.NO_PRE_FILL).all()
    np.testing.assert_array_equal(scene.post, texture(1, 64).transpose(1, 2, 0))


def test_a_scene_half_over_the_reference_edge_has_the_fill_on_the_other_half(geo, reader, tmp_path):
    """32 of 64 columns lie west of the mosaic: those pre pixels are the fill, the others the mosaic's."""
    path = write_tiff(tmp_path / "edge.tif", texture(1, 64), west=ORIGIN[0] - 32 * RES, north=ORIGIN[1])
    scene = reader.read(path, arrived=0)
    assert scene.coverage is not None and scene.coverage_share == pytest.approx(0.5)
    assert not scene.coverage[:, :32].any() and scene.coverage[:, 32:].all()
    assert (scene.pre[:, :32] == ingest.NO_PRE_FILL).all()
    with rasterio.open(geo.reference) as ref:
        np.testing.assert_array_equal(scene.pre[:, 32:], ref.read(window=((0, 64), (0, 32))).transpose(1, 2, 0))


PLACEMENTS = {   # where a 96² scene lies against the reference: on its grid, resampled, over its edge, outside
    "aligned": dict(west=ORIGIN[0] + 30 * RES, north=ORIGIN[1] - 20 * RES),
    "resampled": dict(west=ORIGIN[0] + 20, north=ORIGIN[1] - 20, res=0.7),
    "edge": dict(west=ORIGIN[0] - 32 * RES, north=ORIGIN[1]),
    "outside": dict(west=ORIGIN[0] + 5000, north=ORIGIN[1]),
}


@pytest.mark.parametrize("placement", sorted(PLACEMENTS))
def test_an_opened_scene_read_band_by_band_is_the_scene_read_whole(reader, tmp_path, placement):
    """The daemon's way: `open` reads no pixel, the engine then asks for overlapping bands top to bottom (each
    into the one buffer); together they are the whole read, and the coverage is the same."""
    path = write_tiff(tmp_path / "s.tif", texture(7, 96), **PLACEMENTS[placement])
    whole = reader.read(path, arrived=0)
    scene = reader.open(path, arrived=0)
    assert scene.pixels is None and scene.shape == (96, 96) and scene.rows.counted == 0
    banded = np.zeros((6, 96, 96), np.uint8)
    for y in (0, 28, 56):                                   # 40-row bands overlapping by 12
        band = scene.rows.strip(y, 40)
        assert band.shape == (6, 40, 96)
        banded[:, y:y + 40] = band
    scene.rows.close()
    assert whole.pixels is not None
    np.testing.assert_array_equal(banded, whole.pixels)
    assert scene.coverage_share == whole.coverage_share
    if whole.coverage is None:
        assert scene.coverage is None
    else:
        assert scene.coverage is not None
        np.testing.assert_array_equal(scene.coverage, whole.coverage)


@pytest.mark.parametrize("marked", [True, False], ids=["nodata-declared", "black-gap"])
def test_gaps_inside_a_mosaic_count_as_no_view(tmp_path, marked):
    """A mosaic of separate images has holes inside its extent: declared no-data or simply black."""
    pixels = texture(9, 128)
    pixels[:, :, 64:] = 0                                  # the east half of the mosaic has no image
    reference = tmp_path / "gappy.tif"
    with rasterio.open(reference, "w", driver="GTiff", width=128, height=128, count=3, dtype="uint8", crs=CRS,
                       transform=from_origin(*ORIGIN, RES, RES), nodata=0 if marked else None) as ds:
        ds.write(pixels)
    ref = ingest.Reference(reference)
    try:
        scene = ingest.Reader(ref, 4096, 4096 * 4096).read(
            write_tiff(tmp_path / "s.tif", texture(2, 64), west=ORIGIN[0] + 32 * RES, north=ORIGIN[1]), arrived=0)
    finally:
        ref.close()
    assert scene.coverage is not None and scene.coverage_share == pytest.approx(0.5, abs=0.02)
    assert scene.coverage[:, :30].all() and not scene.coverage[:, 34:].any()


def test_without_any_reference_every_scene_is_post_only(geo, tmp_path):
    scene = ingest.Reader(None, 4096, 4096 * 4096).read(geo.scene(tmp_path, "lone", size=64), arrived=0)
    assert scene.coverage_share == 0.0 and (scene.pre == ingest.NO_PRE_FILL).all()


def test_acquisition_time_in_iso_8601_and_scene_id_tag(geo, reader, tmp_path):
    path = write_tiff(tmp_path / "iso_post_disaster.tif", texture(4, 64), west=ORIGIN[0], north=ORIGIN[1],
                      tags={"ACQUISITION_TIME": "2027-01-15T10:30:00Z", "SCENE_ID": "iso"})
    scene = reader.read(path, arrived=0)
    assert scene.acquired == 1800009000.0 and scene.id == "iso"
    assert scene.identity == "acq:iso@1800009000.0"          # the camera's acquisition id: no hashing


def test_a_scene_without_an_acquisition_id_is_known_by_its_content(geo, reader, tmp_path):
    path = write_tiff(tmp_path / "untagged.tif", texture(4, 64), west=ORIGIN[0], north=ORIGIN[1],
                      tags={"ACQUISITION_TIME": "2027-01-15T10:30:00Z"})       # a time, but no SCENE_ID
    first = reader.read(path, arrived=0).identity
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 64
    write_tiff(path, texture(5, 64), west=ORIGIN[0], north=ORIGIN[1], tags={"ACQUISITION_TIME": "2027-01-15T10:30:00Z"})
    assert reader.read(path, arrived=0).identity != first                       # same name, new content


def _sparse_huge(path):
    """A valid GeoTIFF header claiming 60000 x 60000 pixels (sparse: a few hundred bytes on disk)."""
    with rasterio.open(path, "w", driver="GTiff", width=60000, height=60000, count=3, dtype="uint8",
                       crs=CRS, transform=from_origin(*ORIGIN, RES, RES), tiled=True, sparse_ok=True):
        pass
    return path


BAD = {
    "not_tiff": (lambda d: (d / "x.tif").write_bytes(b"GIF89a, not a tiff") and d / "x.tif",
                 "not a readable GeoTIFF"),
    "empty": (lambda d: (d / "x.tif").write_bytes(b"") or d / "x.tif", "not a readable GeoTIFF"),
    "one_band": (lambda d: write_tiff(d / "x.tif", texture(1, 64, bands=1), west=ORIGIN[0], north=ORIGIN[1]),
                 "1 bands, expected 3"),
    "uint16": (lambda d: write_tiff(d / "x.tif", texture(1, 64).astype(np.uint16), west=ORIGIN[0],
                                    north=ORIGIN[1]), "dtype uint16"),
    "nan": (lambda d: write_tiff(d / "x.tif", np.full((3, 64, 64), np.nan, np.float32), west=ORIGIN[0],
                                 north=ORIGIN[1]), "NaN pixels"),
    "float_without_nan": (lambda d: write_tiff(d / "x.tif", np.ones((3, 64, 64), np.float32), west=ORIGIN[0],
                                               north=ORIGIN[1]), "dtype float32, expected uint8"),
    "absurd_size": (lambda d: _sparse_huge(d / "x.tif"), "absurd size 60000x60000"),
    "no_georef": (lambda d: write_tiff(d / "x.tif", texture(1, 64), west=0, north=0, georef=False),
                  "no georeferencing"),
    "bad_time_tag": (lambda d: write_tiff(d / "x.tif", texture(1, 64), west=ORIGIN[0], north=ORIGIN[1],
                                          tags={"ACQUISITION_TIME": "yesterday"}), "is not a time"),
}


def test_truncated_tiff(geo, reader, tmp_path):
    whole = geo.scene(tmp_path, "whole", size=256).read_bytes()
    path = tmp_path / "cut.tif"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(ingest.BadScene, match="not a readable GeoTIFF"):
        reader.read(path, arrived=0)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_with_a_reason(reader, tmp_path, case):
    make, reason = BAD[case]
    path = make(tmp_path)
    with pytest.raises(ingest.BadScene, match=reason):
        reader.read(path, arrived=0)


def test_quarantine_moves_the_file_with_its_reason_and_never_overwrites(tmp_path):
    inbox, quarantine = tmp_path / "inbox", tmp_path / "quarantine"
    inbox.mkdir()
    targets = []
    for content in (b"first", b"second"):
        path = inbox / "a.tif"
        path.write_bytes(content)
        targets.append(ingest.quarantine(path, quarantine, "because"))
    assert not (inbox / "a.tif").exists()
    assert [t.read_bytes() for t in targets] == [b"first", b"second"]
    assert all(t.with_name(t.name + ".reason").read_text().startswith("because\n") for t in targets)


def test_pending_lists_published_scenes_oldest_first(tmp_path):
    import os
    for i, name in enumerate(["b.tif", "a.TIFF", ".c.tif.part", "notes.txt"]):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (1000 + i, 1000 + i))
    assert [p.name for p in ingest.pending(tmp_path)] == ["b.tif", "a.TIFF"]
    assert ingest.pending(tmp_path / "missing") == []


def test_entries_that_are_not_regular_files_are_listed_and_refused_with_a_reason(tmp_path):
    """Issue 16 row 13: a folder named x.tif, a dangling symlink, a FIFO were left in the inbox unsaid."""
    import os
    (tmp_path / "dir.tif").mkdir()
    (tmp_path / "dangling.tif").symlink_to(tmp_path / "nowhere.tif")
    os.mkfifo(tmp_path / "fifo.tif")
    assert sorted(p.name for p in ingest.pending(tmp_path)) == ["dangling.tif", "dir.tif", "fifo.tif"]
    reasons = {}
    for name in ("dir.tif", "dangling.tif", "fifo.tif"):
        with pytest.raises(ingest.BadScene) as bad:
            ingest.check_in_inbox(tmp_path / name, tmp_path)
        reasons[name] = str(bad.value)
    assert "a folder" in reasons["dir.tif"] and "a FIFO" in reasons["fifo.tif"]
    assert "symbolic link" in reasons["dangling.tif"]
