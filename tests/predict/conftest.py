"""Fixtures for `satedge predict` and the real-imagery score: generated scenes with their truth, real tiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rasterio
from rasterio.merge import merge

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "satedge-unet"
REALDATA = REPO.parent / "shared" / "realdata"
JOPLIN = REALDATA / "joplin"
# The post tiles the four pre-event tiles cover fully (../shared/realdata/README.md).
JOPLIN_COVERED = ("tile_31500-5137.tif", "tile_32524-5137.tif")


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """Two held-out-style synthetic scenes (seed 8300: neither training's 2026 nor evaluation's 7000),
    as GeoTIFFs with a reference mosaic and in the xBD layout with their labels."""
    from sim.scenes.generate import generate
    out = tmp_path_factory.mktemp("generated")
    generate(out, 2, 8300, size=512, fmt="both")
    return out


def truth_footprints(labels: Path, out: Path) -> Path:
    """A footprints GeoJSON (WGS84) from the generator's own post labels: the scenes' true buildings."""
    from shapely import wkt
    from shapely.geometry import mapping
    features = []
    for label in sorted(labels.glob("*_post_disaster.json")):
        for f in json.loads(label.read_text())["features"]["lng_lat"]:
            features.append({"type": "Feature", "properties": f["properties"],
                             "geometry": mapping(wkt.loads(f["wkt"]))})
    out.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return out


@pytest.fixture(scope="session")
def joplin_reference(tmp_path_factory) -> Path:
    """The four Joplin pre-event tiles merged into one mosaic (UTM 15N), as the daemon's reference."""
    if not JOPLIN.is_dir():
        pytest.skip(f"real imagery not here: {JOPLIN} is absent (see ../shared/realdata/README.md)")
    tiles = [rasterio.open(p) for p in sorted((JOPLIN / "pre").glob("*.tif"))]
    try:
        pixels, transform = merge(tiles)
        crs = tiles[0].crs
    finally:
        for t in tiles:
            t.close()
    path = tmp_path_factory.mktemp("joplin") / "pre-mosaic.tif"
    with rasterio.open(path, "w", driver="GTiff", width=pixels.shape[2], height=pixels.shape[1], count=3,
                       dtype="uint8", crs=crs, transform=transform, tiled=True, blockxsize=256,
                       blockysize=256) as ds:
        ds.write(pixels)
    return path
