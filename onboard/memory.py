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
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

import cv2
from rasterio.env import set_gdal_config

M_MMAP_THRESHOLD = -3           # glibc's mallopt parameter numbers (malloc.h)
M_ARENA_MAX = -8
M_TRIM_THRESHOLD = -1
MMAP_THRESHOLD_BYTES = 8 << 20  # blocks of 8 MiB or more get maps of their own: scenes, result maps, labels
ARENAS = 2
TRIM_THRESHOLD_BYTES = 64 << 20
GDAL_CACHE_MB = 8


def _glibc_function(name: str) -> Any:
    """A function of the C library if it is glibc's, else None."""
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        return getattr(ctypes.CDLL(library), name)
    except (OSError, AttributeError):
        return None


def release_large_blocks() -> bool:
    """Fix glibc's mmap and trim thresholds and its number of arenas; False where the C library is not glibc
    (nothing to do there)."""
    mallopt = _glibc_function("mallopt")
    if mallopt is None:
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


def give_back() -> bool:
    """Hand the memory the allocator holds free back to the system (glibc's `malloc_trim`); False where there
    is no glibc. For after a precision swap: the dropped engine's buffers leave holes all through the heaps,
    which the trim threshold never returns, and the daemon otherwise carried them for the rest of its life."""
    trim = _glibc_function("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True
