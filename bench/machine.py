"""The machine: CPU model and flags, and cores (its measured ceilings are `bench.ceilings`')."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo_blocks() -> list[dict[str, str]]:
    try:
        text = CPUINFO.read_text()
    except OSError:
        return []
    blocks = []
    for chunk in text.strip().split("\n\n"):
        fields = {}
        for line in chunk.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        blocks.append(fields)
    return blocks


def physical_cores() -> int:
    """Distinct (package, core) pairs; the logical CPU count where /proc/cpuinfo says nothing."""
    cores = {(b.get("physical id"), b.get("core id")) for b in _cpuinfo_blocks() if "core id" in b}
    return len(cores) or os.cpu_count() or 1


def describe() -> dict:
    """CPU model and flags (first /proc/cpuinfo block), logical and physical cores, platform, Python and numpy."""
    blocks = _cpuinfo_blocks()
    first = blocks[0] if blocks else {}
    return {"cpu_model": first.get("model name", platform.processor()), "flags": first.get("flags", "").split(),
            "logical_cpus": os.cpu_count(), "physical_cores": physical_cores(),
            "cpu_mhz": first.get("cpu MHz"), "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__}
