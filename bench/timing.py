"""How every row is timed: warm-up, then repeated timed windows; medians and percentiles.

A window keeps the runtime busy for at least `seconds` (and at least
`min_calls` calls), then waits for what is in flight: tiles/s of a window is
tiles finished / wall time. A row's tiles/s is the median over its windows;
its latency percentiles are over every call of every window (one call = one
batch).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Budget:
    """Warm-up seconds, then `windows` windows, each of at least `window_s` seconds and `min_calls` calls."""

    warmup_s: float
    windows: int
    window_s: float
    min_calls: int = 3


def percentile_ms(latencies_s: list[float], q: float) -> float:
    """The `q`-th percentile of latencies given in seconds, in milliseconds."""
    return float(np.percentile(np.asarray(latencies_s) * 1000.0, q))


def run_windows(call: Callable[[], None], drain: Callable[[], None], latencies: list[float],
                batch: int, budget: Budget) -> dict:
    """Time `call` (one batch; may return before the batch completes) in windows; `drain` waits for all.

    `latencies` is filled by the caller's completion path (seconds per call).
    """
    deadline = time.perf_counter() + budget.warmup_s
    warm_calls = 0
    while time.perf_counter() < deadline or warm_calls < 1:
        call()
        warm_calls += 1
    drain()
    latencies.clear()
    rates = []
    for _ in range(budget.windows):
        started = time.perf_counter()
        calls = 0
        while time.perf_counter() - started < budget.window_s or calls < budget.min_calls:
            call()
            calls += 1
        drain()
        rates.append(calls * batch / (time.perf_counter() - started))
    return {"tiles_per_s": statistics.median(rates), "tiles_per_s_windows": [round(r, 3) for r in rates],
            "calls": len(latencies), "latency_p50_ms": percentile_ms(latencies, 50),
            "latency_p99_ms": percentile_ms(latencies, 99), "warmup_calls": warm_calls}
