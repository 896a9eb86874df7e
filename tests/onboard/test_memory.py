"""The daemon's process settings: fixed mmap and trim thresholds, two arenas (glibc), GDAL cache, OpenCV threads;
freed memory handed back after a swap."""

from __future__ import annotations

import platform

import cv2
import pytest
from rasterio.env import get_gdal_config

from onboard import memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_the_fixed_thresholds_and_two_arenas():
    assert memory.release_large_blocks() is True


def test_the_daemon_settings_cut_gdal_cache_and_opencv_threads():
    threads = cv2.getNumThreads()
    try:
        memory.run_as_the_daemon()
        assert cv2.getNumThreads() == 1
        assert int(get_gdal_config("GDAL_CACHEMAX")) == memory.GDAL_CACHE_MB
    finally:
        cv2.setNumThreads(threads)


def resident_kb() -> int:
    return int(open("/proc/self/statm").read().split()[1]) * 4


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_give_back_returns_freed_heap_memory_to_the_system():
    """What a swap's retire thread relies on: memory freed inside the heap (a live block above it, so the top
    cannot shrink) stays resident until `give_back`."""
    memory.release_large_blocks()
    blocks = [bytearray(4096) for _ in range(20_000)]        # 80 MB of small blocks, from the heap
    last = blocks.pop()
    del blocks
    before = resident_kb()
    assert memory.give_back() is True
    assert before - resident_kb() > 40_000, "the freed blocks stayed resident"
    assert len(last) == 4096
