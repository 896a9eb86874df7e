"""Where a scene is on Earth: pixel to UTM to lon/lat, and the GeoTIFFs the onboard daemon reads.

Post scenes are written one GeoTIFF each, with their acquisition time in the
tag ACQUISITION_TIME (ISO 8601, UTC, "Z" suffix). The pre-event images are
laid into one reference mosaic on the run's grid of adjacent cells, written
block by block as the scenes are made, so memory stays flat however big the
run.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import Affine
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window

from sim.scenes.spec import SceneSpec

ACQUISITION_TAG = "ACQUISITION_TIME"
LONLAT = CRS.from_epsg(4326)


def iso(t: datetime) -> str:
    """A UTC time as ISO 8601 to the second with a `Z` suffix, as the GeoTIFF tags and the xBD labels carry it."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def affine(spec: SceneSpec) -> Affine:
    """The scene's pixel (col, row) to UTM (easting, northing in metres) transform, as rasterio takes it."""
    a, b, c, d, e, f = spec.transform
    return Affine(a, b, c, d, e, f)


def lnglat(spec: SceneSpec, xy: np.ndarray) -> np.ndarray:
    """Pixel coordinates (x right, y down, pixel corners at integers) to (lon, lat) degrees."""
    a, _, c, _, e, f = spec.transform
    eastings = c + a * xy[:, 0]
    northings = f + e * xy[:, 1]
    lon, lat = warp_transform(CRS.from_epsg(spec.epsg), LONLAT, eastings.tolist(), northings.tolist())
    return np.column_stack([lon, lat])


def _block(size: int) -> int:
    """The largest GeoTIFF tile edge (a multiple of 16) that divides a scene, so writes fill whole tiles."""
    for b in (512, 256, 128, 64, 32, 16):
        if size % b == 0:
            return b
    return 16


def _profile(width: int, height: int, spec: SceneSpec, transform: Affine) -> dict:
    """Tiled, uncompressed, band-interleaved GeoTIFF, for post scenes and the reference mosaic alike.

    Onboard, CPU is the scarce resource and mass memory is not: every decoded byte is CPU the model does not
    get, on the same two cores. Per 2048² scene read on this project's machine, the reference window costs
    12 ms as ZSTD (level 1, predictor 2), 1.3 ms uncompressed, for about twice the mosaic's size on disk
    (default scenario: 144 MB instead of 71); bands stored apart decode straight into the daemon's
    `[6, H, W]` array (post 2.4 ms instead of 2.9 pixel-interleaved).
    """
    block = _block(spec.size)
    return dict(driver="GTiff", width=width, height=height, count=3, dtype="uint8",
                crs=CRS.from_epsg(spec.epsg), transform=transform, tiled=True, blockxsize=block,
                blockysize=block, photometric="RGB", interleave="band", BIGTIFF="IF_SAFER")


def _write_rgb(dst, image: np.ndarray, window: Window | None = None) -> None:
    dst.write(np.moveaxis(image, 2, 0), window=window)


def write_post(path: Path, scene) -> None:
    """Write the post image as a tiled GeoTIFF with its acquisition tags, renamed in place once whole."""
    spec = scene.spec
    acq = scene.post_acquisition
    profile = _profile(spec.size, spec.size, spec, affine(spec))
    tmp = path.with_suffix(".tif.part")
    with rasterio.open(tmp, "w", **profile) as dst:
        _write_rgb(dst, scene.post)
        dst.update_tags(**{ACQUISITION_TAG: iso(spec.post_time), "DISASTER": spec.event,
                           "DISASTER_TYPE": spec.disaster_type, "SCENE_ID": spec.stem,
                           "SUN_AZIMUTH": f"{acq.sun_azimuth:.2f}", "SUN_ELEVATION": f"{acq.sun_elevation:.2f}",
                           "OFF_NADIR": f"{acq.off_nadir:.2f}", "GSD_M": str(spec.transform[0])})
        dst.set_band_description(1, "red")
        dst.set_band_description(2, "green")
        dst.set_band_description(3, "blue")
    tmp.replace(path)


class ReferenceMosaic:
    """The pre-event mosaic: one GeoTIFF covering every scene's cell, filled as scenes arrive."""

    def __init__(self, path: Path, specs: list[SceneSpec]):
        first = specs[0]
        # The cells the specs use (plan() fills ceil(sqrt(N)) columns row by row; the camera, one row per orbit).
        cols = max(s.cell[1] for s in specs) + 1
        rows = max(s.cell[0] for s in specs) + 1
        width, height = cols * first.size, rows * first.size
        transform = Affine(first.transform[0], 0.0, first.origin[0], 0.0, first.transform[4], first.origin[1])
        self.path = path
        self._tmp = path.with_suffix(".tif.part")
        self._dst = rasterio.open(self._tmp, "w", **_profile(width, height, first, transform))
        self._dst.update_tags(DESCRIPTION="pre-event reference mosaic", SCENES=str(len(specs)),
                              PRE_EVENT_FROM=iso(min(s.pre_time for s in specs)),
                              PRE_EVENT_TO=iso(max(s.pre_time for s in specs)))

    def add(self, scene) -> None:
        """Write the scene's pre image into its grid cell of the mosaic."""
        row, col = scene.spec.cell
        size = scene.spec.size
        _write_rgb(self._dst, scene.pre, Window(col * size, row * size, size, size))

    def close(self) -> None:
        """Finish the mosaic and rename it to `path`, so no reader ever sees it half-written."""
        self._dst.close()
        self._tmp.replace(self.path)

    def abort(self) -> None:
        """Drop the unfinished mosaic; whatever was at `path` is left untouched."""
        self._dst.close()
        self._tmp.unlink(missing_ok=True)


class GeoTiffWriter:
    """`<out>/geotiff/`: one `<stem>_post_disaster.tif` per scene and the `reference.tif` mosaic."""

    def __init__(self, out: Path, specs: list[SceneSpec]):
        self.dir = out / "geotiff"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.mosaic = ReferenceMosaic(self.dir / "reference.tif", specs)
        self.count = 0

    def add(self, scene) -> None:
        """Write the scene's post GeoTIFF and lay its pre image into the reference mosaic."""
        write_post(self.dir / f"{scene.spec.stem}_post_disaster.tif", scene)
        self.mosaic.add(scene)
        self.count += 1

    def close(self) -> dict:
        """Finish the mosaic; return the counts the generation summary reports (`geotiffs`, `reference`)."""
        self.mosaic.close()
        return {"geotiffs": self.count, "reference": str(self.mosaic.path)}

    def abort(self) -> None:
        """Drop the unfinished mosaic after a failed run; post GeoTIFFs already written stay."""
        self.mosaic.abort()
