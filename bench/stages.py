"""What the daemon does to a scene besides inference, stage by stage, timed alone on one thread.

The daemon's own code on the scenario's scenes: read (open the post-event
GeoTIFF, then decode it and the reference under it one band of tile rows at
a time, as the engine asks), cut (copy each tile out of its band into its
request's input), stitch the model's outputs, find the buildings, the
out-of-distribution guard's statistics, make and encode the summary. On a 2-core
machine that work competes with inference for the same cores, so it bounds
the pipeline's efficiency: with a scene's inference taking I seconds of both
cores (benchmark_app's rate) and its other work W core-seconds, even perfect
overlap cannot beat I / (I + W/2). The worker runs without torch, like the daemon.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

STAGES = ("read", "cut", "stitch", "buildings", "guard", "summary")


def measure(spec: dict, budget) -> dict:
    """Worker side: per-stage milliseconds per scene (median over the scenes)."""
    import numpy as np

    from onboard import guard, ingest, memory, postprocess, tiling
    from onboard.config import PostprocessSection
    from onboard.engine import Engine
    from onboard.manifest import Manifest
    from satedge import protocol

    memory.run_as_the_daemon()   # its allocator, GDAL cache and OpenCV threads: page faults are part of the work
    manifest = Manifest.load(spec["model_dir"])
    ood_guard = guard.load(Path(spec["model_dir"]))
    engine = Engine(manifest, spec["precision"], cache_dir=Path(spec["cache_dir"]), hint="LATENCY")
    reference = ingest.Reference(Path(spec["reference"]))
    reader = ingest.Reader(reference, 1 << 40, 1 << 40)
    post_cfg = PostprocessSection(**spec["postprocess"])
    ms: dict[str, list[float]] = {stage: [] for stage in STAGES}
    tiles_per_scene, listed = [], []

    def timed(stage, call):
        started = time.perf_counter()
        value = call()
        ms[stage].append((time.perf_counter() - started) * 1000.0)
        return value

    for path in spec["scenes"]:
        read_s = cut_s = 0.0
        started = time.perf_counter()
        scene = reader.open(Path(path), arrived=0.0)
        read_s += time.perf_counter() - started
        height, width = scene.shape
        grid = tiling.grid(height, width, engine.tile, engine.overlap)    # the scenario's scenes fill a tile
        chips, strip_y = [], -1
        for t in grid:
            if t.y != strip_y:
                started = time.perf_counter()
                strip, strip_y = scene.rows.strip(t.y, engine.tile), t.y
                read_s += time.perf_counter() - started
            started = time.perf_counter()
            chip = np.empty((1, tiling.CHANNELS, engine.tile, engine.tile), dtype=np.uint8)
            chip[0] = strip[:, :, t.x:t.x + engine.tile]
            cut_s += time.perf_counter() - started
            chips.append(chip)
        scene.rows.close()
        ms["read"].append(read_s * 1000.0)
        ms["cut"].append(cut_s * 1000.0)
        outputs = [[np.array(out[0]) for out in engine.compiled({0: chip}).values()] for chip in chips]
        stitcher = tiling.Stitcher(height, width, engine.layers)
        timed("stitch", lambda: [stitcher.put(t, dict(zip(engine.layers, out))) for t, out in zip(grid, outputs)])
        found = timed("buildings", lambda: postprocess.buildings(
            stitcher["classes"], stitcher["confidence"], scene.crs, scene.transform, post_cfg.split_m,
            post_cfg.min_area_m2, scene.coverage))

        stats = timed("guard", lambda: guard.statistics(stitcher["classes"], stitcher["confidence"]))

        def summary():
            body = postprocess.summary_body(scene.id, scene.acquired, scene.crs, scene.transform, height, width,
                                            found, model=manifest.name, precision=engine.precision,
                                            raw_bytes=scene.raw_bytes, min_class=post_cfg.min_class,
                                            coverage=scene.coverage_share,
                                            ood=ood_guard.check(stats) if ood_guard is not None else [],
                                            ood_max_listed=post_cfg.ood_max_listed)
            protocol.encode("summary", 0.0, seq=1, prio=protocol.priority(body["n"]), body=body)
            return body

        body = timed("summary", summary)
        tiles_per_scene.append(len(grid))
        listed.append(len(body["b"]))
    reference.close()
    medians = {f"{stage}_ms": statistics.median(values) for stage, values in ms.items()}
    return {**medians, "work_ms": sum(medians.values()), "scenes": len(spec["scenes"]),
            "tiles_per_scene": statistics.median(tiles_per_scene), "listed_per_scene": statistics.median(listed)}


# --- rows (orchestrator side) -------------------------------------------------

SCENES = 4


def rows(ctx) -> list[dict]:
    """The stages row (default INT8); with the daemon's benchmark_app rate, also inference ms and efficiency bound."""
    from bench import worker
    from bench.plan import fail, new_row

    row = new_row("stages", "daemon stages per scene, one thread", precision=ctx.default_int8)
    ctx.progress("measuring", row=row["name"])
    spec = {"kind": "stages", "model_dir": str(ctx.model_dir), "precision": ctx.default_int8,
            "cache_dir": str(ctx.work / "ov-cache"), "reference": str(ctx.scenes.reference),
            "scenes": [str(p) for p in ctx.scenes.geotiffs[:SCENES]], "postprocess": ctx.scenes.postprocess,
            "budget": vars(ctx.plan.openvino_budget)}
    try:
        row.update(worker.run(spec, timeout=ctx.plan.timeout_s))
        row["status"] = "measured"
    except Exception as exc:   # one broken row must not lose the rest of the table
        return [fail(row, exc)]
    daemon = ctx.find(kind="daemon", precision=ctx.default_int8)
    if daemon and daemon.get("benchmark_app_tiles_per_s"):
        inference_ms = 1000.0 * row["tiles_per_scene"] / daemon["benchmark_app_tiles_per_s"]
        row["inference_ms"] = inference_ms          # wall time of a scene's tiles on both cores
        row["efficiency_bound"] = inference_ms / (inference_ms + row["work_ms"] / 2)
    return [row]
