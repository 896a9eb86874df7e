"""Ingest: post-event GeoTIFFs from the inbox, the matching pre-event pixels from the reference.

A scene is accepted only if it is a readable, georeferenced, north-up,
3-band u8 GeoTIFF of sane size that lies inside the reference mosaic; the
checks that need no pixels run before anything is allocated. Anything else
is a `BadScene` whose reason goes into `quarantine/<file>.reason` next to the
moved file, so an operator can see what was wrong and nothing is lost.

The pre-event window is read from the reference by the scene's bounds and
resampled onto the scene's own grid (a `WarpedVRT`), so reference and scene
may differ in CRS and resolution; when the scene lies on the reference's
own grid (same CRS and pixel size, whole-pixel offset) the window is read
as it is, which gives the same pixels at a fraction of the cost. Both are
decoded straight into the scene's `[6, H, W]` array (pre, then post: the
model's channel order), so nothing is copied or transposed after decoding.

A scene the reference covers only partly, or not at all, is still read:
where there is no pre-event view (outside the mosaic, or its no-data) the
pre pixels are `NO_PRE_FILL` in all three bands, the input the model was
trained to grade from the post image alone (docs/onboard.md, "Partial
reference coverage"), and `Scene.coverage` says which pixels had a view.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

import cv2
import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray
from rasterio.crs import CRS
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import DatasetReader
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from onboard import memory
from onboard.manifest import sha256
from satedge.errors import UserError
from satedge.vocabulary import unix_seconds

log = logging.getLogger("satedge.onboard.ingest")

SUFFIXES = (".tif", ".tiff")
ACQUISITION_TAGS = ("ACQUISITION_TIME", "TIFFTAG_DATETIME")
SCENE_ID_TAG = "SCENE_ID"      # else the file name without its suffix
BANDS = 3
ALIGNED_TOLERANCE = 1e-6     # of a pixel: grids closer than this are the same grid
NO_PRE_FILL = 0              # pre pixels without a pre-event view: what the model learned means "no view"
Overlap = Literal["inside", "partly", "outside"]   # a scene's footprint against the reference mosaic's extent


class BadScene(Exception):
    """A scene that goes to quarantine; the message is the reason."""


@dataclass
class Scene:
    """A decoded scene, ready for tiling: `pixels` is `[6, H, W]` u8, pre RGB then post RGB on one grid.

    The pipeline drops `pixels` (sets None) once the scene's tiles are queued.
    """

    id: str
    path: Path
    pixels: NDArray[np.uint8] | None
    crs: CRS
    transform: Affine
    acquired: float
    raw_bytes: int
    identity: str = ""   # what the spool knows the scene by (`identity`), not its file name
    # pixels with a pre-event view (`[H, W]` bool), or None when every pixel has one (`coverage_share` 1)
    coverage: NDArray[np.bool_] | None = None
    coverage_share: float = 1.0

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the scene (while it still has its pixels)."""
        assert self.pixels is not None
        _, height, width = self.pixels.shape
        return height, width

    @property
    def pre(self) -> NDArray[np.uint8]:
        """HxWx3 view of the pre-event image."""
        assert self.pixels is not None
        return self.pixels[:BANDS].transpose(1, 2, 0)

    @property
    def post(self) -> NDArray[np.uint8]:
        """HxWx3 view of the post-event image."""
        assert self.pixels is not None
        return self.pixels[BANDS:].transpose(1, 2, 0)


def pending(inbox: Path) -> list[Path]:
    """Entries named like scenes in the inbox, oldest first (writers publish by rename, so names are final).

    Whatever the entry is (a file, a folder, a symlink, dangling or not, a FIFO) is listed: `check_in_inbox`
    says why anything but a regular file cannot be a scene, and it goes to quarantine with that reason.
    A file may be retired by the post thread while this lists the folder: it is simply not listed.
    """
    entries = []
    try:
        for p in inbox.iterdir():
            if p.suffix.lower() not in SUFFIXES or p.name.startswith("."):
                continue
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            entries.append((st.st_mtime, p.name, p))
    except FileNotFoundError:
        return []
    return [p for _, _, p in sorted(entries)]


KINDS = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device",
         stat.S_IFBLK: "a device"}


def check_in_inbox(path: Path, inbox: Path) -> None:
    """Only a regular file placed in the inbox is read: a symlink could point the daemon at anything on board,
    and opening a FIFO would block the reader for good."""
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode) or path.resolve().parent != inbox.resolve():
        raise BadScene("a symbolic link or not in the inbox: only files placed in the inbox are read")
    if not stat.S_ISREG(mode):
        raise BadScene(f"not a regular file but {KINDS.get(stat.S_IFMT(mode), 'a special file')}")


