"""Where generated scenes differ from real ones: image and building statistics side by side.

    python -m sim.scenes.gaps --generated DIR [--limit N] --real IMAGE... [--footprints FILE --tiles TIF...]

`--generated` is a folder in the xBD layout (`satedge scenes`); `--real` are real images (GeoTIFF or
PNG, RGB u8), each summarised on its own. With `--footprints` and `--tiles`, the real building
footprints over those tiles are summarised like the generator's own labels (size, density, share).
Prints one JSON document; docs/generator-gaps.md records a run. Measures only: no model involved.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rasterio
import rasterio.warp
import shapely
from numpy.typing import NDArray
from shapely import wkt

GENERATED_GSD_M = 0.5


def read_rgb(path: Path) -> NDArray[np.uint8]:
    """HxWx3 u8 from a GeoTIFF (first three bands) or a PNG."""
    if path.suffix.lower() in (".tif", ".tiff"):
        with rasterio.open(path) as ds:
            return np.ascontiguousarray(ds.read([1, 2, 3]).transpose(1, 2, 0))
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot read {path}")
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def image_statistics(rgb: NDArray[np.uint8]) -> dict[str, float]:
    """Colour, texture, sharpness and vegetation of one image."""
    pixels = rgb.reshape(-1, 3).astype(np.float32)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    return {
        "mean_r": float(r.mean()), "mean_g": float(g.mean()), "mean_b": float(b.mean()),
        "std_gray": float(gray.std()),
        "saturation": float(hsv[..., 1].mean()),
        "gradient": float(np.hypot(gx, gy).mean()),                        # texture / edges
        "laplacian_var": float(cv2.Laplacian(gray, cv2.CV_32F).var()),    # fine detail, noise, blur
        "vegetation": float(((g > r + 5) & (g > b + 5)).mean()),          # green-dominant pixels
        "dark": float((gray < 40).mean()),                                 # shadows, water
    }


def _summary(rows: list[dict[str, float]]) -> dict[str, Any]:
    keys = rows[0].keys()
    return {k: {"mean": round(float(np.mean([r[k] for r in rows])), 3),
                "p10": round(float(np.percentile([r[k] for r in rows], 10)), 3),
                "p90": round(float(np.percentile([r[k] for r in rows], 90)), 3)} for k in keys}


def building_statistics(areas_m2: list[float], covered_km2: float) -> dict[str, float]:
    """Size distribution, density and share of buildings over an area."""
    areas = np.array(areas_m2) if areas_m2 else np.zeros(1)
    return {"buildings": len(areas_m2), "per_km2": round(len(areas_m2) / covered_km2, 1),
            "area_p10_m2": round(float(np.percentile(areas, 10)), 1),
            "area_median_m2": round(float(np.median(areas)), 1),
            "area_p90_m2": round(float(np.percentile(areas, 90)), 1),
            "share": round(float(areas.sum() / (covered_km2 * 1e6)), 4)}


def generated_buildings(folder: Path, names: list[str]) -> dict[str, float]:
    """The generator's post labels (pixel outlines at 0.5 m) over its scenes."""
    areas, km2 = [], 0.0
    for name in names:
        label = json.loads((folder / "labels" / f"{name}.json").read_text())
        size = label["metadata"]["width"] * label["metadata"]["height"]
        km2 += size * GENERATED_GSD_M ** 2 / 1e6
        areas += [wkt.loads(f["wkt"]).area * GENERATED_GSD_M ** 2 for f in label["features"]["xy"]]
    return building_statistics(areas, km2)


def real_buildings(footprints: Path, tiles: list[Path]) -> dict[str, float]:
    """Footprints (GeoJSON, WGS84) over the union of the tiles, areas on a local equal-area approximation."""
    data = json.loads(footprints.read_text())
    polygons = [shapely.geometry.shape(f["geometry"]) for f in data["features"]]
    boxes = []
    for tile in tiles:
        with rasterio.open(tile) as ds:
            boxes.append(shapely.box(*rasterio.warp.transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)))
    region = shapely.union_all(boxes)
    lat = region.centroid.y
    m_per_deg = 111_320.0
    scale = m_per_deg ** 2 * np.cos(np.radians(lat))          # degrees² to m² near lat
    inside = [p for p in polygons if region.contains(p.centroid)]
    return building_statistics([p.area * scale for p in inside], region.area * scale / 1e6)


def main(argv: list[str] | None = None) -> int:
    """Print the generated and real statistics as one JSON document."""
    p = argparse.ArgumentParser(prog="python -m sim.scenes.gaps", description=__doc__.splitlines()[0])
    p.add_argument("--generated", type=Path, required=True)
    p.add_argument("--limit", type=int, default=50, help="generated scenes to summarise (default 50)")
    p.add_argument("--real", type=Path, nargs="+", required=True)
    p.add_argument("--footprints", type=Path, default=None)
    p.add_argument("--tiles", type=Path, nargs="*", default=[])
    args = p.parse_args(argv)
    posts = sorted((args.generated / "images").glob("*_post_disaster.png"))[: args.limit]
    if not posts:
        raise SystemExit(f"{args.generated}: no images/*_post_disaster.png")
    pres = [q.with_name(q.name.replace("_post_", "_pre_")) for q in posts]
    out: dict[str, Any] = {
        "generated": {"scenes": len(posts), "post": _summary([image_statistics(read_rgb(q)) for q in posts]),
                      "pre": _summary([image_statistics(read_rgb(q)) for q in pres]),
                      "buildings": generated_buildings(args.generated, [q.stem for q in posts])},
        "real": {str(q): image_statistics(read_rgb(q)) for q in args.real},
    }
    if args.footprints and args.tiles:
        out["real_buildings"] = real_buildings(args.footprints, args.tiles)
    print(json.dumps(out, indent=1, default=lambda v: round(v, 3)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
