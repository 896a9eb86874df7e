"""The issue's targets, checked against rows: met, missed, or not measured — never guessed."""

from __future__ import annotations

from pathlib import Path

from bench import report, targets
from bench.plan import Context, Plan
from onboard.manifest import InputSpec, Manifest, OutputSpec, PrecisionEntry


def context(scores: dict[str, float | None], rows: list[dict], sections: dict | None = None) -> Context:
    entries = {p: PrecisionEntry(xml=f"{p}.xml", bin=f"{p}.bin", sha256={},
                                 scores={} if s is None else {"score": s}) for p, s in scores.items()}
    manifest = Manifest(name="m", tile=64, input=InputSpec(shape=[1, 6, 64, 64], mean=[0.0] * 6, std=[1.0] * 6),
                        output=OutputSpec(shape=[1, 5, 64, 64]), precisions=entries)
    return Context(model_dir=Path("."), manifest=manifest, plan=Plan.quick_plan(), work=Path("."), rows=rows,
                   sections=sections or {})


def runtime(runtime_: str, precision: str, batch: int, tiles_per_s: float, variant: str = "default") -> dict:
    return {"kind": "runtime", "name": f"{runtime_} {precision}", "status": "measured", "runtime": runtime_,
            "precision": precision, "variant": "eager" if runtime_ == "pytorch" else variant, "hint": "LATENCY",
            "batch": batch, "tiles_per_s": tiles_per_s}


def by_name(found: list[dict]) -> dict[str, dict]:
    return {t["target"]: t for t in found}


def test_speedup_compares_like_batches_and_says_which_rows():
    rows = [runtime("pytorch", "fp32", 1, 10.0), runtime("pytorch", "fp32", 8, 20.0),
            runtime("openvino", "int8-nncf", 1, 70.0), runtime("openvino", "int8-inc", 8, 130.0),
            runtime("openvino", "fp32", 1, 900.0)]                 # not INT8: ignored
    found = targets.speedup(context({"fp32": None, "int8-nncf": None}, rows))
    real_time, best = found
    assert real_time["value"] == 7.0 and real_time["met"] is True
    assert best["value"] == 6.5 and best["met"] is True and "batch 8" in best["detail"]


def test_score_drop_needs_recorded_scores():
    found = by_name(targets.score_drop(context({"fp32": 0.80, "int8-nncf": 0.785, "int8-inc": None}, [])))
    nncf = found["int8-nncf held-out score within 0.01 of FP32"]
    assert nncf["met"] is False and abs(nncf["value"] - 0.015) < 1e-9
    inc = found["int8-inc held-out score within 0.01 of FP32"]
    assert inc["met"] is None and inc["value"] is None


def test_unmeasured_targets_are_not_met_or_missed():
    ctx = context({"fp32": None, "int8-nncf": None}, [])
    for target in targets.evaluate(ctx):
        assert target["met"] is None and target["value"] is None, target


def test_swap_target_needs_speed_and_no_loss():
    swap = {"kind": "swap", "name": "swap a -> b", "status": "measured", "request_to_serving_s": 0.2,
            "request_to_first_tile_s": 0.3}
    ok = targets.swap(context({"fp32": None}, [swap], {"swap_run": {"tiles_lost": 0, "scenes_summarised_once": True}}))
    assert ok[0]["met"] is True and ok[0]["value"] == 0.2
    slow = dict(swap, request_to_serving_s=0.4)
    late = targets.swap(context({"fp32": None}, [slow],
                                {"swap_run": {"tiles_lost": 0, "scenes_summarised_once": True}}))
    assert late[0]["met"] is False
    lost = targets.swap(context({"fp32": None}, [swap],
                                {"swap_run": {"tiles_lost": 3, "scenes_summarised_once": True}}))
    assert lost[0]["met"] is False


def test_efficiency_is_withheld_when_the_same_benchmark_app_disagrees_with_itself():
    """The daemon's reference and the runtime table's benchmark_app run of the same IR must agree, or the host's
    load changed between them (2026-12-07: 298.5 against 446.7 tiles/s made FP32 '1.06')."""
    daemon = {"kind": "daemon", "name": "onboard daemon INT8-NNCF", "status": "measured", "precision": "int8-nncf",
              "hint": "THROUGHPUT", "batch": 1, "tiles_per_s": 290.0, "steady_tiles_per_s": 298.0,
              "efficiency": 0.967, "steady_efficiency": 0.993, "benchmark_app_tiles_per_s": 300.0}

    def app(tiles_per_s: float) -> dict:
        return {"kind": "benchmark_app", "name": "benchmark_app INT8-NNCF", "status": "measured",
                "precision": "int8-nncf", "variant": "default", "hint": "THROUGHPUT", "batch": 1, "tile": 64,
                "tiles_per_s": tiles_per_s}

    scores = {"fp32": None, "int8-nncf": None}
    steady = targets.efficiency(context(scores, [daemon, app(310.0)]))[0]
    assert steady["met"] is True and not steady.get("invalid")
    moved = targets.efficiency(context(scores, [daemon, app(450.0)]))[0]
    assert moved["met"] is None and moved["invalid"] is True and "not valid" in moved["detail"]
    assert moved["value"] == 0.993                          # the measure is kept, the verdict withheld
    assert "**not valid**" in report.targets_table({"targets": [moved]})[2]