def _tagged_time(tags: dict[str, str]) -> float | None:
    """ACQUISITION_TIME (ISO 8601 or Unix seconds), else the TIFF DateTime; None if neither is there."""
    for tag in ACQUISITION_TAGS:
        value = tags.get(tag)
        if not value:
            continue
        for text in (value, value.replace(":", "-", 2)):   # ISO 8601, or TIFF's "YYYY:MM:DD HH:MM:SS"
            try:
                return unix_seconds(text)
            except ValueError:
                continue
        raise BadScene(f"tag {tag}={value[:40]!r} is not a time (ISO 8601 or Unix seconds)")
    return None


def identity(path: Path, tags: dict[str, str], tagged: float | None) -> str:
    """What the spool knows a scene by, never its file name alone (a name comes back with the next pass).

    The camera's acquisition id (its SCENE_ID and acquisition time tags) when the file carries both: free,
    since the header is read anyway. Otherwise the file's sha256 (~10–30 ms for a 2048² scene on one core).
    """
    if tagged is not None and tags.get(SCENE_ID_TAG):
        return f"acq:{tags[SCENE_ID_TAG]}@{tagged!r}"
    return f"sha256:{sha256(path)}"


class Reference:
    """The onboard pre-event mosaic, open for the life of the daemon."""

    def __init__(self, path: Path):
        try:
            self.dataset = rasterio.open(path)
        except RasterioError as exc:
            raise UserError(f"cannot open reference mosaic {path}: {str(exc).splitlines()[0]}") from None
        ds = self.dataset
        if ds.count < BANDS or ds.dtypes[0] != "uint8" or ds.crs is None:
            raise UserError(f"reference mosaic {path} must be a georeferenced RGB uint8 GeoTIFF "
                            f"(has {ds.count} bands, {ds.dtypes[0]}, crs {ds.crs})")
        self.path = path

        # a reference with no no-data marks (no nodata value, mask or alpha) has data wherever it has pixels
        self.all_valid = all(flags == [MaskFlags.all_valid] for flags in ds.mask_flag_enums[:BANDS])

    def overlap(self, crs: CRS, bounds: tuple[float, float, float, float]) -> Overlap:
        """How the footprint `bounds` (in `crs`) lies against the mosaic's extent: `inside` (give or take one
        mosaic pixel), `partly` or `outside`."""
        footprint: tuple[float, float, float, float] = transform_bounds(crs, self.dataset.crs, *bounds)
        left, bottom, right, top = footprint
        ref = self.dataset.bounds
        slack = max(abs(self.dataset.transform.a), abs(self.dataset.transform.e))
        if (left >= ref.left - slack and right <= ref.right + slack
                and bottom >= ref.bottom - slack and top <= ref.top + slack):
            return "inside"
        if left >= ref.right or right <= ref.left or bottom >= ref.top or top <= ref.bottom:
            return "outside"
        return "partly"

    def window(self, crs: CRS, transform: Affine, out: NDArray[np.uint8], overlap: Overlap = "inside") -> None:
        """Fill `out` (`[3, H, W]` u8) with the reference on the scene's grid; `NO_PRE_FILL` where it has no
        data (`overlap` from `overlap()`: nothing is read for a scene outside the mosaic)."""
        if overlap == "outside":
            out.fill(NO_PRE_FILL)
            return
        bands = list(range(1, BANDS + 1))
        aligned = self._aligned_window(crs, transform, *out.shape[1:])
        if aligned is not None and self.all_valid:
            self.dataset.read(bands, out=out, window=aligned)
            return
        with WarpedVRT(self.dataset, crs=crs, transform=transform, width=out.shape[2], height=out.shape[1],
                       resampling=Resampling.bilinear) as vrt:
            vrt.read(bands, out=out)
            if not self.all_valid:   # else GDAL already filled what the mosaic does not reach with 0
                out[:, vrt.dataset_mask() == 0] = NO_PRE_FILL

    def _aligned_window(self, crs: CRS, transform: Affine, height: int, width: int) -> Window | None:
        """The reference's own window under the scene, if the scene lies on the reference's grid."""
        ref = self.dataset.transform
        same_grid = (transform.a, transform.b, transform.d, transform.e) == (ref.a, ref.b, ref.d, ref.e)
        if crs != self.dataset.crs or not same_grid:
            return None
        col, row = ~ref @ (transform.c, transform.f)
        if abs(col - round(col)) > ALIGNED_TOLERANCE or abs(row - round(row)) > ALIGNED_TOLERANCE:
            return None
        col, row = round(col), round(row)
        if col < 0 or row < 0 or col + width > self.dataset.width or row + height > self.dataset.height:
            return None   # partly outside: the warped read fills the edge
        return Window(col, row, width, height)

    def close(self) -> None:
        """Close the mosaic (at shutdown: it stays open for the daemon's life)."""
        self.dataset.close()


