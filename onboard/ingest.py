"""Ingest: post-event GeoTIFFs from the inbox, the matching pre-event pixels from the reference.

A scene is accepted only if it is a readable, georeferenced, north-up,
3-band u8 GeoTIFF of sane size that lies inside the reference mosaic; the
checks that need no pixels run before anything is allocated. Anything else
is a `BadScene` whose reason goes into `quarantine/<file>.reason` next to the
moved file, so an operator can see what was wrong and nothing is lost.

The daemon opens a scene (`Reader.open`: every check that needs no pixels)
and the engine reads its pixels one band of tile rows at a time as it
queues the tiles (`SceneRows`), so a scene in flight holds one band of
pixels, not 25 MB (docs/onboard.md, "Memory"); a file that fails part way
is given up with its reason then. `Reader.read` reads a scene whole
(`satedge predict`, the bench). The pre-event rows are read from the
reference by the scene's bounds and resampled onto the scene's own grid (a
`WarpedVRT`), so reference and scene may differ in CRS and resolution; when
the scene lies on the reference's own grid (same CRS and pixel size,
whole-pixel offset) the window is read as it is, which gives the same
pixels at a fraction of the cost. Both are decoded straight into `[6, rows,
W]` (pre, then post: the model's channel order), so nothing is copied or
transposed after decoding.

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
import threading
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
from rasterio.transform import array_bounds
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from onboard import tiling
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
    """An accepted scene: what it is, where it lies, and its `[6, H, W]` u8 pixels, pre RGB then post RGB on one
    grid: `rows` reads them band by band (`Reader.open`); `pixels` holds them whole (`Reader.read`).

    `coverage` (the pixels with a pre-event view, `[H, W]` bool, or None when every pixel has one) and
    `coverage_share` are known once every row was read.
    """

    id: str
    path: Path
    crs: CRS
    transform: Affine
    acquired: float
    raw_bytes: int
    identity: str        # what the spool knows the scene by (`identity`), not its file name
    rows: SceneRows
    pixels: NDArray[np.uint8] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the scene."""
        return self.rows.height, self.rows.width

    @property
    def coverage(self) -> NDArray[np.bool_] | None:
        """The pixels with a pre-event view (None: all of them)."""
        return self.rows.coverage

    @property
    def coverage_share(self) -> float:
        """The share of pixels with a pre-event view."""
        return self.rows.coverage_share

    @property
    def pre(self) -> NDArray[np.uint8]:
        """HxWx3 view of the pre-event image (a scene read whole)."""
        assert self.pixels is not None
        return self.pixels[:BANDS].transpose(1, 2, 0)

    @property
    def post(self) -> NDArray[np.uint8]:
        """HxWx3 view of the post-event image (a scene read whole)."""
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
        # one GDAL handle, used by one thread at a time: the scene being queued and, during a precision swap,
        # the one the old engine finishes read their rows from it at once
        self.lock = threading.Lock()

    def overlap(self, crs: CRS, bounds: tuple[float, float, float, float]) -> Overlap:
        """How the footprint `bounds` (in `crs`) lies against the mosaic's extent: `inside` (give or take one
        mosaic pixel), `partly` or `outside`."""
        with self.lock:
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

    def pre_rows(self, crs: CRS, transform: Affine, height: int, width: int, overlap: Overlap) -> PreRows:
        """A reader of the reference's pixels on one scene's grid, band by band."""
        return PreRows(self, crs, transform, height, width, overlap)

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
        with self.lock:
            self.dataset.close()


class PreRows:
    """The reference under one scene, on the scene's grid, read band by band: the mosaic's own window when the
    scene lies on its grid, else resampled (one `WarpedVRT` for the scene); `NO_PRE_FILL` where it has no data
    (nothing is read for a scene outside the mosaic)."""

    def __init__(self, reference: Reference, crs: CRS, transform: Affine, height: int, width: int,
                 overlap: Overlap):
        self.reference, self.crs, self.transform = reference, crs, transform
        self.height, self.width, self.overlap = height, width, overlap
        with reference.lock:
            self.aligned = reference._aligned_window(crs, transform, height, width)
        self.vrt: WarpedVRT | None = None

    def read(self, y: int, out: NDArray[np.uint8]) -> None:
        """Fill `out` (`[3, n, W]` u8) with the scene's pre-event rows y..y+n."""
        if self.overlap == "outside":
            out.fill(NO_PRE_FILL)
            return
        bands, rows = list(range(1, BANDS + 1)), out.shape[1]
        ref = self.reference
        with ref.lock:
            if self.aligned is not None and ref.all_valid:
                ref.dataset.read(bands, out=out, window=Window(self.aligned.col_off, self.aligned.row_off + y,
                                                                self.width, rows))
                return
            if self.vrt is None:
                self.vrt = WarpedVRT(ref.dataset, crs=self.crs, transform=self.transform, width=self.width,
                                     height=self.height, resampling=Resampling.bilinear, **self._scale())
            window = Window(0, y, self.width, rows)
            self.vrt.read(bands, out=out, window=window)
            if not ref.all_valid:   # else GDAL already filled what the mosaic does not reach with 0
                out[:, self.vrt.dataset_mask(window=window) == 0] = NO_PRE_FILL

    def _scale(self) -> dict[str, float]:
        """GDAL's warp XSCALE and YSCALE (scene pixels per mosaic pixel), fixed for the whole scene. GDAL
        otherwise works them out for each chunk it warps, from the chunk's shape, so the same row read in
        another band (the engine reads a band of tile rows at a time) could come out a few levels apart."""
        left, bottom, right, top = transform_bounds(self.crs, self.reference.dataset.crs,
                                                    *array_bounds(self.height, self.width, self.transform))
        res_x, res_y = self.reference.dataset.res
        return {"XSCALE": res_x * self.width / (right - left), "YSCALE": res_y * self.height / (top - bottom)}

    def close(self) -> None:
        """Close the scene's resampling view, if it had one."""
        if self.vrt is not None:
            with self.reference.lock:
                self.vrt.close()
            self.vrt = None


