"""What `satedge predict` writes per input: the class map, the building polygons, an overlay.

Every file is first written under a hidden temporary name in the output
folder and renamed only once all of an input's files exist (`Staged`), so
a failure part-way leaves nothing behind that looks like a result.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rasterio
import rasterio.features
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio.crs import CRS
from rasterio.warp import transform_geom

from onboard.postprocess import WGS84, Buildings
from satedge.vocabulary import DAMAGE_CLASSES, basis

# Overlay colours per grade (RGB): the usual traffic-light scale of damage maps.
COLOURS: dict[int, tuple[int, int, int]] = {1: (40, 200, 60), 2: (250, 220, 40), 3: (255, 130, 20), 4: (230, 20, 30)}
ALPHA = 0.5
COORDINATE_DIGITS = 8     # of a degree: about a millimetre, finer than any pixel


class Staged:
    """Files written under temporary names, all renamed together by `commit`, all removed by `discard`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: list[tuple[Path, Path]] = []

    def path(self, name: str) -> Path:
        """A temporary path for the output `name` (the same suffix, so GDAL and OpenCV pick the format)."""
        final = self.folder / name
        tmp = self.folder / f".{name}.{os.getpid()}.partial{final.suffix}"
        self.files.append((tmp, final))
        return tmp

    def commit(self) -> list[Path]:
        """Rename every staged file to its final name."""
        for tmp, final in self.files:
            os.replace(tmp, final)
        return [final for _, final in self.files]

    def discard(self) -> None:
        """Remove whatever was staged."""
        for tmp, _ in self.files:
            tmp.unlink(missing_ok=True)


def write_classes_tif(path: Path, classes: NDArray[np.uint8], crs: CRS, transform: Affine) -> None:
    """Single-band u8 GeoTIFF on the post scene's grid: 0 background, 1-4 damage grade."""
    height, width = classes.shape
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1, dtype="uint8",
                       crs=crs, transform=transform, compress="deflate", nodata=None) as ds:
        ds.write(classes, 1)
        ds.update_tags(1, **{f"CLASS_{c}": name for c, name in {0: "background", **DAMAGE_CLASSES}.items()})


def write_png(path: Path, image: NDArray[np.uint8]) -> None:
    """A PNG (HxW, or HxWx3 RGB)."""
    encoded = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    if not cv2.imwrite(str(path), encoded):
        raise OSError(f"cannot write {path.name}")


def outlines(labels: NDArray[np.int32], found: Buildings, transform: Affine) -> list[shapely.Geometry]:
    """Each building's outline in the scene's CRS, traced on the instance map, in the order of `found`."""
    wanted = np.zeros(int(labels.max()) + 1 if labels.size else 1, dtype=bool)
    wanted[found.label] = True
    parts: dict[int, list[shapely.Geometry]] = {}
    for geometry, value in rasterio.features.shapes(labels, mask=wanted[labels], connectivity=8,
                                                    transform=transform):
        parts.setdefault(int(value), []).append(shapely.geometry.shape(geometry))
    return [shapely.make_valid(shapely.union_all(parts[int(label)])) for label in found.label]


def polygons(labels: NDArray[np.int32], found: Buildings, crs: CRS, transform: Affine) -> list[dict[str, Any]]:
    """One GeoJSON feature per building: its outline in WGS84, its grade, confidence (0-100), area (m²) and
    basis (`pre+post`, or `post-only` where the reference had no view)."""
    features = []
    for i, outline in enumerate(outlines(labels, found, transform)):
        lonlat = transform_geom(crs, WGS84, shapely.geometry.mapping(outline), precision=COORDINATE_DIGITS)
        features.append({"type": "Feature", "geometry": lonlat,
                         "properties": {"grade": int(found.cls[i]), "class": DAMAGE_CLASSES[int(found.cls[i])],
                                        "confidence": round(float(found.conf[i]), 1),
                                        "area_m2": round(float(found.area[i]), 1),
                                        "basis": basis(bool(found.post_only[i]))}})
    return features


def write_geojson(path: Path, features: list[dict[str, Any]], properties: dict[str, Any]) -> None:
    """A FeatureCollection (WGS84 lon/lat, RFC 7946) with the scene's own properties at the top."""
    path.write_text(json.dumps({"type": "FeatureCollection", "properties": properties, "features": features}))


def overlay(post: NDArray[np.uint8], classes: NDArray[np.uint8], note: str = "") -> NDArray[np.uint8]:
    """The post image with each grade's pixels tinted, outlines drawn, and a legend in the top-left corner."""
    out = post.copy()
    for grade, colour in COLOURS.items():
        mask = classes == grade
        if mask.any():
            out[mask] = (out[mask] * (1 - ALPHA) + np.array(colour) * ALPHA).astype(np.uint8)
    edges = cv2.morphologyEx((classes > 0).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    out[edges > 0] = (255, 255, 255)
    return _legend(out, note)


def _legend(image: NDArray[np.uint8], note: str) -> NDArray[np.uint8]:
    scale = max(0.4, min(image.shape[:2]) / 1600)
    line = int(26 * scale / 0.6)
    rows = [(f"{c} {name}", COLOURS[c]) for c, name in DAMAGE_CLASSES.items()]
    width = int(200 * scale / 0.6)
    height = line * (len(rows) + (1 if note else 0)) + line // 2
    if note:
        width = max(width, int(cv2.getTextSize(note, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]) + line)
    box = image[:height, :width].astype(np.float32)
    image[:height, :width] = (box * 0.3).astype(np.uint8)
    for k, (text, colour) in enumerate(rows):
        y = line // 2 + k * line
        cv2.rectangle(image, (line // 3, y + line // 6), (line // 3 + line // 2, y + line * 2 // 3), colour, -1)
        cv2.putText(image, text, (line, y + line * 2 // 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    if note:
        y = line // 2 + len(rows) * line
        cv2.putText(image, note, (line // 3, y + line * 2 // 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    1, cv2.LINE_AA)
    return image