class Reader:
    """Validates and decodes one inbox file at a time."""

    def __init__(self, reference: Reference | None, max_side: int, max_pixels: int):
        self.reference = reference   # None: no pre-event imagery at all, every scene is graded post-only
        self.max_side, self.max_pixels = max_side, max_pixels

    def read(self, path: Path, arrived: float) -> Scene:
        """Decode `path` into a `Scene`, or raise `BadScene` saying why it cannot be used."""
        try:
            with warnings.catch_warnings():   # no georeferencing is a reason to refuse, said below
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                ds = rasterio.open(path)
            with ds:
                self._check_header(ds)
                tags = ds.tags()
                tagged = _tagged_time(tags)
                crs, transform, bounds = ds.crs, ds.transform, ds.bounds
                if ds.dtypes[0] != "uint8":
                    self._refuse_pixels(ds.read())
                overlap: Overlap = self.reference.overlap(crs, bounds) if self.reference is not None else "outside"
                pixels = memory.scene_buffer((2 * BANDS, ds.height, ds.width))   # the engine gives rows back
                ds.read(out=pixels[BANDS:])
        except RasterioError as exc:
            raise BadScene(f"not a readable GeoTIFF (truncated or corrupt): {str(exc).splitlines()[0]}") from None
        if self.reference is None:
            pixels[:BANDS].fill(NO_PRE_FILL)
        else:
            self.reference.window(crs, transform, pixels[:BANDS], overlap)
        coverage, share = pre_coverage(pixels[:BANDS])
        return Scene(id=tags.get(SCENE_ID_TAG) or path.stem, path=path, pixels=pixels, crs=crs,
                     transform=transform, acquired=arrived if tagged is None else tagged,
                     raw_bytes=int(pixels[BANDS:].nbytes), identity=identity(path, tags, tagged),
                     coverage=coverage, coverage_share=share)

    @staticmethod
    def _refuse_pixels(pixels: NDArray[Any]) -> NoReturn:
        """Float scenes are refused; NaNs say more about what went wrong upstream than the dtype does."""
        if pixels.dtype.kind == "f" and np.isnan(pixels).any():
            raise BadScene("NaN pixels")
        raise BadScene(f"dtype {pixels.dtype}, expected uint8")

    def _check_header(self, ds: DatasetReader) -> None:
        """Everything that can be refused before a pixel is read (no allocation from a hostile header)."""
        if ds.driver != "GTiff":
            raise BadScene(f"not a GeoTIFF (format {ds.driver})")
        if ds.width > self.max_side or ds.height > self.max_side or ds.width * ds.height > self.max_pixels:
            raise BadScene(f"absurd size {ds.width}x{ds.height} (limits: side {self.max_side}, "
                           f"{self.max_pixels} pixels)")
        if ds.count != BANDS:
            raise BadScene(f"{ds.count} bands, expected {BANDS} (RGB)")
        if len(set(ds.dtypes)) != 1:
            raise BadScene(f"mixed band dtypes {ds.dtypes}")
        if ds.dtypes[0] != "uint8" and not ds.dtypes[0].startswith("float"):
            raise BadScene(f"dtype {ds.dtypes[0]}, expected uint8")
        if ds.crs is None or ds.transform.is_identity:
            raise BadScene("no georeferencing (CRS and geotransform are required)")
        if ds.transform.b != 0 or ds.transform.d != 0:
            raise BadScene("rotated geotransform: only north-up scenes are supported")


def pre_coverage(pre: NDArray[np.uint8]) -> tuple[NDArray[np.bool_] | None, float]:
    """(pixels with a pre-event view, their share): a pixel has one unless all three bands are `NO_PRE_FILL`.

    Read from the pixels, so a mosaic whose gaps are black without a no-data mark counts them as gaps too
    (a real pixel black in all three bands is rare, and the model sees it as no view anyway). About 1 ms for
    2048²; None (and 1.0) when every pixel has a view, the usual case, so nothing is kept.
    """
    seen = cv2.bitwise_or(cv2.bitwise_or(pre[0], pre[1]), pre[2])
    covered = cv2.countNonZero(seen)
    if covered == seen.size:
        return None, 1.0
    return seen != NO_PRE_FILL, covered / seen.size


def quarantine(path: Path, folder: Path, reason: str) -> Path:
    """Move `path` into `folder` with a `.reason` file beside it; never overwrite an earlier one."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    n = 1
    while target.exists() or target.with_name(target.name + ".reason").exists():
        target = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    why = target.with_name(target.name + ".reason")
    try:   # the reason first: a file is never in quarantine without one (on a full disk it stays where it is)
        why.write_text(f"{reason}\nfile: {path.name}\nquarantined: {stamp}\n")
        shutil.move(str(path), target)
    except BaseException:
        why.unlink(missing_ok=True)
        raise
    return target


def retire(path: Path, processed: Path | None) -> None:
    """A scene whose summary is spooled leaves the inbox: deleted, or moved to `processed`."""
    try:
        if processed is None:
            os.unlink(path)
        else:
            processed.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), processed / path.name)
    except FileNotFoundError:
        pass
