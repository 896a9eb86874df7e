"""The issue's targets, each checked against this run's numbers: met, missed, or not measured."""

from __future__ import annotations

SPEEDUP_GOAL = 6.25
REFERENCE_SPEEDUP_GOAL = 10.0   # issue 15: the reference model's INT8 against eager FP32 at batch 1
SCORE_TOLERANCE = 0.01
EFFICIENCY_GOAL = 0.95
# The daemon's benchmark_app reference and the runtime table's benchmark_app row of the same IR, hint, batch
# and tile are two measures of one thing in one run: further apart than this, the host's load changed between
# them and the efficiency is not a measure of the daemon (2026-12-07: 298.5 against 446.7 tiles/s, FP32 "1.06").
REFERENCE_AGREEMENT = 0.15
SWAP_GOAL_S = 0.25
RSS_GOAL_MB = 300.0
INT8_SHARE_GOAL = 0.90          # share of convolution FLOPs an INT8 IR must execute in int8 kernels
INT8_OVER_BF16_GOAL = 1.6
INT8_CEILING_SHARE_GOAL = 0.5
BYTES_PER_BUILDING_GOAL = 14.0
RAW_RATIO_GOAL = 10_000.0


def _target(name: str, goal: str, value, met: bool | None, detail: str = "") -> dict:
    return {"target": name, "goal": goal, "value": value, "met": None if met is None else bool(met), "detail": detail}


def _best(rows: list[dict]) -> dict | None:
    return max(rows, key=lambda r: r["tiles_per_s"], default=None)


def own_tile(ctx, row: dict) -> bool:
    """The row ran on the model's own tile size (not one of the plan's other sizes): like compares with like."""
    return row.get("tile", ctx.manifest.tile) == ctx.manifest.tile


