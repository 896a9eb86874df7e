"""`satedge bench --quick` on a tiny model: the table's structure, and every number a real measurement.

No timing assertions: speed is what the bench reports, not what a test checks.
"""

from __future__ import annotations

import json
import math
import sqlite3
import statistics

import pytest

from tests.conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]   # a real `bench --quick`: minutes; `make test-all`

NOT_MEASURED = ("skipped (--quick)", "not installed")


def measured(results: dict, kind: str) -> list[dict]:
    return [r for r in results["rows"] if r["kind"] == kind and r["status"] == "measured"]


def positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_quick_run_succeeds_and_writes_its_outputs(quick_run):
    done = quick_run["done"]
    assert done.returncode == 0, done.stderr[-3000:]
    out = quick_run["out"]
    markdown = (out / "docs" / "performance.md").read_text()
    assert "<!-- satedge bench: generated tables begin -->" in markdown
    for heading in ("Runtimes side by side", "against benchmark_app", "Precision swap", "Downlink bytes", "Targets"):
        assert heading in markdown
    assert (out / "docs" / "img" / "bench-tiles-per-s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_row_is_measured_or_says_why_not(quick_run):
    results = quick_run["results"]
    for row in results["rows"]:
        assert row["status"] == "measured" or row["status"].startswith(NOT_MEASURED), (row["name"], row["status"])
    names = {r["name"] for r in results["rows"]}
    assert {"PyTorch eager FP32", "PyTorch torch.compile FP32", "PyTorch + IPEX FP32", "OpenVINO FP32",
            "OpenVINO FP16", "OpenVINO INT8-NNCF"} <= names


def test_runtime_rows_are_real_measurements(quick_run):
    results = quick_run["results"]
    rows = measured(results, "runtime")
    assert {(r["runtime"], r["precision"], r.get("hint")) for r in rows} >= {
        ("pytorch", "fp32", None), ("openvino", "fp32", "THROUGHPUT"), ("openvino", "fp32", "LATENCY"),
        ("openvino", "fp16", "THROUGHPUT"), ("openvino", "int8-nncf", "LATENCY")}
    budget = results["plan"]
    for row in rows:
        windows = budget["torch" if row["runtime"] == "pytorch" else "openvino"]["windows"]
        assert len(row["tiles_per_s_windows"]) == windows
        assert row["tiles_per_s"] == pytest.approx(statistics.median(row["tiles_per_s_windows"]), rel=1e-3)
        assert all(positive(x) for x in row["tiles_per_s_windows"])
        assert row["calls"] >= windows
        assert 0 < row["latency_p50_ms"] <= row["latency_p99_ms"]
        assert positive(row["peak_rss_mb"])
        gflop = next(m["gflop_per_tile"] for m in results["models"] if m["name"] == row["model"])
        assert row["gflops"] == pytest.approx(row["tiles_per_s"] * gflop)
        assert row["batch"] == 1 and row["tile"] == 64
    for row in (r for r in rows if r["runtime"] == "openvino"):
        assert row["torch_loaded"] is False           # the row's process loaded OpenVINO only
        assert positive(row["ir_mb"]) and row["requests"] >= 1
    eager = next(r for r in rows if r["runtime"] == "pytorch")
    assert eager["properties"]["intra_op_threads"] == results["machine"]["physical_cores"]
    assert eager["weights"].startswith("random weights")   # the tiny model has no checkpoint


def test_benchmark_app_daemon_and_efficiency(quick_run):
    results = quick_run["results"]
    apps = measured(results, "benchmark_app")
    assert apps and all(r["hint"] == "THROUGHPUT" for r in apps)
    for app in apps:
        assert app["tiles_per_s"] == pytest.approx(app["count"] * app["batch"] / (app["duration_ms"] / 1000))
    daemon = measured(results, "daemon")
    assert [r["precision"] for r in daemon] == ["int8-nncf"]
    row = daemon[0]
    # 3 scenes of 512 px in 64-px tiles with 8 px overlap: 9 x 9 tiles each
    assert (row["scenes"], row["tiles"]) == (3, 3 * 81)
    assert positive(row["tiles_per_s"]) and positive(row["peak_rss_mb"])
    app = next(a for a in apps if a["precision"] == "int8-nncf" and a.get("reference_for") == "daemon")
    assert row["benchmark_app_tiles_per_s"] == app["tiles_per_s"]
    assert row["efficiency"] == pytest.approx(row["tiles_per_s"] / app["tiles_per_s"])
    assert row["steady_efficiency"] == pytest.approx(row["steady_tiles_per_s"] / app["tiles_per_s"])
    target = next(t for t in results["targets"] if t["target"].startswith("steady-state pipeline efficiency"))
    assert target["value"] == pytest.approx(row["steady_efficiency"], abs=1e-3)   # the measure


def test_daemon_stages_are_timed(quick_run):
    results = quick_run["results"]
    row = measured(results, "stages")[0]
    assert row["torch_loaded"] is False and row["scenes"] == 3 and row["tiles_per_scene"] == 81
    stages = ("read", "cut", "stitch", "buildings", "guard", "summary")   # the daemon's work, the guard included
    for stage in stages:
        assert row[f"{stage}_ms"] > 0
    assert row["work_ms"] == pytest.approx(sum(row[f"{s}_ms"] for s in stages))
    assert 0 < row["efficiency_bound"] < 1


def test_swap_loses_nothing_and_bytes_are_counted(quick_run):
    results = quick_run["results"]
    swaps = measured(results, "swap")
    assert [(s["from"], s["serving"]) for s in swaps] == [("int8-nncf", "fp32"), ("fp32", "int8-nncf")]
    for swap in swaps:
        # the ground sent the command before the daemon started on it
        assert positive(swap["daemon_s"]) and swap["request_to_serving_s"] >= swap["daemon_s"] - 0.01
    run = results["sections"]["swap_run"]
    assert run["tiles_lost"] == 0 and run["scenes_summarised_once"] and run["scenes_in_ground_store"] == 3
    downlink = measured(results, "downlink")[0]
    assert downlink["summaries"] == 3
    assert downlink["raw_bytes"] == 3 * 512 * 512 * 3
    assert positive(downlink["bytes_per_summary"]) and positive(downlink["jpeg_q90_bytes"])
    assert downlink["raw_per_summary_byte"] == pytest.approx(downlink["raw_bytes"] / downlink["summary_bytes"])
    # the daemon ran with the scenario's post-processing: only classes >= its min_class are listed
    min_class = downlink["postprocess"]["min_class"]
    with sqlite3.connect(results["sections"]["ground_store"]) as db:
        bodies = [json.loads(body) for (body,) in db.execute("SELECT body FROM summaries")]
    assert len(bodies) == 3 and all(row[2] >= min_class for body in bodies for row in body["b"])


def test_held_out_scores_come_from_the_manifest(quick_run):
    results = quick_run["results"]
    for row in (r for r in measured(results, "runtime") if r["model"] == "tiny"):
        expected = {"fp32": 0.5, "int8-nncf": 0.495}.get(row["score_of"])
        assert (row["score"] or {}).get("score") == expected, row["name"]
    target = next(t for t in results["targets"] if t["target"].startswith("int8-nncf held-out score"))
    assert target["met"] is True and target["value"] == 0.005


def test_machine_and_targets(quick_run):
    results = quick_run["results"]
    machine = results["machine"]
    assert machine["cpu_model"] and machine["flags"]
    ceilings = measured(results, "ceiling")
    assert {r["precision"] for r in ceilings} == {"f32", "bf16", "int8"}
    assert all(positive(r["gflops"]) for r in ceilings)
    assert positive(results["sections"]["memory"]["gb_per_s"])
    for row in measured(results, "runtime"):
        if row["runtime"] == "openvino":      # what ran, read from the compiled model, and judged against its ceiling
            assert row["executes_in"] in row["executed"]["shares"] and positive(row["ceiling_share"])
    assert positive(results["model"]["gflop_per_tile"])
    targets = {t["target"]: t for t in results["targets"]}
    assert len(targets) >= 10
    for target in targets.values():
        assert target["met"] in (True, False, None)
        assert (target["value"] is None) == (target["met"] is None)


def test_both_zoo_models_have_their_rows_and_targets(quick_run):
    results = quick_run["results"]
    assert [m["name"] for m in results["models"]] == ["tiny", "tiny-ref"]
    assert results["models"][1]["training_model"] == {"arch": "resnet18-unet", "width": 4}
    assert all(positive(m["gflop_per_tile"]) for m in results["models"])
    for name in ("tiny", "tiny-ref"):
        rows = [r for r in measured(results, "runtime") if r["model"] == name]
        assert {(r["runtime"], r["precision"]) for r in rows} >= {
            ("pytorch", "fp32"), ("openvino", "fp32"), ("openvino", "fp16"), ("openvino", "int8-nncf")}
        for row in (r for r in rows if r["runtime"] == "openvino"):
            assert row["executes_in"] and positive(row["ceiling_share"])
    # the daemon, its stages and the swap run the first model only
    assert {r["model"] for r in results["rows"] if r["kind"] in ("daemon", "stages", "swap")} == {"tiny"}
    targets = [t for t in results["targets"] if t["model"] == "tiny-ref"]
    assert targets and all(t["target"].startswith("tiny-ref: ") for t in targets)
    assert any("int8 ceiling" in t["target"] for t in targets)
    speedup = next(t for t in targets if "eager FP32, batch 1" in t["target"])
    assert speedup["goal"] == ">= 10.0x"             # the reference model's goal (issue 15)
    markdown = (quick_run["out"] / "docs" / "performance.md").read_text()
    assert "**Model tiny-ref** (resnet18-unet)" in markdown and "| tiny-ref | OpenVINO INT8-NNCF |" in markdown


def test_missing_model_is_a_one_line_error(tmp_path):
    done = run_cli("bench", "--model", str(tmp_path / "nope"), "--quick", "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "does not exist" in done.stderr


def test_record_stores_the_measured_throughput_in_the_manifest(quick_run):
    from onboard.manifest import Manifest

    manifest = Manifest.load(quick_run["model"])
    results = quick_run["results"]
    row = next(r for r in measured(results, "runtime")
               if r["precision"] == "int8-nncf" and r["hint"] == "THROUGHPUT")
    bench = manifest.precisions["int8-nncf"].bench
    assert bench["throughput"]["tiles_per_s"] == round(row["tiles_per_s"], 2)
    assert bench["daemon_tiles_per_s"] > 0 and bench["quick"] is True
    manifest.ir("int8-nncf")            # the IRs' sha256 still match: only the manifest changed


def test_unusable_output_folder_is_a_one_line_error(bench_model, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = run_cli("bench", "--model", str(bench_model), "--quick", "--out", str(blocker))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "cannot use folder" in done.stderr
