"""The report keeps what was written around its tables; benchmark_app's output is read in either unit."""

from __future__ import annotations

import pytest

from bench import report
from bench.benchmark_app import BenchmarkAppFailed, parse


def minimal_results() -> dict:
    return {"finished": "now", "plan": {"quick": True, "openvino": {"windows": 2, "window_s": 0.5},
                                        "torch": {"windows": 2, "window_s": 0.7}, "benchmark_app_seconds": 2},
            "machine": {"cpu_model": "cpu", "physical_cores": 2, "logical_cpus": 2, "flags": ["avx2"]},
            "model": {"dir": "m", "name": "m", "tile": 64, "overlap": 8, "gflop_per_tile": 0.1,
                      "weights": "random weights"},
            "rows": [{"kind": "runtime", "name": "PyTorch eager FP32", "runtime": "pytorch", "precision": "fp32",
                      "variant": "eager", "hint": None, "batch": 1, "status": "failed: boom"}],
            "targets": [], "sections": {}, "profile": {}}


def test_text_outside_the_markers_survives_a_rerun(tmp_path):
    path = tmp_path / "performance.md"
    report.write_markdown(minimal_results(), path)
    text = path.read_text()
    path.write_text("# Mine\n\nWritten by hand.\n\n" + text[text.index(report.BEGIN):] + "\n## After\n\nAlso mine.\n")
    report.write_markdown(minimal_results(), path)
    again = path.read_text()
    assert again.startswith("# Mine\n\nWritten by hand.")
    assert again.rstrip().endswith("Also mine.")
    assert again.count(report.BEGIN) == 1 and "failed: boom" in again


BENCHMARK_APP_TAIL = """[ INFO ] Count:            13176 iterations
[ INFO ] Duration:         2000.46 ms
[ INFO ] Latency:
[ INFO ]    Median:        {median}
[ INFO ] Throughput:   {fps} FPS
"""


def test_benchmark_app_output_in_ms_and_us():
    short = parse(BENCHMARK_APP_TAIL.format(median="264.14 us", fps="6586.50"), batch=1)
    assert short["latency_median_ms"] == 0.26414 and short["tiles_per_s"] == 13176 / 2.00046
    long = parse(BENCHMARK_APP_TAIL.format(median="12.50 ms", fps="52693.0"), batch=8)
    assert long["latency_median_ms"] == 12.5
    with pytest.raises(BenchmarkAppFailed, match="batch dimension"):
        parse(BENCHMARK_APP_TAIL.format(median="12.50 ms", fps="6586.50"), batch=8)
