"""What a compiled model executes: FLOPs counted from the runtime graph, per kernel precision."""

from __future__ import annotations

import openvino as ov
import pytest

from bench.ceilings import build, copy_bandwidth, measure
from bench.executed import analyse, kernel_precision, multiply_accumulates
from bench.timing import Budget


@pytest.mark.parametrize(("primitive", "runtime", "expected"), [
    ("brgconv_avx512_amx_bf16", "bf16", "bf16"), ("brgconv_avx512_I8", "u8", "int8"),
    ("brgconv_avx512_1x1_f32", "f16", "f32"), ("gemm_mlas_f32", "f32", "f32"), ("ref_any", "i8", "int8"),
])
def test_the_kernel_name_says_what_runs_over_the_node_precision(primitive, runtime, expected):
    assert kernel_precision(primitive, runtime) == expected


def test_multiply_accumulates_of_each_layer_kind():
    assert multiply_accumulates("Convolution", [[1, 6, 8, 8], [4, 6, 3, 3]], [1, 4, 8, 8]) == 4 * 64 * 54
    assert multiply_accumulates("Convolution", [[1, 8, 8, 8], [2, 3, 4, 3, 3]], [1, 6, 8, 8]) == 6 * 64 * 36
    assert multiply_accumulates("Deconvolution", [[1, 8, 4, 4], [8, 3, 2, 2]], [1, 3, 8, 8]) == 8 * 16 * 12
    assert multiply_accumulates("FullyConnected", [[5, 7], [3, 7]], [5, 3]) == 5 * 3 * 7


@pytest.mark.parametrize("kernel", ["matmul", "conv"])
def test_runtime_graph_flops_equal_the_layer_s_and_int8_executes_in_int8(kernel):
    core = ov.Core()
    model, flops = build(kernel, "int8", 64, 16)
    executed = analyse(core.compile_model(model, "CPU"))
    assert executed.total_flops == flops
    assert executed.dominant() == "int8", executed.kernels
    as_f32 = analyse(core.compile_model(build(kernel, "f32", 64, 16)[0], "CPU", {"INFERENCE_PRECISION_HINT": "f32"}))
    assert as_f32.shares() == {"f32": 1.0} and as_f32.bytes_moved == 4 * executed.bytes_moved


def test_a_ceiling_row_is_a_real_measurement():
    row = measure({"kernel": "conv", "precision": "int8", "channels": 32, "hw": 16}, Budget(0.05, 1, 0.1, 2))
    assert row["gflops"] > 0 and row["executes_in"] == "int8"
    assert row["gflop_per_call"] == 2 * 16 * 16 * 32 * 32 * 9 / 1e9
    memory = copy_bandwidth(8, threads=2, repeats=2)
    assert memory["gb_per_s"] > 0 and len(memory["runs"]) == 2
