"""Hand freed scene-sized buffers back to the system at once, so the daemon's resident memory stays bounded.

glibc serves a large allocation with its own mmap and unmaps it on free, but
raises that threshold to the size of the largest block freed so far (up to
32 MB): after the first scene, every 25 MB scene array and 16 MB label image
comes from the heap, and what the heap frees is kept, fragmented, as
resident memory. Fixing the threshold keeps each scene's buffers in maps of
their own (measured on the default scenario's 2048² scenes: peak RSS 359 →
333 MB). Other C libraries have no such knob and are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3          # glibc's mallopt parameter numbers (malloc.h)
MMAP_THRESHOLD_BYTES = 1 << 20  # blocks of 1 MiB or more get maps of their own: scenes, maps, labels


def release_large_blocks() -> bool:
    """Fix glibc's mmap threshold; False where the C library is not glibc (nothing to do there)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
