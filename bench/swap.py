"""A precision swap in the running daemon, commanded through the real ground station.

The daemon starts at the model's INT8 and works through the scenes; after
the first few summaries, `satedge command set-precision fp32` is queued at
the ground (a short periodic window schedule, so it goes up at once), and
once that is answered, `set-precision int8` (back), as the default scenario
does. Per swap: the daemon's own measure (command picked up → new model
serving, compilation from the model cache included), and request → first
tile served by the new model (the ground's "command sent" to the start of the
first scene the new model infers). Then: was every scene summarised exactly
once, with every one of its tiles, and delivered to the ground store?
The ground store of this run is what the downlink bytes are measured on.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench import scenes as bench_scenes
from bench.daemon import START_TIMEOUT_S, onboard_config
from bench.processes import REPO, start
from ground.store import stored_count
from onboard.spool import spooled_sources
from satedge.processes import Children, ProcessFailed, free_port

SWAPS = ("fp32", "int8")          # as sim/default.toml's precision schedule: to FP32, then back
SUMMARIES_BEFORE_SWAP = 2


def ground_config(folder: Path, port: int, clock: dict) -> dict:
    """The ground's configuration: no security, a window open 29 s of every 30, a 1 Mbit/s link."""
    return {
        "clock": clock,
        "security": {"mode": "none"},
        "station": {"bind": f"tcp://127.0.0.1:{port}"},
        # a window open 29 s of every 30: the command goes up at once; a fast link: bytes, not time, matter
        "link": {"schedule": "periodic", "period_s": 30.0, "window_s": 29.0, "offset_s": 0.0,
                 "rate_bps": 1_000_000.0, "delay_s": 0.01, "cmd_retry_s": 5.0},
        "store": {"path": str(folder / "ground.sqlite")},
        "log": {"status_interval_s": 5.0},
    }


def queue_command(ground_toml: Path, precision: str) -> None:
    """Queue `set-precision` at the ground through `satedge command`, as an operator would."""
    done = subprocess.run([sys.executable, "-m", "satedge.cli", "command", "set-precision", precision,
                           "--config", str(ground_toml)], capture_output=True, text=True, cwd=REPO, timeout=60)
    if done.returncode:
        raise ProcessFailed(f"satedge command set-precision {precision} failed: {done.stderr.strip()}")


def _started(summarised: dict) -> float:
    """When the scene's first tile was queued (its summary's time less its processing time)."""
    return float(summarised["ts"] - summarised["ms"] / 1000.0)


def _swap_row(target: str, done: dict, sent: dict, summarised: list[dict]) -> dict:
    # started after the request: a scene of the same precision started before it is an engine swapped out
    # earlier finishing its last scene (INT8 -> FP32 -> INT8 in quick succession), not the new engine's
    later = sorted((e for e in summarised if e["prec"] == done["prec"] and _started(e) >= sent["ts"]),
                   key=_started)
    row = {"from": done["from"], "to": target, "serving": done["prec"], "ok": done["ok"], "detail": done["detail"],
           "daemon_s": done["s"], "request_to_serving_s": round(done["ts"] - sent["ts"], 3)}
    if later:
        first_start = _started(later[0])
        row["request_to_first_tile_s"] = round(first_start - sent["ts"], 3)
        row["first_tile_after_serving_s"] = round(first_start - done["ts"], 3)
    return row


