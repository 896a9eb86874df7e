"""This CPU's practical ceilings, measured with OpenVINO itself: a large MatMul and a large convolution in
f32, bf16 and int8, and the memory bandwidth of a large copy.

A model row is then judged against the ceiling of the precision it really
executes in (`bench.executed`), not against numpy's FP32 GEMM: a bf16 or int8
kernel on matrix units can run several times faster than any f32 proxy. The
layers are built in the worker with OpenVINO's opset; int8 is asked for the
way NNCF asks for it (FakeQuantize on activations, u8, and weights, i8), so
the plugin's low-precision transformations pick int8 kernels where the CPU
has them. What each layer then executes in is read back from the runtime
model: on a CPU without bf16 the "bf16" row says f32.
"""

from __future__ import annotations

import statistics
import threading
import time

import numpy as np

from bench.timing import Budget, run_windows

PRECISIONS = ("f32", "bf16", "int8")
# (kernel, channels or matrix size, spatial size): large enough to keep the matrix units busy; a ceiling is the
# best of its kernel's shapes, since which shape a CPU's kernels like best differs from CPU to CPU. On the 2-core
# AMD EPYC (Zen 5) of 2026-12-07 the widest convolution was the fastest in every precision (int8: 128 ch at 64²
# 1,084 GOP/s, 512 at 32² 1,535, 1024 at 16² 1,928): without it a ResNet-18 U-Net ran at 106 % of "the ceiling".
SHAPES = {"full": (("matmul", 2048, 0), ("conv", 256, 64), ("conv", 512, 32), ("conv", 1024, 16)),
          "quick": (("matmul", 1024, 0), ("conv", 128, 32))}
COPY_MB = {"full": 512, "quick": 128}


def _quantized(node, low: float, high: float):
    """An 8-bit FakeQuantize over [low, high]: what NNCF puts before each quantized input."""
    import openvino.opset13 as ops

    lo, hi = np.float32(low), np.float32(high)
    return ops.fake_quantize(node, lo, hi, lo, hi, 256)


def build(kernel: str, precision: str, channels: int, hw: int):
    """An n×n MatMul (n = `channels`) or a 3×3 convolution, c → c channels over hw², with random weights;
    int8 through FakeQuantize; returns (model, FLOPs per call)."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    if kernel == "matmul":
        n = channels
        x = ops.parameter([n, n], ov.Type.f32, name="x")
        weights = ops.constant(rng.uniform(-1, 1, (n, n)).astype(np.float32))
        flops = 2.0 * n ** 3
    else:
        c = channels
        x = ops.parameter([1, c, hw, hw], ov.Type.f32, name="x")
        weights = ops.constant(rng.uniform(-1, 1, (c, c, 3, 3)).astype(np.float32))
        flops = 2.0 * hw * hw * c * c * 9
    data = x
    if precision == "int8":
        data, weights = _quantized(x, 0.0, 2.55), _quantized(weights, -1.28, 1.27)
    if kernel == "matmul":
        out = ops.matmul(data, weights, False, False)
    else:
        out = ops.convolution(data, weights, [1, 1], [1, 1], [1, 1], [1, 1])
    return ov.Model([out], [x], f"{kernel}-{precision}"), flops


def measure(spec: dict, budget: Budget) -> dict:
    """Worker side: GFLOP/s (GOP/s for int8) of one kernel at one precision, THROUGHPUT hint, and what ran."""
    import openvino as ov

    from bench.executed import analyse

    model, flops = build(spec["kernel"], spec["precision"], spec["channels"], spec["hw"])
    config = {"PERFORMANCE_HINT": "THROUGHPUT"}
    if spec["precision"] != "int8":
        config["INFERENCE_PRECISION_HINT"] = spec["precision"]
    compiled = ov.Core().compile_model(model, "CPU", config)
    executed = analyse(compiled)
    requests = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    queue = ov.AsyncInferQueue(compiled, requests)
    data = np.random.default_rng(1).uniform(0, 2.5, tuple(model.inputs[0].shape)).astype(np.float32)
    latencies: list[float] = []
    queue.set_callback(lambda request, _: latencies.append(request.latency / 1000.0))
    timed = run_windows(lambda: queue.start_async({0: data}), queue.wait_all, latencies, 1, budget)
    return {"gflops": timed["tiles_per_s"] * flops / 1e9, "calls_per_s": timed["tiles_per_s"],
            "gflop_per_call": flops / 1e9, "executes_in": executed.dominant(), "executed": executed.describe(),
            "requests": requests, "openvino": ov.get_version()}


def copy_bandwidth(megabytes: int, threads: int, repeats: int = 5) -> dict:
    """GB/s of a large copy split over `threads` (numpy releases the GIL while copying): bytes read + written."""
    src = np.ones(megabytes * 2 ** 20 // 8, dtype=np.float64)
    dst = np.empty_like(src)
    edges = np.linspace(0, src.size, threads + 1).astype(int)
    bounds = list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))

    def copy(lo: int, hi: int) -> None:
        np.copyto(dst[lo:hi], src[lo:hi])

    rates = []
    for _ in range(repeats + 1):                     # the first pass faults the pages in: not counted
        workers = [threading.Thread(target=copy, args=b) for b in bounds]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        rates.append(2 * src.nbytes / (time.perf_counter() - started) / 1e9)
    return {"gb_per_s": statistics.median(rates[1:]), "threads": threads, "megabytes": megabytes,
            "runs": [round(r, 2) for r in rates[1:]]}


def rows(ctx) -> list[dict]:
    """Orchestrator side: one row per kernel and precision, each in a worker; then the copy bandwidth."""
    from bench import worker
    from bench.machine import physical_cores
    from bench.plan import fail, new_row

    size = "quick" if ctx.plan.quick else "full"
    out = []
    for kernel, channels, hw in SHAPES[size]:
        for precision in PRECISIONS:
            shape = f"{channels}²" if kernel == "matmul" else f"{channels}→{channels} ch, {hw}²"
            row = new_row("ceiling", f"{kernel} {shape} {precision}", kernel=kernel, precision=precision,
                          channels=channels, hw=hw, shape=shape)
            ctx.progress("measuring", row=row["name"])
            spec = {"kind": "ceiling", "kernel": kernel, "precision": precision, "channels": channels, "hw": hw,
                    "budget": vars(ctx.plan.openvino_budget)}
            try:
                row.update(worker.run(spec, timeout=ctx.plan.timeout_s))
                row["status"] = "measured"
            except Exception as exc:   # one broken row must not lose the rest of the table
                fail(row, exc)
            out.append(row)
    cores = physical_cores()
    ctx.sections["memory"] = max((copy_bandwidth(COPY_MB[size], threads) for threads in sorted({1, cores})),
                                 key=lambda m: m["gb_per_s"])
    return out


def ceiling_for(rows: list[dict], precision: str | None, kernel: str = "conv") -> dict | None:
    """The measured ceiling row of `kernel` that executed in `precision` (the fastest, if several did)."""
    found = [r for r in rows if r["kind"] == "ceiling" and r["status"] == "measured" and r["kernel"] == kernel
             and r.get("executes_in") == precision]
    return max(found, key=lambda r: r["gflops"], default=None)
