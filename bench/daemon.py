"""The onboard daemon end to end: GeoTIFF scenes into its inbox, summaries out, tiles/s.

The daemon runs as in flight (`satedge onboard`, THROUGHPUT hint, the IR's
own batch), with no ground (processing does not need one). Once it has
started, every scene is published into the inbox at once; the clock runs
from that moment to the last "scene summarised" event (summary committed to
the spool). Steady-state tiles/s leaves out the first scene (pipeline fill).
"""

from __future__ import annotations

import time
from pathlib import Path

from bench import scenes as bench_scenes
from bench.processes import start
from onboard.config import OnboardConfig
from satedge.processes import Children, free_port

START_TIMEOUT_S = 180.0


def onboard_config(folder: Path, model_dir: Path, precision: str, hint: str, scene_set: bench_scenes.SceneSet,
                   ground: str, cache_dir: Path, clock: dict | None = None) -> dict:
    """The daemon as the default scenario runs it (its post-processing too), on the bench's scenes.

    Validated here as the daemon will validate it, so a wrong key fails before minutes of measuring.
    """
    return OnboardConfig.model_validate({
        "clock": clock or {},
        "security": {"mode": "none"},
        "satellite": {"id": "sat-bench"},
        "ground": {"address": ground, "resend_s": 2.0},
        "ingest": {"inbox": str(folder / "inbox"), "reference": str(scene_set.reference), "poll_s": 0.05},
        "model": {"dir": str(model_dir), "precision": precision, "cache_dir": str(cache_dir), "hint": hint},
        "postprocess": scene_set.postprocess,
        "spool": {"path": str(folder / "spool.sqlite")},
        "log": {"status_interval_s": 5.0},
        "telemetry": {"interval_s": 2.0},
    }).effective()


def throughput(summarised: list[dict], published: float) -> dict:
    """End-to-end and steady-state tiles/s from the "scene summarised" events."""
    summarised = sorted(summarised, key=lambda e: e["ts"])
    tiles = sum(e["tiles"] for e in summarised)
    last = summarised[-1]["ts"]
    result = {"scenes": len(summarised), "tiles": tiles, "seconds": round(last - published, 3),
              "tiles_per_s": tiles / (last - published)}
    if len(summarised) > 1 and last > summarised[0]["ts"]:
        result["steady_tiles_per_s"] = sum(e["tiles"] for e in summarised[1:]) / (last - summarised[0]["ts"])
    result["precisions"] = sorted({e["prec"] for e in summarised})
    return result


def measure(model_dir: Path, precision: str, hint: str, scene_set: bench_scenes.SceneSet, work: Path,
            copies: int, timeout: float) -> dict:
    """One daemon run over `copies` x the scenes; its tiles/s and its peak RSS."""
    folder = work / f"daemon-{precision}-{hint.lower()}"
    config = onboard_config(folder, model_dir, precision, hint, scene_set,
                            f"tcp://127.0.0.1:{free_port()}", work / "ov-cache")
    with Children() as children:
        daemon = start(children, "onboard", config, folder)
        daemon.wait_event("onboard daemon started", timeout=START_TIMEOUT_S)
        ready = daemon.peak_rss_mb()       # libraries and the compiled model, before the first scene
        placed = bench_scenes.stage_copies(scene_set, folder / "inbox", copies)
        published = time.time()            # the renames are the last thing stage_copies does
        summarised = daemon.wait_event("scene summarised", len(placed), timeout)
        peak = daemon.peak_rss_mb()
        started = daemon.events("onboard daemon started")[0]
    result = throughput(summarised, published)
    result.update(peak_rss_mb=round(peak, 1), ready_rss_mb=round(ready, 1), requests=started.get("requests"),
                  precision=started["precision"])
    return result


# --- rows (orchestrator side) -------------------------------------------------

def rows(ctx) -> list[dict]:
    """The daemon on each IR (THROUGHPUT, as it flies), against benchmark_app on the same IR, hint and batch
    run just before it (the machine's load drifts; the ratio is only fair back to back)."""
    from bench import benchmark_app
    from bench.ov_rows import LABELS
    from bench.plan import QUICK_SKIP, fail, new_row

    batch = ctx.manifest.input.shape[0]
    out = []
    for precision in ctx.precisions():
        row = new_row("daemon", f"onboard daemon {LABELS.get(precision, precision)}", precision=precision,
                      hint="THROUGHPUT", batch=batch)
        out.append(row)
        if not ctx.plan.daemon_all_precisions and precision != ctx.default_int8:
            row["status"] = QUICK_SKIP + ": the default INT8 only"
            continue
        reference = benchmark_app.row(ctx, precision, "default", "THROUGHPUT", batch)
        reference["name"] += " (daemon's reference)"
        reference["reference_for"] = "daemon"
        out.insert(-1, reference)
        ctx.progress("measuring", row=row["name"])
        try:
            row.update(measure(ctx.model_dir, precision, "THROUGHPUT", ctx.scenes, ctx.work,
                               ctx.plan.daemon_copies, ctx.plan.timeout_s))
            row["status"] = "measured"
        except Exception as exc:   # one broken row must not lose the rest of the table
            fail(row, exc)
            continue
        if reference["status"] == "measured":
            row["benchmark_app_tiles_per_s"] = reference["tiles_per_s"]
            row["efficiency"] = row["tiles_per_s"] / reference["tiles_per_s"]
            if "steady_tiles_per_s" in row:
                row["steady_efficiency"] = row["steady_tiles_per_s"] / reference["tiles_per_s"]
    return out
