"""Reading back what the generator wrote: WKT polygons and rasterized labels."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np

CLASS_OF = {"no-damage": 1, "minor-damage": 2, "major-damage": 3, "destroyed": 4, "un-classified": 1}
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def ring(wkt: str) -> np.ndarray:
    assert wkt.startswith("POLYGON ((") and wkt.endswith("))"), wkt
    values = [float(v) for v in NUMBER.findall(wkt)]
    pts = np.array(values).reshape(-1, 2)
    assert np.allclose(pts[0], pts[-1]), "WKT ring must be closed"
    return pts[:-1]


def load_label(path: Path) -> dict:
    return json.loads(path.read_text())


def rasterize(label: dict, size: int) -> np.ndarray:
    """The post target the label's `xy` polygons describe (subtype -> class)."""
    out = np.zeros((size, size), np.uint8)
    for feature in label["features"]["xy"]:
        value = CLASS_OF[feature["properties"].get("subtype", "no-damage")]
        cv2.fillPoly(out, [np.round(ring(feature["wkt"])).astype(np.int32)], value)
    return out
