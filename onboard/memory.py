"""How the daemon's process uses memory and threads, set once at start-up (the bench's stage timings too).

glibc serves a large allocation with its own mmap and unmaps it on free, but
raises that threshold to the size of the largest block freed so far (up to
32 MB): after the first scene, every 25 MB scene array and 16 MB label image
would come from the heap, and what the heap frees is kept, fragmented, as
resident memory. So the threshold is fixed, at 8 MB: scene-sized buffers get
maps of their own and go back to the system when freed, while the few-MB
arrays of building extraction (one entry per building pixel) are reused from
the heap scene after scene. Every fresh map is faulted in page by page: at a
1 MB threshold those arrays cost ~17,000 page faults per 2048² scene, and
the daemon ran at 357 tiles/s (peak RSS 341 MB) against 395 (346 MB) at 8 MB
and 399 (375 MB) with glibc's sliding threshold (INT8, default scenario,
one run each, 2026-12-07). And glibc gives each thread that allocates its
own arena (up to eight per core), each keeping what it frees: the reader,
infer, post, downlink and OpenVINO threads all allocate, so the daemon uses
two arenas: peak RSS 318-321 -> 306 MB at the same tiles/s (INT8, default
scenario, two runs each, 2026-12-07). Last, glibc gives back the top of a
heap as soon as 128 KB of it is free, so building extraction's arrays were
faulted in afresh scene after scene: the trim threshold is 64 MB (one
2048² scene's extraction, alone: 10,275 -> 516 page faults, 46 -> 29 ms,
peak RSS unchanged). Other C libraries have no such knobs.

A decoded scene is 25 MB (2048², pre and post) and the reader decodes the
next one while the current one is queued: `scene_buffer` puts a scene in a
map of its own, and `forget_rows` gives back the rows whose tiles are
queued (they are copies), so the scene in hand shrinks as it is inferred.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import mmap

import cv2
import numpy as np
from numpy.typing import NDArray
from rasterio.env import set_gdal_config

M_MMAP_THRESHOLD = -3           # glibc's mallopt parameter numbers (malloc.h)
M_ARENA_MAX = -8
M_TRIM_THRESHOLD = -1
MMAP_THRESHOLD_BYTES = 8 << 20  # blocks of 8 MiB or more get maps of their own: scenes, result maps, labels
ARENAS = 2
TRIM_THRESHOLD_BYTES = 64 << 20
GDAL_CACHE_MB = 8


def release_large_blocks() -> bool:
    """Fix glibc's mmap and trim thresholds and its number of arenas; False where the C library is not glibc
    (nothing to do there)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return all(mallopt(param, value) for param, value in ((M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
                                                          (M_ARENA_MAX, ARENAS),
                                                          (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)))


def run_as_the_daemon() -> None:
    """The daemon's process settings: the fixed mmap threshold, GDAL's block cache cut to GDAL_CACHE_MB (by
    default 5 % of RAM, though the daemon reads each block of a scene once and each reference block about once,
    so that cache is only resident memory), and OpenCV on one thread (the cores are OpenVINO's: OpenCV's worker
    threads would only contend with it)."""
    release_large_blocks()
    set_gdal_config("GDAL_CACHEMAX", GDAL_CACHE_MB)
    cv2.setNumThreads(1)


def scene_buffer(shape: tuple[int, int, int]) -> NDArray[np.uint8]:
    """A zeroed `[C, H, W]` u8 array in an anonymous map of its own, whose rows `forget_rows` can give back."""
    size = math.prod(shape)
    # private: a shared anonymous map would keep forgotten pages in shared memory, only out of this process's RSS
    region = mmap.mmap(-1, max(size, 1), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return np.frombuffer(region, dtype=np.uint8, count=size).reshape(shape)


def _own_map(planes: NDArray[np.uint8]) -> mmap.mmap | None:
    """The map `planes` fills from its first byte (a `scene_buffer`), else None."""
    root: object = planes
    while isinstance(root, np.ndarray):
        array, root = root, root.base
    if isinstance(root, memoryview):     # np.frombuffer's view of the map
        root = root.obj
    if not isinstance(root, mmap.mmap) or not planes.flags.c_contiguous or planes.ctypes.data != array.ctypes.data:
        return None
    return root


def forget_rows(planes: NDArray[np.uint8], rows: int) -> int:
    """Give the first `rows` rows of every plane of a `[C, H, W]` `scene_buffer` back to the system (whole pages
    only; they read as zeros afterwards); the bytes given back. Any other array is left alone (0)."""
    region = _own_map(planes)
    if region is None:
        return 0
    channels, height, width = planes.shape
    rows = min(max(rows, 0), height)
    given = 0
    for plane in range(channels):
        start = plane * height * width
        first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
        end = (start + rows * width) // mmap.PAGESIZE * mmap.PAGESIZE
        if end > first:
            region.madvise(mmap.MADV_DONTNEED, first, end - first)
            given += end - first
    return given
