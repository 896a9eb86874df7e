"""Fixtures for `satedge predict` and the real-imagery score: generated scenes with their truth, real tiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import JOPLIN, JOPLIN_COVERED  # noqa: F401 - used by the tests of this folder

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "satedge-unet"


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
