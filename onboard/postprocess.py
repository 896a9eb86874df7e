"""From per-pixel probabilities to buildings, and from buildings to one summary (docs/protocol.md).

A building is a connected component of the building mask (any class but
background). Touching buildings are split where the mask narrows to a neck:
the mask eroded by a disk of `split` pixels leaves one seed per building,
and every pixel joins its nearest seed within its component; a component
too thin to keep a seed stays whole. Each building gets the class most of its pixels vote for
(ties go to the more severe class: responders would rather check twice),
its area from the geotransform, a confidence, and its centroid in WGS84.
The confidence is the mean winning probability of the pixels that voted for
the building's class, counting the pixels that voted otherwise as zero: the
engine keeps only each pixel's winning probability (`onboard.heads`), and a
building its own pixels disagree on is less certain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import cv2
import numpy as np
from affine import Affine
from cv2.typing import MatLike
from numpy.typing import NDArray
from rasterio.crs import CRS
from rasterio.transform import array_bounds
from rasterio.warp import transform as warp_transform
from rasterio.warp import transform_bounds

from satedge.protocol import (
    COVERAGE_KEY,
    MAX_LISTED,
    MAX_SCENE_ID,
    POST_ONLY_KEY,
    micro_degrees,
    post_only_bitmap,
)
from satedge.vocabulary import CONFIDENCE_STEPS

WGS84 = CRS.from_epsg(4326)
Labels = NDArray[np.uint16] | NDArray[np.int32]   # an instance map: 16-bit while the labels fit
DAMAGE_CLASSES = 4           # no, minor, major, destroyed (1..4)
EARTH_M_PER_DEG = 111_320.0  # metres per degree of latitude, for rasters in degrees


@dataclass
class Buildings:
    """Per building: class 1..4, area m², confidence 0..100, centroid lon/lat, its instance label, and
    whether it was graded from the post image alone.

    `label` is the building's value in the instance map `label_buildings` made (`satedge predict` traces
    its outline there); buildings below the minimum area are left out, so labels are not consecutive.
    `post_only`: more than half of its pixels had no pre-event view (`ingest.Scene.coverage`).
    """

    cls: NDArray[np.number[Any]]     # integers; float zeros when there is no building
    area: NDArray[np.float64]
    conf: NDArray[np.float64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    label: NDArray[np.int64]
    post_only: NDArray[np.bool_]


def label_buildings(classes: NDArray[np.uint8], split_px: float) -> tuple[int, NDArray[np.int32]]:
    """Instance labels (1..n, 0 background) for the building mask, touching buildings split."""
    n, labels, _ = _labelled_pixels(classes, split_px)
    return n, labels.astype(np.int32, copy=False)


@dataclass
class _Pixels:
    """The building pixels in row-major order: where they are and which building each belongs to."""

    rows: NDArray[np.int32]
    cols: NDArray[np.int32]
    flat: NDArray[np.intp]      # index into the raveled scene
    ids: NDArray[np.int32]      # instance label, 1..n


def _labelled_pixels(classes: NDArray[np.uint8], split_px: float) -> tuple[int, Labels, _Pixels]:
    """The instance map (16-bit labels while they fit), and the building pixels with their labels, read once
    for everything after.

    Most components hold one seed (or none) and are one building as they are; only the few with several
    seeds are split, each within its bounding box (found from its own pixels), so a scene costs a few
    whole-image OpenCV passes: plain connected components (OpenCV's statistics pass alone would cost
    four times the labelling), one erosion, the seeds' components and two pixel scans. The seeds' label
    image is done with before the pixel lists are made, and the mask goes once they are: the largest
    transient of a 2048² scene (29 MB, was 36) is not carried through the rest.
    """
    mask = cv2.compare(classes, 0, cv2.CMP_GT)  # type: ignore[call-overload]  # a scalar src2 works; the stubs want an array
    count, labels = _labels(mask, cv2.CCL_BBDT)
    radius = int(split_px)
    seeds, several, blobs = None, None, 0
    if count > 1 and radius >= 1:
        seeds = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
        several, blobs = _components_with_several_seeds(seeds, labels, count)
    cols, rows = _nonzero(mask)
    del mask
    flat = rows.astype(np.intp) * classes.shape[1] + cols
    pixels = _Pixels(rows, cols, flat, labels.ravel()[flat].astype(np.int32))
    n = count - 1
    if seeds is None or several is None:
        return n, labels, pixels
    if labels.dtype != np.int32 and count + blobs >= np.iinfo(labels.dtype).max:   # splits add up to `blobs`
        labels = labels.astype(np.int32)
    chosen = np.flatnonzero(several[pixels.ids])                 # the pixels of components to split
    chosen = chosen[np.argsort(pixels.ids[chosen], kind="stable")]
    groups = np.split(chosen, np.flatnonzero(np.diff(pixels.ids[chosen])) + 1)
    for own in groups:
        r, c = rows[own], cols[own]
        box = (int(c.min()), int(r.min()), int(c.max()) + 1 - int(c.min()), int(r.max()) + 1 - int(r.min()))
        n = _split(labels, int(pixels.ids[own[0]]), seeds, box, n)
        pixels.ids[own] = labels.ravel()[flat[own]]
    return n, labels, pixels


def _components_with_several_seeds(seeds: MatLike, labels: Labels, count: int) -> tuple[NDArray[np.bool_] | None, int]:
    """Which of the `count` components hold more than one seed (None: none do), and how many seeds there are."""
    blobs, blob_labels = _labels(seeds, cv2.CCL_DEFAULT)
    if blobs <= 2:
        return None, blobs
    x, y = _nonzero(seeds)
    seed_pixels = y * seeds.shape[1] + x
    blob_component = np.zeros(blobs, dtype=np.int32)
    blob_component[blob_labels.ravel()[seed_pixels]] = labels.ravel()[seed_pixels]
    several = np.bincount(blob_component[1:], minlength=count) > 1
    return (several if several.any() else None), blobs


def _labels(image: MatLike, algorithm: int) -> tuple[int, Labels]:
    """8-connected components in 16-bit labels (half the memory of 32-bit: 8 MB less per 2048² image), or
    32-bit when there are more than 16 bits can count (OpenCV says so instead of wrapping around)."""
    try:
        return cast(tuple[int, Labels], cv2.connectedComponentsWithAlgorithm(image, 8, cv2.CV_16U, algorithm))
    except cv2.error:
        return cast(tuple[int, Labels], cv2.connectedComponentsWithAlgorithm(image, 8, cv2.CV_32S, algorithm))


def _nonzero(image: MatLike) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Columns and rows of the non-zero pixels (OpenCV's scan is ~4x faster than numpy's here)."""
    found = cv2.findNonZero(image)
    if found is None:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
    points = cast(NDArray[np.int32], found).reshape(-1, 2)   # OpenCV's points are int32 [N, 1, 2]
    return points[:, 0], points[:, 1]


