"""`satedge realism`: how far generated scenes are from real ones, measured on the same statistics.

The model is trained on generated scenes only, so what it learns to rely on is
whatever separates buildings from the rest *in the generator's world*. Where
that world differs from real imagery (colours, texture, noise, how much of a
scene is roof, how big and how regular buildings are), the model meets inputs
it never saw. This measures the gaps so that they can be closed one by one:

- **Image statistics** of post-event images, each resampled to one common
  ground sample distance first (texture depends on scale): band means and
  spreads, saturation, gradient energy, the Laplacian's variance (fine
  detail), a noise estimate (Immerkær's), the share of flat 8×8 blocks, of
  vegetation-green and of dark pixels.
- **Building statistics** from polygons in metres (the real footprints clipped
  to each tile; the generator's own labels): share of the scene that is roof,
  buildings per km², footprint areas, compactness and rectangularity.

Each figure is a median over the images of a set; the table names the sets,
their sources and their GSDs. Nothing here is a model score.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rasterio
import shapely
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds, transform_geom

from onboard.postprocess import pixel_area_m2
from satedge.errors import UserError

WGS84 = CRS.from_epsg(4326)
FLAT_BLOCK = 8            # pixels: an 8×8 block with a grey spread under FLAT_STD is "flat"
FLAT_STD = 2.0
DARK_V = 40               # HSV value below which a pixel counts as dark (shadow, water)
GREEN_MARGIN = 8          # G above both R and B by this much: vegetation


@dataclass
class ImageSet:
    """Images of one kind (real or generated), each with its metres per pixel in x and y."""

    name: str
    source: str
    images: list[tuple[np.ndarray, float, float]] = field(default_factory=list)
    buildings: list[dict[str, float]] = field(default_factory=list)


# --- statistics ---------------------------------------------------------------

def resample(rgb: np.ndarray, metres_x: float, metres_y: float, target_m: float) -> np.ndarray:
    """The image at `target_m` per pixel on both axes (area averaging when shrinking)."""
    fx, fy = metres_x / target_m, metres_y / target_m
    if abs(fx - 1) < 1e-3 and abs(fy - 1) < 1e-3:
        return rgb
    size = (max(1, round(rgb.shape[1] * fx)), max(1, round(rgb.shape[0] * fy)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if fx * fy < 1 else cv2.INTER_LINEAR)


def noise_sigma(grey: np.ndarray) -> float:
    """Immerkær's fast noise estimate (1996): the Laplacian-difference mask's mean absolute response."""
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    response = cv2.filter2D(grey.astype(np.float32), -1, mask, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
    h, w = grey.shape
    return float(math.sqrt(math.pi / 2) * np.abs(response).sum() / (6 * (w - 2) * (h - 2)))


def image_stats(rgb: np.ndarray) -> dict[str, float]:
    """Colour, texture and noise figures of one RGB u8 image."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    h, w = grey.shape
    blocks = grey[:h - h % FLAT_BLOCK, :w - w % FLAT_BLOCK].astype(np.float32)
    blocks = blocks.reshape(h // FLAT_BLOCK, FLAT_BLOCK, w // FLAT_BLOCK, FLAT_BLOCK).std(axis=(1, 3))
    r, g, b = (rgb[..., i].astype(np.int16) for i in range(3))
    stats = {f"mean_{c}": float(rgb[..., i].mean()) for i, c in enumerate("rgb")}
    stats.update({f"std_{c}": float(rgb[..., i].std()) for i, c in enumerate("rgb")})
    stats.update(saturation=float(hsv[..., 1].mean()), gradient=float(np.hypot(gx, gy).mean()),
                 laplacian_var=float(cv2.Laplacian(grey, cv2.CV_32F).var()), noise_sigma=noise_sigma(grey),
                 flat_share=float((blocks < FLAT_STD).mean()),
                 green_share=float(((g - r > GREEN_MARGIN) & (g - b > GREEN_MARGIN)).mean()),
                 dark_share=float((hsv[..., 2] < DARK_V).mean()))
    return stats


def utm(lon: float, lat: float) -> CRS:
    """The WGS84 UTM zone holding (lon, lat): metres with little distortion over a scene."""
    zone = int((lon + 180) // 6) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def to_metres(polygons: list[shapely.Geometry], crs: CRS) -> list[shapely.Geometry]:
    """WGS84 polygons in `crs` (rasterio's GDAL transform, so the same maths as the daemon's)."""
    return [shapely.geometry.shape(transform_geom(WGS84, crs, shapely.geometry.mapping(p))) for p in polygons]


def building_stats(polygons: list[shapely.Geometry], scene_km2: float) -> dict[str, float]:
    """Roof share, density and shape of the buildings of one scene (polygons in metres)."""
    areas = np.array([p.area for p in polygons]) if polygons else np.zeros(0)
    stats = {"roof_share": float(areas.sum() / (scene_km2 * 1e6)), "per_km2": len(polygons) / scene_km2}
    if polygons:
        perimeters = np.array([p.length for p in polygons])
        boxes = np.array([shapely.minimum_rotated_rectangle(p).area for p in polygons])
        stats.update(area_p10=float(np.percentile(areas, 10)), area_median=float(np.median(areas)),
                     area_p90=float(np.percentile(areas, 90)),
                     compactness=float(np.median(4 * np.pi * areas / np.maximum(perimeters, 1e-9) ** 2)),
                     rectangularity=float(np.median(areas / np.maximum(boxes, 1e-9))))
    return stats


# --- the two kinds of input -----------------------------------------------------

def real_tiles(paths: list[Path], footprints: Path | None) -> ImageSet:
    """GeoTIFF post tiles (RGB u8) and, where given, the footprints (GeoJSON, WGS84) clipped to each."""
    shapes: list[shapely.Geometry] = []
    if footprints is not None:
        try:
            collection = json.loads(footprints.read_text())
            shapes = [shapely.geometry.shape(f["geometry"]) for f in collection["features"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"cannot read footprints {footprints}: {exc}") from None
    tree = shapely.STRtree(shapes)
    found = ImageSet("real", ", ".join(sorted({p.parent.as_posix() for p in paths})))
    for path in paths:
        try:
            with rasterio.open(path) as ds:
                rgb = np.moveaxis(ds.read([1, 2, 3]), 0, -1)
                crs, transform, bounds = ds.crs, ds.transform, ds.bounds
        except (RasterioError, IndexError) as exc:
            raise UserError(f"cannot read {path} as an RGB GeoTIFF: {exc}") from None
        lon, lat = _centre_wgs84(crs, bounds)
        mx, my = _metres_per_pixel(crs, transform, lat)
        found.images.append((rgb, mx, my))
        if footprints is not None:
            tile = shapely.box(*transform_bounds(crs, WGS84, *bounds))
            inside = [shapes[i].intersection(tile) for i in tree.query(tile, predicate="intersects")]
            metric = utm(lon, lat)
            km2 = mx * my * rgb.shape[0] * rgb.shape[1] / 1e6
            found.buildings.append(building_stats([p for p in to_metres(inside, metric) if p.area > 0], km2))
    return found


def generated_scenes(folder: Path, limit: int) -> ImageSet:
    """Post-event PNGs of an xBD-layout folder and their labels' building polygons (`satedge scenes`)."""
    labels = sorted((folder / "labels").glob("*_post_disaster.json"))[:limit]
    if not labels:
        raise UserError(f"no labels/*_post_disaster.json under {folder} (make some with `satedge scenes`)")
    found = ImageSet("generated", folder.as_posix())
    for label in labels:
        meta = json.loads(label.read_text())
        image = folder / "images" / meta["metadata"]["img_name"]
        bgr = cv2.imread(str(image), cv2.IMREAD_COLOR)
        if bgr is None:
            raise UserError(f"cannot read {image}")
        gsd = float(meta["metadata"]["gsd"])
        found.images.append((cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), gsd, gsd))
        polygons = [shapely.from_wkt(f["wkt"]) for f in meta["features"]["lng_lat"]]
        if polygons:
            centre = shapely.MultiPolygon(polygons).centroid
            polygons = to_metres(polygons, utm(centre.x, centre.y))
        found.buildings.append(building_stats(polygons, gsd * gsd * bgr.shape[0] * bgr.shape[1] / 1e6))
    return found


def _centre_wgs84(crs: CRS, bounds: Any) -> tuple[float, float]:
    west, south, east, north = transform_bounds(crs, WGS84, *bounds)
    return (west + east) / 2, (south + north) / 2


def _metres_per_pixel(crs: CRS, transform: Any, lat: float) -> tuple[float, float]:
    """Metres per pixel along x and y; a raster in degrees has longer pixels north-south than east-west."""
    area = pixel_area_m2(crs, transform, lat)
    ratio = abs(transform.e / transform.a) / (math.cos(math.radians(lat)) if crs.is_geographic else 1.0)
    return math.sqrt(area / ratio), math.sqrt(area * ratio)


# --- the comparison -----------------------------------------------------------

def medians(rows: list[dict[str, float]]) -> dict[str, float]:
    """Per key, the median over the rows that have it."""
    keys = dict.fromkeys(k for row in rows for k in row)
    return {k: float(np.median([row[k] for row in rows if k in row])) for k in keys}


def compare(sets: list[ImageSet], gsd_m: float) -> dict[str, Any]:
    """Every set's median image and building statistics, images first resampled to `gsd_m`."""
    out: dict[str, Any] = {"gsd_m": gsd_m, "sets": {}}
    for s in sets:
        native = sorted({round(math.sqrt(mx * my), 2) for _, mx, my in s.images})
        out["sets"][s.name] = {
            "source": s.source, "images": len(s.images), "native_gsd_m": native,
            "image": medians([image_stats(resample(rgb, mx, my, gsd_m)) for rgb, mx, my in s.images]),
            "buildings": medians(s.buildings) if s.buildings else {}}
    return out


ROWS = [("image", "mean_r", "mean R", 1), ("image", "mean_g", "mean G", 1), ("image", "mean_b", "mean B", 1),
        ("image", "std_r", "spread R", 1), ("image", "std_g", "spread G", 1), ("image", "std_b", "spread B", 1),
        ("image", "saturation", "saturation (0–255)", 1), ("image", "gradient", "gradient energy", 1),
        ("image", "laplacian_var", "Laplacian variance (fine detail)", 0),
        ("image", "noise_sigma", "noise σ (Immerkær)", 2), ("image", "flat_share", "flat 8×8 blocks", 3),
        ("image", "green_share", "vegetation-green pixels", 3), ("image", "dark_share", "dark pixels", 3),
        ("buildings", "roof_share", "roof share of the scene", 3), ("buildings", "per_km2", "buildings per km²", 0),
        ("buildings", "area_p10", "footprint m², p10", 0), ("buildings", "area_median", "footprint m², median", 0),
        ("buildings", "area_p90", "footprint m², p90", 0), ("buildings", "compactness", "compactness 4πA/P²", 2),
        ("buildings", "rectangularity", "area / rotated bounding box", 2)]


def table(result: dict[str, Any]) -> list[str]:
    """Markdown: one row per statistic, one column per set, then the generated/real ratio where both exist."""
    names = list(result["sets"])
    both = "real" in names and "generated" in names
    lines = ["| statistic | " + " | ".join(names) + (" | generated / real |" if both else " |"),
             "| --- |" + " ---: |" * (len(names) + both)]
    for group, key, label, digits in ROWS:
        values = [result["sets"][n][group].get(key) for n in names]
        if all(v is None for v in values):
            continue
        cells = ["–" if v is None else f"{v:,.{digits}f}" for v in values]
        if both:
            real, generated = (result["sets"][n][group].get(key) for n in ("real", "generated"))
            cells.append(f"{generated / real:.2f}×" if real and generated is not None else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Real GeoTIFF tiles (+ footprints), a generated xBD folder, the common GSD and where to write."""
    parser.add_argument("--real", type=Path, nargs="+", required=True, help="real post-event GeoTIFF tiles (RGB u8)")
    parser.add_argument("--footprints", type=Path, default=None, help="building footprints over them (GeoJSON)")
    parser.add_argument("--generated", type=Path, required=True, help="an xBD-layout folder from `satedge scenes`")
    parser.add_argument("--limit", type=int, default=16, help="generated scenes to read at most (default 16)")
    parser.add_argument("--gsd", type=float, default=0.6, help="metres per pixel both sets are compared at (0.6)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")


def run(args: argparse.Namespace) -> int:
    """Print the comparison table; exit 0."""
    if args.gsd <= 0 or args.limit < 1:
        raise UserError("--gsd must be positive and --limit at least 1")
    missing = [p for p in args.real if not p.is_file()]
    if missing:
        raise UserError(f"no such file: {missing[0]}")
    result = compare([real_tiles(args.real, args.footprints), generated_scenes(args.generated, args.limit)],
                     args.gsd)
    for name, s in result["sets"].items():
        print(f"{name}: {s['images']} images from {s['source']}, native GSD {s['native_gsd_m']} m")
    print(f"(images resampled to {args.gsd} m before the image statistics)\n")
    print("\n".join(table(result)))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0