def measure(model_dir: Path, scene_set: bench_scenes.SceneSet, work: Path, copies: int, tile: int,
            overlap: int, timeout: float) -> dict:
    """INT8 → FP32 → INT8 via the real ground, mid-stream: per-swap timings; did every scene arrive once, whole?"""
    folder = work / "swap"
    now = time.time()
    clock = {"epoch": now, "start": now, "speedup": 1.0}
    port = free_port()
    decoded = {path.stem: bench_scenes.read(path, scene_set.reference) for path in scene_set.geotiffs}
    scene_id = {stem: scene.id for stem, scene in decoded.items()}
    tiles_of = {scene.id: bench_scenes.tiles_per_scene(scene, tile, overlap) for scene in decoded.values()}
    with Children() as children:
        ground = start(children, "ground", ground_config(folder / "ground", port, clock), folder / "ground")
        ground.wait_event("station listening", timeout=START_TIMEOUT_S)
        daemon = start(children, "onboard", onboard_config(
            folder / "onboard", model_dir, "int8", "THROUGHPUT", scene_set, f"tcp://127.0.0.1:{port}",
            work / "ov-cache", clock), folder / "onboard")
        daemon.wait_event("onboard daemon started", timeout=START_TIMEOUT_S)
        placed = bench_scenes.stage_copies(scene_set, folder / "onboard" / "inbox", copies)
        # a copy is a new acquisition: its scene id is the original's with the copy's suffix (stage_copies)
        expected = [scene_id[bench_scenes.original(p.stem)] + p.stem[len(bench_scenes.original(p.stem)):]
                    for p in placed]
        daemon.wait_event("scene summarised", SUMMARIES_BEFORE_SWAP, timeout)
        for i, precision in enumerate(SWAPS, 1):
            queue_command(ground.config, precision)
            daemon.wait_event("command done", i, timeout)
        daemon.wait_event("scene summarised", len(placed), timeout)
        store = folder / "ground" / "ground.sqlite"
        ground.wait_for(lambda: stored_count(store) >= len(placed), f"{len(placed)} summaries in the store", timeout)
        peak = daemon.peak_rss_mb()
        summarised, done = daemon.events("scene summarised"), daemon.events("command done")
        sent = {e["id"]: e for e in ground.events("command sent")}
    sources = sorted(spooled_sources(folder / "onboard" / "spool.sqlite"))
    precisions = {e["prec"] for e in summarised}
    swaps = []
    previous = summarised[0]["prec"] if summarised else None
    for target, event in zip(SWAPS, done):
        event = dict(event, prec=event.get("serving", previous or "?"), **{"from": previous})
        swaps.append(_swap_row(target, event, sent[event["id"]], summarised))
        previous = event["prec"]
    tiles_expected = sum(tiles_of[bench_scenes.original(s)] for s in expected)
    wrong = {e["scene"] for e in summarised if tiles_of.get(bench_scenes.original(e["scene"])) != e["tiles"]}
    return {
        "swaps": swaps, "scenes_published": len(placed), "scenes_summarised": len(summarised),
        "scenes_summarised_once": sorted(e["scene"] for e in summarised) == sorted(expected)
        and sources == sorted(path.name for path in placed),
        "scenes_with_missing_tiles": sorted(wrong),
        "scenes_in_ground_store": stored_count(store), "tiles_expected": tiles_expected,
        "tiles_summarised": sum(e["tiles"] for e in summarised),
        "tiles_lost": tiles_expected - sum(e["tiles"] for e in summarised),
        "summaries_per_precision": {p: sum(e["prec"] == p for e in summarised) for p in sorted(precisions)},
        "daemon_peak_rss_mb": round(peak, 1), "store": str(store),
    }


# --- rows (orchestrator side) -------------------------------------------------

def rows(ctx) -> list[dict]:
    """One row per swap; the run's integrity (scenes, tiles) is in each; the store goes to ctx.sections."""
    from bench.plan import fail, new_row

    ctx.progress("measuring", row="precision swap in the running daemon")
    try:
        run = measure(ctx.model_dir, ctx.scenes, ctx.work, ctx.plan.daemon_copies, ctx.manifest.tile,
                      ctx.manifest.overlap, ctx.plan.timeout_s)
    except Exception as exc:   # one broken step must not lose the rest of the table
        return [fail(new_row("swap", "precision swap"), exc)]
    ctx.sections["ground_store"] = run.pop("store")
    swaps = run.pop("swaps")
    ctx.sections["swap_run"] = run
    out = []
    for swap in swaps:
        row = new_row("swap", f"swap {swap['from']} -> {swap['serving']}", **swap)
        row["tiles_lost"] = run["tiles_lost"]
        row["scenes_summarised_once"] = run["scenes_summarised_once"]
        row["status"] = "measured" if swap["ok"] else f"failed: {swap['detail']}"
        out.append(row)
    return out
