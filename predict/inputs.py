"""One input of `satedge predict`: a post-event GeoTIFF (pre from the reference) or an xBD post PNG.

A GeoTIFF goes through the daemon's own `ingest.Reader`, so it is checked,
and its pre-event window warped from the reference, exactly as onboard: a
scene the daemon would quarantine is refused here with the same reason, and
where the reference has no view (or there is none) the post image alone is
graded, as onboard. An
xBD pair is read as `satedge evaluate` reads it (pre PNG beside the post).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from affine import Affine
from numpy.typing import NDArray
from rasterio.crs import CRS

from onboard import ingest, tiling
from onboard.config import IngestSection

XBD_POST = "_post_disaster.png"
XBD_PRE = "_pre_disaster.png"


class BadInput(Exception):
    """An input that cannot be predicted; the message says why, in one line."""


@dataclass
class Input:
    """A decoded input: `pixels` `[6, H, W]` u8 (pre, then post); `crs`/`transform` None for an xBD PNG;
    `coverage`/`coverage_share` as `ingest.Scene`'s (the pixels with a pre-event view, None for all)."""

    path: Path
    stem: str
    pixels: NDArray[np.uint8]
    crs: CRS | None
    transform: Affine | None
    coverage: NDArray[np.bool_] | None = None
    coverage_share: float = 1.0

    @property
    def post(self) -> NDArray[np.uint8]:
        """HxWx3 post-event image."""
        return np.ascontiguousarray(self.pixels[3:].transpose(1, 2, 0))

    @property
    def georeferenced(self) -> bool:
        """Whether outputs can be GeoTIFF and GeoJSON."""
        return self.crs is not None and self.transform is not None


def kind(path: Path) -> str:
    """`xbd` for an xBD post PNG, `geotiff` for a .tif/.tiff; a BadInput for anything else."""
    if not path.is_file():
        raise BadInput("no such file")
    name = path.name.lower()
    if name.endswith(XBD_POST):
        return "xbd"
    if path.suffix.lower() in ingest.SUFFIXES:
        return "geotiff"
    raise BadInput(f"not a GeoTIFF (.tif) or an xBD post image (*{XBD_POST})")


def _read_png(path: Path) -> NDArray[np.uint8]:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise BadInput(f"cannot read {path.name} as an image")
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def read_xbd(path: Path) -> Input:
    """An xBD post PNG and the pre PNG beside it (same size)."""
    pre_path = path.with_name(path.name[: -len(XBD_POST)] + XBD_PRE)
    if not pre_path.is_file():
        raise BadInput(f"no pre-event image {pre_path.name} beside it")
    post, pre = _read_png(path), _read_png(pre_path)
    if pre.shape != post.shape:
        raise BadInput(f"pre {pre.shape[1]}x{pre.shape[0]} and post {post.shape[1]}x{post.shape[0]} differ in size")
    return Input(path, path.stem, tiling.stack(pre, post), None, None)


class GeoTiffReader:
    """The daemon's reader over the reference mosaic (None: no pre-event imagery, every input is graded from
    its post image alone), with the daemon's default limits."""

    def __init__(self, reference: Path | None):
        self.reference = ingest.Reference(reference) if reference is not None else None
        limits = IngestSection()
        self.reader = ingest.Reader(self.reference, limits.max_side, limits.max_pixels)

    def read(self, path: Path) -> Input:
        """The post GeoTIFF with its pre-event pixels from the reference, on the post grid."""
        try:
            scene = self.reader.read(path, arrived=time.time())
        except ingest.BadScene as bad:
            raise BadInput(str(bad)) from None
        assert scene.pixels is not None
        return Input(path, path.stem, scene.pixels, scene.crs, scene.transform, scene.coverage,
                     scene.coverage_share)

    def close(self) -> None:
        """Close the reference."""
        if self.reference is not None:
            self.reference.close()
