"""Building localisation against real footprints: pixel F1 and per-building F1 (IoU >= 0.5).

Real imagery here has building outlines but no damage grades, so this scores
only *where* the model puts buildings (any class 1-4 against footprint / not
footprint), never the grades: a figure from here is "real imagery,
localisation only" and is not comparable with the synthetic xView2 score.

Footprints (GeoJSON, WGS84) are reprojected onto each scene's grid; the
pixel score rasterises them there, the per-building score matches each
predicted building outline (traced on the instance map the daemon's
post-processing makes) to at most one footprint clipped to the scene, best
IoU first, and counts a match at IoU >= `iou`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio.features
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio.crs import CRS
from rasterio.transform import array_bounds
from rasterio.warp import transform_bounds, transform_geom

from onboard.postprocess import WGS84, Buildings
from predict.outputs import outlines
from satedge.errors import UserError
from satedge.vocabulary import f1

IOU_MATCH = 0.5


def load(path: Path) -> tuple[NDArray[Any], shapely.STRtree]:
    """Every polygon of a GeoJSON FeatureCollection (WGS84), with a spatial index over them."""
    try:
        data = json.loads(Path(path).read_text())
        geometries = [shapely.geometry.shape(f["geometry"]) for f in data["features"] if f.get("geometry")]
    except (OSError, ValueError, KeyError, TypeError, shapely.errors.GEOSException) as exc:
        raise UserError(f"--footprints {path}: not a readable GeoJSON FeatureCollection ({exc})") from None
    polygons = np.array([shapely.make_valid(g) for g in geometries if not g.is_empty], dtype=object)
    return polygons, shapely.STRtree(polygons)


@dataclass
class Counts:
    """Pixel and building confusion counts, summed over scenes."""

    pixel_tp: int = 0
    pixel_fp: int = 0
    pixel_fn: int = 0
    building_tp: int = 0
    building_fp: int = 0
    building_fn: int = 0
    pixels: int = 0
    predicted_pixels: int = 0
    footprint_pixels: int = 0
    scenes: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: Counts) -> None:
        """Add one scene's counts."""
        for name in ("pixel_tp", "pixel_fp", "pixel_fn", "building_tp", "building_fp", "building_fn", "pixels",
                     "predicted_pixels", "footprint_pixels"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def scores(self) -> dict[str, Any]:
        """Pixel and building precision, recall, F1, and the predicted vs footprint building share."""
        def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
            return {"precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
                    "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0, "f1": round(f1(tp, fp, fn), 4)}
        share = self.predicted_pixels / self.pixels if self.pixels else 0.0
        truth = self.footprint_pixels / self.pixels if self.pixels else 0.0
        return {"pixel": prf(self.pixel_tp, self.pixel_fp, self.pixel_fn),
                "building": {**prf(self.building_tp, self.building_fp, self.building_fn),
                             "matched": self.building_tp, "predicted": self.building_tp + self.building_fp,
                             "footprints": self.building_tp + self.building_fn, "iou": IOU_MATCH},
                "predicted_share": round(share, 4), "footprint_share": round(truth, 4),
                "share_ratio": round(share / truth, 2) if truth else None}


def _scene_box(crs: CRS, transform: Affine, height: int, width: int) -> shapely.Polygon:
    x0, y0, x1, y1 = array_bounds(height, width, transform)
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def footprints_on(polygons: NDArray[Any], tree: shapely.STRtree, crs: CRS, transform: Affine,
                  height: int, width: int) -> list[shapely.Geometry]:
    """The footprints over a scene, in the scene's CRS, clipped to it."""
    box = _scene_box(crs, transform, height, width)
    lonlat = shapely.box(*transform_bounds(crs, WGS84, *box.bounds))
    near = polygons[tree.query(lonlat, predicate="intersects")]
    out = []
    for geometry in near:
        projected = shapely.geometry.shape(transform_geom(WGS84, crs, shapely.geometry.mapping(geometry)))
        clipped = shapely.intersection(shapely.make_valid(projected), box)
        if not clipped.is_empty and clipped.area > 0:
            out.append(clipped)
    return out


def match(predicted: list[shapely.Geometry], truth: list[shapely.Geometry], iou: float = IOU_MATCH) -> int:
    """Predicted/true pairs with IoU >= `iou`, each side used at most once, best IoU first."""
    if not predicted or not truth:
        return 0
    tree = shapely.STRtree(truth)
    pred_idx, true_idx = tree.query(predicted, predicate="intersects")
    if len(pred_idx) == 0:
        return 0
    p, t = np.asarray(predicted, dtype=object)[pred_idx], np.asarray(truth, dtype=object)[true_idx]
    inter = shapely.area(shapely.intersection(p, t))
    union = shapely.area(p) + shapely.area(t) - inter
    ious = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
    used_p, used_t, matched = set(), set(), 0
    for k in np.argsort(-ious, kind="stable"):
        if ious[k] < iou:
            break
        if pred_idx[k] in used_p or true_idx[k] in used_t:
            continue
        used_p.add(pred_idx[k])
        used_t.add(true_idx[k])
        matched += 1
    return matched


def score_scene(classes: NDArray[np.uint8], labels: NDArray[np.int32], found: Buildings, crs: CRS,
                transform: Affine, polygons: NDArray[Any], tree: shapely.STRtree,
                coverage: NDArray[np.bool_] | None = None) -> dict[str, Counts]:
    """One scene's pixel and building counts against the footprints over it: `all`, and per part of the
    scene, `with_pre` (the pixels with a pre-event view, `coverage`; None for all) and `post_only`.

    In a part, a predicted building counts by its basis (`Buildings.post_only`), a footprint by the pixel
    under its centroid, and buildings are matched only within their part.
    """
    height, width = classes.shape
    truth = footprints_on(polygons, tree, crs, transform, height, width)
    truth_mask = (rasterio.features.rasterize(((g, 1) for g in truth), out_shape=(height, width),
                                              transform=transform, fill=0, dtype="uint8")
                  if truth else np.zeros((height, width), np.uint8)).astype(bool)
    pred_mask = classes > 0
    predicted = outlines(labels, found, transform)
    seen = np.ones((height, width), bool) if coverage is None else coverage
    truth_seen = _under_centroids(truth, seen, transform)
    parts = {"all": (np.ones_like(seen), np.ones(len(predicted), bool), np.ones(len(truth), bool)),
             "with_pre": (seen, ~found.post_only, truth_seen),
             "post_only": (~seen, found.post_only, ~truth_seen)}
    return {name: _counts(pred_mask & region, truth_mask & region, int(region.sum()),
                          [g for g, keep in zip(predicted, mine) if keep],
                          [g for g, keep in zip(truth, theirs) if keep])
            for name, (region, mine, theirs) in parts.items()}


def _under_centroids(geometries: list[shapely.Geometry], mask: NDArray[np.bool_], transform: Affine,
                     ) -> NDArray[np.bool_]:
    """`mask` at each geometry's centroid (False off the raster)."""
    if not geometries:
        return np.zeros(0, bool)
    centroids = shapely.centroid(np.asarray(geometries, dtype=object))
    cols, rows = ~transform @ (shapely.get_x(centroids), shapely.get_y(centroids))
    rows, cols = np.floor(rows).astype(int), np.floor(cols).astype(int)
    inside = (rows >= 0) & (rows < mask.shape[0]) & (cols >= 0) & (cols < mask.shape[1])
    out = np.zeros(len(geometries), bool)
    out[inside] = mask[rows[inside], cols[inside]]
    return out


def _counts(pred_mask: NDArray[np.bool_], truth_mask: NDArray[np.bool_], pixels: int,
            predicted: list[shapely.Geometry], truth: list[shapely.Geometry]) -> Counts:
    matched = match(predicted, truth)
    tp = int((pred_mask & truth_mask).sum())
    return Counts(pixel_tp=tp, pixel_fp=int(pred_mask.sum()) - tp, pixel_fn=int(truth_mask.sum()) - tp,
                  building_tp=matched, building_fp=len(predicted) - matched, building_fn=len(truth) - matched,
                  pixels=pixels, predicted_pixels=int(pred_mask.sum()), footprint_pixels=int(truth_mask.sum()))
