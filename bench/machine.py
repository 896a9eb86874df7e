"""The machine: CPU model and flags, cores, and its measured FP32 GEMM ceiling (numpy)."""

from __future__ import annotations

import os
import platform
import statistics
import time
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


def gemm_gflops(n: int = 4096, repeats: int = 5) -> dict:
    """FP32 matrix multiply n×n by n×n with numpy's BLAS: 2·n³ FLOP per product; median of `repeats`."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    a @ b                                            # warm-up (thread pool, page faults)
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        rates.append(2 * n ** 3 / (time.perf_counter() - started) / 1e9)
    return {"gemm_gflops": statistics.median(rates), "gemm_n": n, "gemm_repeats": repeats,
            "gemm_gflops_runs": [round(r, 1) for r in rates], "blas_threads": _blas_threads()}


def _blas_threads() -> list[dict]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{"api": p.get("internal_api"), "threads": p.get("num_threads")} for p in threadpool_info()]