def speedup(ctx) -> list[dict]:
    """Best INT8 OpenVINO tiles/s over PyTorch eager FP32's, at batch 1 and at each side's best batch."""
    goal = REFERENCE_SPEEDUP_GOAL if ctx.reference else SPEEDUP_GOAL
    measured = [r for r in ctx.rows if r["kind"] == "runtime" and r["status"] == "measured" and own_tile(ctx, r)]
    eager = [r for r in measured if r["runtime"] == "pytorch" and r["variant"] == "eager"]
    int8 = [r for r in measured if r["runtime"] == "openvino" and r["precision"].startswith("int8")]
    out = []
    for label, pick in (("batch 1 (real time)", lambda r: r["batch"] == 1), ("best batch of each", lambda r: True)):
        base, best = _best([r for r in eager if pick(r)]), _best([r for r in int8 if pick(r)])
        if base is None or best is None:
            out.append(_target(f"best INT8 vs PyTorch eager FP32, {label}", f">= {goal}x", None, None,
                               "not measured"))
            continue
        ratio = best["tiles_per_s"] / base["tiles_per_s"]
        out.append(_target(f"best INT8 vs PyTorch eager FP32, {label}", f">= {goal}x", round(ratio, 2),
                           ratio >= goal,
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
    """Daemon tiles/s in steady state (issue 15's measure: the first scene, pipeline fill, left out) over
    benchmark_app's, both on the default INT8 IR; the end-to-end ratio is in the detail."""
    name = "steady-state pipeline efficiency (daemon / benchmark_app, default INT8)"
    row = ctx.find(kind="daemon", precision=ctx.default_int8)
    if row is None or "steady_efficiency" not in row:
        return [_target(name, f">= {EFFICIENCY_GOAL}", None, None, "not measured")]
    same = [r for r in ctx.rows if r["kind"] == "benchmark_app" and r["status"] == "measured"
            and not r.get("reference_for") and own_tile(ctx, r) and r.get("variant") == "default"
            and (r.get("precision"), r.get("hint"), r.get("batch")) == (row["precision"], row["hint"], row["batch"])]
    reference = row["benchmark_app_tiles_per_s"]
    if same and abs(reference / same[0]["tiles_per_s"] - 1) > REFERENCE_AGREEMENT:
        return [dict(_target(name, f">= {EFFICIENCY_GOAL}", round(row["steady_efficiency"], 3), None,
                             f"not valid in this run: benchmark_app measured the same IR at {reference:.1f} tiles/s "
                             f"for the daemon and {same[0]['tiles_per_s']:.1f} in the runtime table (more than "
                             f"{REFERENCE_AGREEMENT:.0%} apart: the host's load changed)"), invalid=True)]
    return [_target(name, f">= {EFFICIENCY_GOAL}", round(row["steady_efficiency"], 3),
                    row["steady_efficiency"] >= EFFICIENCY_GOAL,
                    f"daemon {row['steady_tiles_per_s']:.1f} tiles/s in steady state ({row['tiles_per_s']:.1f} end "
                    f"to end: {row['efficiency']:.3f}), benchmark_app {row['benchmark_app_tiles_per_s']:.1f}")]


def swap(ctx) -> list[dict]:
    """The slowest swap, request to the new model serving, with no tile lost."""
    swaps = [r for r in ctx.rows if r["kind"] == "swap" and r["status"] == "measured"]
    name = "precision swap, request to the new model serving"
    if not swaps:
        return [_target(name, f"<= {SWAP_GOAL_S} s, 0 lost", None, None, "not measured")]
    worst = max(swaps, key=lambda r: r["request_to_serving_s"])
    seconds = worst["request_to_serving_s"]
    lost = ctx.sections["swap_run"]["tiles_lost"]
    once = ctx.sections["swap_run"]["scenes_summarised_once"]
    return [_target(name, f"<= {SWAP_GOAL_S} s, 0 lost",
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


def int8_execution(ctx) -> list[dict]:
    """Each INT8 IR at batch 1 as the satellite compiles it: the share of its convolution FLOPs in int8 kernels."""
    out = []
    for precision in (p for p in ctx.precisions() if p.startswith("int8")):
        row = ctx.find(kind="runtime", runtime="openvino", precision=precision, variant="default", batch=1,
                       tile=ctx.manifest.tile)
        name = f"{precision}: convolution FLOPs executed in int8"
        if row is None or "executed" not in row:
            out.append(_target(name, f">= {INT8_SHARE_GOAL:.0%}", None, None, "not measured"))
            continue
        shares = row["executed"]["shares"]
        kernels = ", ".join(f"{k} ×{n}" for k, n in row["executed"]["kernels"].items())
        out.append(_target(name, f">= {INT8_SHARE_GOAL:.0%}", round(shares.get("int8", 0.0), 3),
                           shares.get("int8", 0.0) >= INT8_SHARE_GOAL, kernels))
    return out


def int8_against_ceilings(ctx) -> list[dict]:
    """The default INT8 IR's best batch-1 row against the bf16 run of the same model, and against the int8 ceiling."""
    measured = [r for r in ctx.rows if r["kind"] == "runtime" and r["runtime"] == "openvino" and r["batch"] == 1
                and r["status"] == "measured" and own_tile(ctx, r)]
    int8 = _best([r for r in measured if r["precision"] == ctx.default_int8 and r["variant"] == "default"])
    bf16 = _best([r for r in measured if r.get("executes_in") == "bf16"])
    name = f"{ctx.default_int8} vs the same model in bf16, batch 1"
    if int8 is None or bf16 is None:
        ratio = _target(name, f">= {INT8_OVER_BF16_GOAL}x", None, None,
                        "not measured (no row executed in bf16: no bf16 on this CPU, or --quick)")
    else:
        value = int8["tiles_per_s"] / bf16["tiles_per_s"]
        ratio = _target(name, f">= {INT8_OVER_BF16_GOAL}x", round(value, 2), value >= INT8_OVER_BF16_GOAL,
                        f"{int8['tiles_per_s']:.1f} vs {bf16['name']} {bf16['hint']} {bf16['tiles_per_s']:.1f} tiles/s")
    best = max((r for r in ctx.rows if r["kind"] == "runtime" and r.get("executes_in") == "int8"
                and r.get("ceiling_share")), key=lambda r: r["ceiling_share"], default=None)
    name = "best INT8 row, share of this CPU's int8 ceiling"
    if best is None:
        share = _target(name, f">= {INT8_CEILING_SHARE_GOAL:.0%}", None, None, "not measured")
    else:
        share = _target(name, f">= {INT8_CEILING_SHARE_GOAL:.0%}", round(best["ceiling_share"], 3),
                        best["ceiling_share"] >= INT8_CEILING_SHARE_GOAL,
                        f"{best['name']} {best['hint']} batch {best['batch']} tile {best.get('tile')}: "
                        f"{best['gflops']:.0f} of "
                        f"{best['ceiling_gflops']:.0f} GOP/s")
    return [ratio, share]


MODEL_CHECKS = (speedup, int8_execution, int8_against_ceilings, score_drop)
DAEMON_CHECKS = (efficiency, swap, daemon_rss, downlink)        # the daemon runs the first model only


def evaluate(ctx, prefix: str = "") -> list[dict]:
    """Every check's targets in order (results.json's `targets`); `met` is None where not measured.

    With a `prefix` (another model of the zoo, named in it): that model's own checks only.
    """
    checks = MODEL_CHECKS if prefix else MODEL_CHECKS + DAEMON_CHECKS
    found = [target for check in checks for target in check(ctx)]
    for target in found:
        target["target"] = prefix + target["target"]
        target["model"] = ctx.name
    return found
