"""OpenVINO rows: each IR of the manifest, reshaped to each batch, under the THROUGHPUT and LATENCY hints.

Runs the way the daemon runs it: an `AsyncInferQueue` with the number of
requests the plugin finds optimal for the hint, u8 tiles in. The worker
process imports openvino and numpy only.
"""

from __future__ import annotations

import time

import numpy as np

from bench.timing import Budget, run_windows

HINTS = ("THROUGHPUT", "LATENCY")
DEVICE = "CPU"
# compiled-model properties recorded with each row (what the hint chose)
PROPERTIES = ("OPTIMAL_NUMBER_OF_INFER_REQUESTS", "NUM_STREAMS", "INFERENCE_NUM_THREADS",
              "INFERENCE_PRECISION_HINT", "EXECUTION_MODE_HINT")


def compile_reshaped(xml: str, shape: list[int], hint: str, extra: dict | None = None):
    """Compile `xml` with a static input `shape` (`model.reshape`: a new batch, or a dynamic IR made static)."""
    import openvino as ov

    core = ov.Core()
    model = core.read_model(xml)
    if model.inputs[0].get_partial_shape() != ov.PartialShape(shape):
        model.reshape(shape)
    return core.compile_model(model, DEVICE, {"PERFORMANCE_HINT": hint, **(extra or {})})


def measure(spec: dict, budget: Budget) -> dict:
    """Worker side: tiles/s and latency of one IR at one batch and hint."""
    import openvino as ov

    from bench.executed import analyse

    batch = spec["batch"]
    tiles = np.load(spec["tiles"])[:batch]
    started = time.perf_counter()
    compiled = compile_reshaped(spec["xml"], [batch, *spec["sample_shape"]], spec["hint"], spec.get("config"))
    compile_s = time.perf_counter() - started
    properties = {name: str(compiled.get_property(name)) for name in PROPERTIES}
    requests = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    queue = ov.AsyncInferQueue(compiled, requests)
    latencies: list[float] = []
    # the request's own latency (start to completion, as benchmark_app reports it), not the wait for a free one
    queue.set_callback(lambda request, _: latencies.append(request.latency / 1000.0))
    result = run_windows(lambda: queue.start_async({0: tiles}), queue.wait_all, latencies, batch, budget)
    executed = analyse(compiled)
    result.update(compile_s=round(compile_s, 3), requests=requests, properties=properties,
                  openvino=ov.get_version(), executes_in=executed.dominant(), executed=executed.describe())
    return result


def profile(xml: str, tiles_path: str, hint: str = "LATENCY", calls: int = 20) -> list[dict]:
    """OpenVINO's performance counters for one IR at batch 1: where the time goes, by layer type."""
    tiles = np.load(tiles_path)[:1]
    compiled = compile_reshaped(xml, list(tiles.shape), hint, {"PERF_COUNT": True})
    request = compiled.create_infer_request()
    for _ in range(3):
        request.infer({0: tiles})
    by_type: dict[tuple[str, str], float] = {}
    for _ in range(calls):
        request.infer({0: tiles})
        for info in request.profiling_info:
            if info.status.name != "EXECUTED":
                continue
            key = (info.node_type, info.exec_type)
            by_type[key] = by_type.get(key, 0.0) + info.real_time.total_seconds() * 1000.0 / calls
    total = sum(by_type.values()) or 1.0
    rows = [{"layer_type": t, "exec_type": e, "ms": round(ms, 3), "share": round(ms / total, 3)}
            for (t, e), ms in by_type.items()]
    return sorted(rows, key=lambda r: -r["ms"])


# --- rows (orchestrator side) -------------------------------------------------

# "default": compiled as the satellite compiles it (`onboard.engine.EXECUTION`: FP32 forced to f32);
# "plugin": the CPU plugin's own choice, shown where the satellite overrides it (bf16 on a bf16 CPU).
VARIANT_SUFFIX = {"default": "", "plugin": " (plugin default)"}


def variant_config(precision: str, variant: str) -> dict:
    """The compile-time properties of a row besides the hint."""
    from onboard.engine import EXECUTION

    return EXECUTION.get(precision, {}) if variant == "default" else {}


def infer_precision(precision: str, variant: str) -> str | None:
    """benchmark_app's `-infer_precision` for the same row."""
    return variant_config(precision, variant).get("INFERENCE_PRECISION_HINT")
LABELS = {"fp32": "FP32", "fp16": "FP16", "int8-nncf": "INT8-NNCF", "int8-inc": "INT8-INC"}


def combinations(ctx) -> list[tuple[str, str, str, int, int]]:
    """(precision, variant, hint, batch, tile) of every OpenVINO row, in table order: the model's own tile at
    every batch, then each other tile size of the plan at batch 1 (the IR reshaped; as the satellite compiles it)."""
    combos = []
    tile, *others = ctx.tile_sizes()
    for precision in ctx.precisions():
        for variant in VARIANT_SUFFIX:
            if variant == "plugin" and not variant_config(precision, "default"):
                continue
            batches = ctx.plan.batches if variant == "default" else ctx.plan.plugin_default_batches
            combos += [(precision, variant, hint, batch, tile) for hint in HINTS for batch in batches]
    for other in others:
        combos += [(precision, "default", hint, 1, other) for precision in ctx.precisions() for hint in HINTS]
    return combos


def ir_mb(ctx, precision: str) -> float:
    """Size of the precision's IR on disk, .xml plus .bin, in MiB (2**20 bytes)."""
    entry = ctx.manifest.precisions[precision]
    return round(sum((ctx.model_dir / f).stat().st_size for f in (entry.xml, entry.bin)) / 2 ** 20, 3)


def rows(ctx) -> list[dict]:
    """Each row, then benchmark_app on the same IR, hint and shape right after it (same machine load)."""
    from bench import benchmark_app, worker
    from bench.plan import fail, new_row

    out = []
    xml = {p: str(ctx.manifest.ir(p)) for p in ctx.precisions()}      # sha256 checked once, here
    for precision, variant, hint, batch, tile in combinations(ctx):
        config, suffix = variant_config(precision, variant), VARIANT_SUFFIX[variant]
        row = new_row("runtime", f"OpenVINO {LABELS.get(precision, precision)}{suffix}", runtime="openvino",
                      precision=precision, variant=variant, hint=hint, batch=batch, tile=tile,
                      ir_mb=ir_mb(ctx, precision), score_of=precision)
        out.append(row)
        ctx.progress("measuring", model=ctx.name, row=row["name"], hint=hint, batch=batch, tile=tile)
        spec = {"kind": "openvino", "xml": xml[precision], "batch": batch, "hint": hint, "config": config,
                "sample_shape": [6, tile, tile],
                "tiles": str(ctx.tiles_at[tile]), "budget": vars(ctx.plan.openvino_budget)}
        try:
            row.update(worker.run(spec, timeout=ctx.plan.timeout_s))
            row["status"] = "measured"
        except Exception as exc:   # one broken row must not lose the rest of the table
            fail(row, exc)
        out.append(benchmark_app.row(ctx, precision, variant, hint, batch, tile))
    return out