class SceneRows:
    """A scene's `[6, H, W]` pixels (`tiling.Rows`): its file's rows and the reference's under them, read one
    band at a time into one reused buffer, each band's pre-event coverage counted as it is read."""

    def __init__(self, path: Path, dataset: DatasetReader, pre: PreRows | None):
        self.path, self.dataset, self.pre = path, dataset, pre
        self.height, self.width = dataset.height, dataset.width
        self.buffer: NDArray[np.uint8] | None = None
        self.counted = 0                # rows whose coverage is counted (bands overlap: each row once)
        self.covered = 0                # of their pixels, those with a pre-event view
        self.coverage: NDArray[np.bool_] | None = None    # made at the first pixel without one

    @property
    def coverage_share(self) -> float:
        """The share of the rows read so far (all, once the scene is read) that have a pre-event view."""
        return self.covered / (self.counted * self.width) if self.counted and self.width else 1.0

    def strip(self, y: int, rows: int) -> NDArray[np.uint8]:
        """`[6, rows, W]` from row `y`, in the buffer the next band is read into."""
        rows = min(rows, self.height - y)
        if self.buffer is None or self.buffer.shape[1] != rows:
            self.buffer = np.empty((2 * BANDS, rows, self.width), dtype=np.uint8)
        self._read(y, self.buffer)
        return self.buffer

    def whole(self) -> NDArray[np.uint8]:
        """The whole `[6, H, W]` scene in an array of its own."""
        pixels = np.empty((2 * BANDS, self.height, self.width), dtype=np.uint8)
        self._read(0, pixels)
        return pixels

    def close(self) -> None:
        """Close the scene's file (and its resampling view of the reference)."""
        self.dataset.close()
        if self.pre is not None:
            self.pre.close()

    def _read(self, y: int, out: NDArray[np.uint8]) -> None:
        try:
            self.dataset.read(out=out[BANDS:], window=Window(0, y, self.width, out.shape[1]))
        except RasterioError as exc:
            raise tiling.UnreadableRows(f"not a readable GeoTIFF (truncated or corrupt): "
                                        f"{str(exc).splitlines()[0]}") from None
        if self.pre is None:
            out[:BANDS].fill(NO_PRE_FILL)
        else:
            self.pre.read(y, out[:BANDS])
        self._count(y, out[:BANDS])

    def _count(self, y: int, pre: NDArray[np.uint8]) -> None:
        """Count the pre-event view of the rows of `pre` (rows y..) not counted yet: a pixel has one unless all
        three bands are `NO_PRE_FILL` (so a mosaic whose gaps are black without a no-data mark counts them as
        gaps too; a real pixel black in all three bands is rare, and the model sees it as no view anyway)."""
        first = self.counted - y
        if first >= pre.shape[1]:
            return
        bands = pre[:, max(first, 0):]
        seen = cv2.bitwise_or(cv2.bitwise_or(bands[0], bands[1]), bands[2])
        covered = cv2.countNonZero(seen)
        if covered < seen.size and self.coverage is None:
            self.coverage = np.ones((self.height, self.width), dtype=bool)
        if self.coverage is not None:
            self.coverage[self.counted:self.counted + seen.shape[0]] = seen != NO_PRE_FILL
        self.covered += covered
        self.counted += seen.shape[0]


class Reader:
    """Validates and decodes one inbox file at a time."""

    def __init__(self, reference: Reference | None, max_side: int, max_pixels: int):
        self.reference = reference   # None: no pre-event imagery at all, every scene is graded post-only
        self.max_side, self.max_pixels = max_side, max_pixels

    def open(self, path: Path, arrived: float) -> Scene:
        """Check `path` without reading its pixels and open it (its `rows` read them), or raise `BadScene`
        saying why it cannot be used."""
        try:
            with warnings.catch_warnings():   # no georeferencing is a reason to refuse, said below
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                ds = rasterio.open(path)
        except RasterioError as exc:
            raise BadScene(f"not a readable GeoTIFF (truncated or corrupt): {str(exc).splitlines()[0]}") from None
        try:
            self._check_header(ds)
            tags = ds.tags()
            tagged = _tagged_time(tags)
            if ds.dtypes[0] != "uint8":
                self._refuse_pixels(ds.read())
            crs, transform = ds.crs, ds.transform
            pre = None
            if self.reference is not None:
                pre = self.reference.pre_rows(crs, transform, ds.height, ds.width,
                                              self.reference.overlap(crs, ds.bounds))
            return Scene(id=tags.get(SCENE_ID_TAG) or path.stem, path=path, crs=crs, transform=transform,
                         acquired=arrived if tagged is None else tagged, raw_bytes=BANDS * ds.height * ds.width,
                         identity=identity(path, tags, tagged), rows=SceneRows(path, ds, pre))
        except RasterioError as exc:
            ds.close()
            raise BadScene(f"not a readable GeoTIFF (truncated or corrupt): {str(exc).splitlines()[0]}") from None
        except BaseException:
            ds.close()
            raise

    def read(self, path: Path, arrived: float) -> Scene:
        """`open`, and read the scene's pixels whole (`Scene.pixels`): a `BadScene` if they cannot be."""
        scene = self.open(path, arrived)
        try:
            scene.pixels = scene.rows.whole()
        except tiling.UnreadableRows as exc:
            raise BadScene(str(exc)) from None
        finally:
            scene.rows.close()
        return scene

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