def _split(labels: Labels, component: int, seeds: MatLike, box: tuple[int, int, int, int], n: int) -> int:
    """Every pixel of `component` (inside `box`: x, y, width, height) joins its nearest seed of that component;
    new buildings get n+1, n+2, ...

    Labels are changed in place; returns the new number of buildings.
    """
    x, y, w, h = box
    crop = labels[y:y + h, x:x + w]
    inside = crop == component
    own_seeds = inside & (seeds[y:y + h, x:x + w] > 0)
    # Seed pixels are the zeros of the transform's input; each connected group of them is one seed.
    _, nearest = cv2.distanceTransformWithLabels(np.where(own_seeds, 0, 1).astype(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_CCOMP)
    groups = np.unique(nearest[own_seeds])
    instance = np.zeros(int(nearest.max()) + 1, dtype=np.int32)
    instance[groups] = [component, *range(n + 1, n + len(groups))]
    crop[inside] = instance[nearest[inside]]
    return n + len(groups) - 1


def pixel_area_m2(crs: CRS, transform: Affine, lat: float) -> float:
    """Ground area of one pixel, in projected units or, for a raster in degrees, near `lat`."""
    area = abs(transform.a * transform.e - transform.b * transform.d)
    if crs.is_geographic:
        shrink: float = np.cos(np.radians(lat))   # a degree of longitude, relative to one of latitude
        return area * EARTH_M_PER_DEG ** 2 * shrink
    metres_per_unit: float = crs.linear_units_factor[1]
    return area * metres_per_unit ** 2


def buildings(classes: NDArray[np.uint8], confidence: NDArray[np.uint8], crs: CRS, transform: Affine,
              split_m: float, min_area_m2: float, coverage: NDArray[np.bool_] | None = None) -> Buildings:
    """Every building of a scene (classes: u8 `[H, W]`, confidence: each pixel's winning probability in
    `CONFIDENCE_STEPS`, coverage: the pixels with a pre-event view, None for all)."""
    return _instances(classes, confidence, crs, transform, split_m, min_area_m2, coverage)[0]


def instances(classes: NDArray[np.uint8], confidence: NDArray[np.uint8], crs: CRS, transform: Affine,
              split_m: float, min_area_m2: float, coverage: NDArray[np.bool_] | None = None,
              ) -> tuple[Buildings, NDArray[np.int32]]:
    """`buildings()`, plus the instance map (0 background, `Buildings.label` for each building)."""
    found, labels = _instances(classes, confidence, crs, transform, split_m, min_area_m2, coverage)
    return found, labels.astype(np.int32, copy=False)


def _instances(classes: NDArray[np.uint8], confidence: NDArray[np.uint8], crs: CRS, transform: Affine,
               split_m: float, min_area_m2: float, coverage: NDArray[np.bool_] | None) -> tuple[Buildings, Labels]:
    height, width = classes.shape
    lat0 = transform_bounds(crs, WGS84, *_bounds(transform, height, width))[1]
    px_m2 = pixel_area_m2(crs, transform, lat0)
    split_px = split_m / np.sqrt(px_m2) if px_m2 > 0 else 0.0
    n, labels, pixels = _labelled_pixels(classes, split_px)
    if n == 0:
        empty = np.zeros(0)
        return Buildings(empty, empty, empty, empty, empty, np.zeros(0, dtype=np.int64),
                         np.zeros(0, dtype=bool)), labels
    ids, rows, cols = pixels.ids - 1, pixels.rows, pixels.cols
    # one key per (building, class): the votes and the confidence summed by the same key
    key = ids * (DAMAGE_CLASSES + 1) + classes.ravel()[pixels.flat]
    votes = np.bincount(key, minlength=n * (DAMAGE_CLASSES + 1)).reshape(n, DAMAGE_CLASSES + 1)[:, 1:]
    conf_sums = np.bincount(key, weights=confidence.ravel()[pixels.flat],
                            minlength=n * (DAMAGE_CLASSES + 1)).reshape(n, DAMAGE_CLASSES + 1)[:, 1:]
    sizes = votes.sum(axis=1)
    # argmax over reversed columns: ties go to the more severe class.
    cls = DAMAGE_CLASSES - np.argmax(votes[:, ::-1], axis=1)
    # the pixels that voted otherwise count as zero
    conf = conf_sums[np.arange(n), cls - 1] / (sizes * CONFIDENCE_STEPS)
    cy = np.bincount(ids, weights=rows, minlength=n) / sizes + 0.5
    cx = np.bincount(ids, weights=cols, minlength=n) / sizes + 0.5
    xs, ys = transform @ (cx, cy)
    lon, lat = warp_transform(crs, WGS84, np.atleast_1d(xs), np.atleast_1d(ys))
    area = sizes * px_m2
    if coverage is None:
        post_only = np.zeros(n, dtype=bool)
    else:
        post_only = np.bincount(ids, weights=coverage.ravel()[pixels.flat], minlength=n) * 2 < sizes
    keep = area >= min_area_m2
    found = Buildings(cls[keep], area[keep], conf[keep] * 100, np.asarray(lon)[keep], np.asarray(lat)[keep],
                      label=np.flatnonzero(keep) + 1, post_only=post_only[keep])
    return found, labels


def _bounds(transform: Affine, height: int, width: int) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of a raster, whichever way its rows run."""
    x0, y0, x1, y1 = array_bounds(height, width, transform)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def summary_body(scene_id: str, acquired: float, crs: CRS, transform: Affine, height: int, width: int,
                 found: Buildings, *, model: str, precision: str, raw_bytes: int,
                 min_class: int, coverage: float = 1.0, ood: list[str] | None = None,
                 ood_max_listed: int = 0) -> dict[str, Any]:
    """The summary `body` of docs/protocol.md for one scene.

    It lists at most `MAX_LISTED` buildings, and at most `ood_max_listed` when the guard flagged the scene
    (`ood`: the statistics out of range, `onboard.guard`, said in the body): the most damaged, then the most
    confident, are kept; `cut` says how many were left out, and `n` counts them all. `cov` is the scene's
    reference `coverage` in percent, `po` marks the listed buildings graded post-only.
    """
    lon0, lat0, lon1, lat1 = transform_bounds(crs, WGS84, *_bounds(transform, height, width))
    counts = [int((found.cls == c).sum()) for c in range(1, DAMAGE_CLASSES + 1)]
    listed = np.flatnonzero(found.cls >= min_class)
    limit = min(MAX_LISTED, ood_max_listed) if ood else MAX_LISTED
    cut = max(0, len(listed) - limit)
    if cut:
        keep = np.lexsort((-found.conf[listed], -found.cls[listed]))[:limit]
        listed = np.sort(listed[keep])
    rows = [[micro_degrees(found.lon[i] - lon0), micro_degrees(found.lat[i] - lat0), int(found.cls[i]),
             int(np.clip(round(found.area[i]), 0, 65535)), int(np.clip(round(found.conf[i]), 0, 100))]
            for i in listed]
    body = {"scene": scene_id[:MAX_SCENE_ID], "acq": float(acquired), "bbox": [lon0, lat0, lon1, lat1],
            "model": model, "prec": precision, "raw": int(raw_bytes), "n": counts, "b": rows,
            COVERAGE_KEY: int(np.clip(round(coverage * 100), 0, 100))}
    if found.post_only[listed].any():
        body[POST_ONLY_KEY] = post_only_bitmap(found.post_only[listed].tolist())
    if cut:
        body["cut"] = cut
    if ood:
        body["ood"] = list(ood)
    return body
