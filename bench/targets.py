"""The issue's targets, each checked against this run's numbers: met, missed, or not measured."""

from __future__ import annotations

SPEEDUP_GOAL = 6.25
SCORE_TOLERANCE = 0.01
EFFICIENCY_GOAL = 0.90
SWAP_GOAL_S = 0.5
RSS_GOAL_MB = 400.0
BYTES_PER_BUILDING_GOAL = 14.0
RAW_RATIO_GOAL = 10_000.0


def _target(name: str, goal: str, value, met: bool | None, detail: str = "") -> dict:
    return {"target": name, "goal": goal, "value": value, "met": None if met is None else bool(met), "detail": detail}


def _best(rows: list[dict]) -> dict | None:
    return max(rows, key=lambda r: r["tiles_per_s"], default=None)


def speedup(ctx) -> list[dict]:
    """Best INT8 OpenVINO tiles/s over PyTorch eager FP32's, at batch 1 and at each side's best batch."""
    measured = [r for r in ctx.rows if r["kind"] == "runtime" and r["status"] == "measured"]
    eager = [r for r in measured if r["runtime"] == "pytorch" and r["variant"] == "eager"]
    int8 = [r for r in measured if r["runtime"] == "openvino" and r["precision"].startswith("int8")]
    out = []
    for label, pick in (("batch 1 (real time)", lambda r: r["batch"] == 1), ("best batch of each", lambda r: True)):
        base, best = _best([r for r in eager if pick(r)]), _best([r for r in int8 if pick(r)])
        if base is None or best is None:
            out.append(_target(f"best INT8 vs PyTorch eager FP32, {label}", f">= {SPEEDUP_GOAL}x", None, None,
                               "not measured"))
            continue
        ratio = best["tiles_per_s"] / base["tiles_per_s"]
        out.append(_target(f"best INT8 vs PyTorch eager FP32, {label}", f">= {SPEEDUP_GOAL}x", round(ratio, 2),
                           ratio >= SPEEDUP_GOAL,
                           f"{best['name']} {best['hint']} batch {best['batch']}: {best['tiles_per_s']:.1f} tiles/s; "
                           f"eager batch {base['batch']}: {base['tiles_per_s']:.1f} tiles/s"))
    return out


def score_drop(ctx) -> list[dict]:
    """Each INT8 IR's held-out xView2 score below FP32's, as the manifest records them."""
    reference = ctx.manifest.precisions.get("fp32")
    fp32 = (reference.scores or {}).get("score") if reference else None
    out = []
    for precision in ctx.precisions():
        if not precision.startswith("int8"):
            continue
        score = (ctx.manifest.precisions[precision].scores or {}).get("score")
        if fp32 is None or score is None:
            out.append(_target(f"{precision} held-out score within {SCORE_TOLERANCE} of FP32", "drop <= 0.01",
                               None, None, "the manifest records no held-out score (satedge evaluate --record)"))
            continue
        drop = fp32 - score
        out.append(_target(f"{precision} held-out score within {SCORE_TOLERANCE} of FP32", "drop <= 0.01",
                           round(drop, 4), drop <= SCORE_TOLERANCE, f"FP32 {fp32:.4f}, {precision} {score:.4f}"))
    return out


def efficiency(ctx) -> list[dict]:
    """Daemon tiles/s end to end over benchmark_app's, both on the default INT8 IR."""
    row = ctx.find(kind="daemon", precision=ctx.default_int8)
    if row is None or "efficiency" not in row:
        return [_target("pipeline efficiency (daemon / benchmark_app, default INT8)", f">= {EFFICIENCY_GOAL}",
                        None, None, "not measured")]
    return [_target("pipeline efficiency (daemon / benchmark_app, default INT8)", f">= {EFFICIENCY_GOAL}",
                    round(row["efficiency"], 3), row["efficiency"] >= EFFICIENCY_GOAL,
                    f"daemon {row['tiles_per_s']:.1f} tiles/s end to end (steady state "
                    f"{row.get('steady_tiles_per_s', float('nan')):.1f}), benchmark_app "
                    f"{row['benchmark_app_tiles_per_s']:.1f}")]


def swap(ctx) -> list[dict]:
    """The slowest swap, request to the new model's first tile (to serving if none came), with no tile lost."""
    swaps = [r for r in ctx.rows if r["kind"] == "swap" and r["status"] == "measured"]
    if not swaps:
        return [_target("precision swap, request to first tile of the new model", f"<= {SWAP_GOAL_S} s, 0 lost",
                        None, None, "not measured")]
    worst = max(swaps, key=lambda r: r.get("request_to_first_tile_s", r["request_to_serving_s"]))
    seconds = worst.get("request_to_first_tile_s", worst["request_to_serving_s"])
    lost = ctx.sections["swap_run"]["tiles_lost"]
    once = ctx.sections["swap_run"]["scenes_summarised_once"]
    return [_target("precision swap, request to first tile of the new model", f"<= {SWAP_GOAL_S} s, 0 lost",
                    round(seconds, 3), seconds <= SWAP_GOAL_S and lost == 0 and once,
                    f"slowest of {len(swaps)}: {worst['name']}; tiles lost {lost}; "
                    f"every scene summarised once: {once}")]


def daemon_rss(ctx) -> list[dict]:
    """The highest peak RSS of any daemon row and of the swap run's daemon."""
    peaks = [(r["peak_rss_mb"], r["name"]) for r in ctx.rows if r["kind"] == "daemon" and r["status"] == "measured"]
    if "swap_run" in ctx.sections:
        peaks.append((ctx.sections["swap_run"]["daemon_peak_rss_mb"], "daemon during the swap run"))
    if not peaks:
        return [_target("onboard daemon peak RSS", f"<= {RSS_GOAL_MB:.0f} MB", None, None, "not measured")]
    peak, where = max(peaks)
    return [_target("onboard daemon peak RSS", f"<= {RSS_GOAL_MB:.0f} MB", round(peak, 1), peak <= RSS_GOAL_MB,
                    f"highest: {where}")]


def downlink(ctx) -> list[dict]:
    """Bytes per listed building, and raw imagery bytes per downlinked byte, from the downlink row."""
    row = next((r for r in ctx.rows if r["kind"] == "downlink" and r["status"] == "measured"), None)
    if row is None:
        return [_target("bytes per listed building", f"<= {BYTES_PER_BUILDING_GOAL:.0f}", None, None, "not measured"),
                _target("raw imagery bytes per downlinked byte", f">= {RAW_RATIO_GOAL:,.0f}x", None, None,
                        "not measured")]
    per = row["bytes_per_listed_building"]
    return [_target("bytes per listed building", f"<= {BYTES_PER_BUILDING_GOAL:.0f}",
                    round(per, 2) if per is not None else None, per is not None and per <= BYTES_PER_BUILDING_GOAL,
                    f"{row['summary_bytes']} bytes for {row['listed_buildings']} listed buildings in "
                    f"{row['summaries']} summaries"),
            _target("raw imagery bytes per downlinked byte", f">= {RAW_RATIO_GOAL:,.0f}x",
                    round(row["raw_per_summary_byte"], 1), row["raw_per_summary_byte"] >= RAW_RATIO_GOAL,
                    f"JPEG q90 would be {row['jpeg_per_summary_byte']:.0f}x the summaries")]


CHECKS = (speedup, score_drop, efficiency, swap, daemon_rss, downlink)


def evaluate(ctx) -> list[dict]:
    """Every check's targets in order (results.json's `targets`); `met` is None where not measured."""
    return [target for check in CHECKS for target in check(ctx)]
