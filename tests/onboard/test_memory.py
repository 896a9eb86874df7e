"""The daemon's process settings: fixed mmap and trim thresholds, two arenas (glibc), GDAL cache, OpenCV threads."""

from __future__ import annotations

import platform

import cv2
import numpy as np
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
    return int(open("/proc/self/statm").read().split()[1]) * (memory.mmap.PAGESIZE // 1024)


def test_a_scene_buffer_gives_its_forgotten_rows_back_to_the_system():
    planes = memory.scene_buffer((6, 1024, 1024))
    planes[:] = 7
    before = resident_kb()
    given = memory.forget_rows(planes, 512)
    assert given >= 6 * 511 * 1024                                  # whole pages of the first 512 rows of each plane
    assert before - resident_kb() >= given // 1024 - 64              # really out of this process (private map)
    assert not planes[:, :511].any() and (planes[:, 513:] == 7).all()  # forgotten rows read as zeros, the rest kept
    assert memory.forget_rows(planes, 10_000) >= 6 * 1023 * 1024     # past the last row: every plane whole


def test_forget_rows_leaves_any_other_array_alone():
    plain = np.full((6, 64, 4096), 7, dtype=np.uint8)
    view = memory.scene_buffer((6, 64, 4096))[:, 8:]                  # not from the map's first byte
    view[:] = 7
    assert memory.forget_rows(plain, 64) == 0 and (plain == 7).all()
    assert memory.forget_rows(view, 32) == 0 and (view == 7).all()
