"""The daemon's allocator setting: on glibc the mmap threshold is fixed, so freed scene buffers leave at once."""

from __future__ import annotations

import platform

import pytest

from onboard.memory import release_large_blocks


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_the_fixed_threshold():
    assert release_large_blocks() is True
