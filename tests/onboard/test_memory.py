"""The daemon's process settings: fixed mmap and trim thresholds, two arenas (glibc), GDAL cache, OpenCV threads."""

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
