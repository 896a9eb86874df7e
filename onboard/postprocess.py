"""From per-pixel probabilities to buildings, and from buildings to one summary (PROTOCOL.md).

A building is a connected component of the building mask (any class but
background). Touching buildings are split where the mask narrows to a neck:
the mask eroded by `split` pixels (a distance transform) leaves one seed per
building, and every pixel joins its nearest seed within its component; a
component too thin to keep a seed stays whole. Each building gets the class most of its pixels vote for
(ties go to the more severe class: responders would rather check twice),
its area from the geotransform, the mean probability of that class as
confidence, and its centroid in WGS84.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform
from rasterio.warp import transform_bounds

from onboard.protocol import micro_degrees

WGS84 = CRS.from_epsg(4326)
DAMAGE_CLASSES = 4           # no, minor, major, destroyed (1..4)
EARTH_M_PER_DEG = 111_320.0  # metres per degree of latitude, for rasters in degrees


@dataclass
class Buildings:
    """Per building: class 1..4, area m², confidence 0..100, centroid lon/lat."""

    cls: np.ndarray
    area: np.ndarray
    conf: np.ndarray
    lon: np.ndarray
    lat: np.ndarray


def label_buildings(classes: np.ndarray, split_px: float) -> tuple[int, np.ndarray]:
    """Instance labels (1..n, 0 background) for the building mask, touching buildings split."""
    mask = (classes > 0).astype(np.uint8)
    count, components = cv2.connectedComponents(mask, connectivity=8)
    if count <= 1 or split_px <= 0:
        return count - 1, components
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    seeds = dist > split_px
    if not seeds.any():
        return count - 1, components
    # Every pixel joins its nearest seed (seed pixels are the zeros of the transform's input) if
    # that seed is in its own component; otherwise (no seed, or a closer one across a gap) it
    # joins its component as a whole.
    _, nearest = cv2.distanceTransformWithLabels((~seeds).astype(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_CCOMP)
    seed_component = np.zeros(int(nearest.max()) + 1, dtype=np.int32)
    seed_component[nearest[seeds]] = components[seeds]
    inside = mask.astype(bool)
    near, comp = nearest[inside], components[inside]
    instance = np.where(seed_component[near] == comp, near, len(seed_component) + comp)
    used = np.zeros(len(seed_component) + count, dtype=bool)
    used[instance] = True
    renumber = np.cumsum(used, dtype=np.int32)      # 1..n in order, without sorting every pixel
    labels = np.zeros(mask.shape, dtype=np.int32)
    labels[inside] = renumber[instance]
    return int(renumber[-1]), labels


def pixel_area_m2(crs: CRS, transform, lat: float) -> float:
    """Ground area of one pixel, in projected units or, for a raster in degrees, near `lat`."""
    area = abs(transform.a * transform.e - transform.b * transform.d)
    if crs.is_geographic:
        return area * EARTH_M_PER_DEG ** 2 * np.cos(np.radians(lat))
    return area * crs.linear_units_factor[1] ** 2


def buildings(probs: np.ndarray, classes: np.ndarray, crs: CRS, transform,
              split_m: float, min_area_m2: float) -> Buildings:
    """Every building of a scene (probs: float `[5, H, W]`, classes: u8 `[H, W]`)."""
    height, width = classes.shape
    lat0 = transform_bounds(crs, WGS84, *_bounds(transform, height, width))[1]
    px_m2 = pixel_area_m2(crs, transform, lat0)
    split_px = split_m / np.sqrt(px_m2) if px_m2 > 0 else 0.0
    n, labels = label_buildings(classes, split_px)
    if n == 0:
        return Buildings(*(np.zeros(0) for _ in range(5)))
    pixels = np.flatnonzero(labels)                 # work on building pixels only
    ids = labels.ravel()[pixels] - 1
    votes = np.bincount(ids * (DAMAGE_CLASSES + 1) + classes.ravel()[pixels],
                        minlength=n * (DAMAGE_CLASSES + 1)).reshape(n, DAMAGE_CLASSES + 1)[:, 1:]
    sizes = votes.sum(axis=1)
    # argmax over reversed columns: ties go to the more severe class.
    cls = DAMAGE_CLASSES - np.argmax(votes[:, ::-1], axis=1)
    winning = probs.reshape(probs.shape[0], -1)[cls[ids], pixels].astype(np.float32)
    conf = np.bincount(ids, weights=winning, minlength=n) / sizes
    rows, cols = np.divmod(pixels, width)
    cy = np.bincount(ids, weights=rows, minlength=n) / sizes + 0.5
    cx = np.bincount(ids, weights=cols, minlength=n) / sizes + 0.5
    xs, ys = transform @ (cx, cy)
    lon, lat = warp_transform(crs, WGS84, np.atleast_1d(xs), np.atleast_1d(ys))
    area = sizes * px_m2
    keep = area >= min_area_m2
    return Buildings(cls[keep], area[keep], conf[keep] * 100, np.asarray(lon)[keep], np.asarray(lat)[keep])


def _bounds(transform, height: int, width: int) -> tuple[float, float, float, float]:
    x0, y0 = transform @ (0, 0)
    x1, y1 = transform @ (width, height)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def summary_body(scene_id: str, acquired: float, crs: CRS, transform, height: int, width: int,
                 found: Buildings, *, model: str, precision: str, raw_bytes: int,
                 min_class: int) -> dict:
    """The summary `body` of PROTOCOL.md for one scene."""
    lon0, lat0, lon1, lat1 = transform_bounds(crs, WGS84, *_bounds(transform, height, width))
    counts = [int((found.cls == c).sum()) for c in range(1, DAMAGE_CLASSES + 1)]
    listed = np.flatnonzero(found.cls >= min_class)
    rows = [[micro_degrees(found.lon[i] - lon0), micro_degrees(found.lat[i] - lat0), int(found.cls[i]),
             int(np.clip(round(found.area[i]), 0, 65535)), int(np.clip(round(found.conf[i]), 0, 100))]
            for i in listed]
    return {"scene": scene_id, "acq": float(acquired), "bbox": [lon0, lat0, lon1, lat1],
            "model": model, "prec": precision, "raw": int(raw_bytes), "n": counts, "b": rows}
