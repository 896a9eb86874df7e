"""Several models in one bench run: which models, which rows each gets, whose targets."""

from __future__ import annotations

from pathlib import Path

from bench import default_models, ov_rows, targets
from bench.plan import Context, Plan
from onboard.config import ModelSection
from onboard.manifest import InputSpec, Manifest, OutputSpec, PrecisionEntry
from tests.conftest import run_cli


def context(model: dict, tile: int = 64, plan: Plan | None = None) -> Context:
    entries = {p: PrecisionEntry(xml=f"{p}.xml", bin=f"{p}.bin", sha256={}) for p in ("fp32", "int8-nncf")}
    manifest = Manifest(name=model["arch"], tile=tile, training={"model": model},
                        input=InputSpec(shape=[1, 6, tile, tile], mean=[0.0] * 6, std=[1.0] * 6),
                        output=OutputSpec(shape=[1, 5, tile, tile]), precisions=entries)
    return Context(model_dir=Path("."), manifest=manifest, plan=plan or Plan.full(), work=Path("."))


def test_the_default_zoo_is_every_model_folder_the_daemons_first():
    found = default_models()
    assert found[0] == ModelSection().dir
    assert all((p / "manifest.json").is_file() for p in found[1:]) and len(set(found)) == len(found)


def test_full_plan_adds_batch_1_rows_at_the_other_tile_sizes():
    reference = context({"arch": "resnet34-unet", "width": 64}, tile=256)
    assert reference.reference and reference.tile_sizes() == [256, 512]
    combos = ov_rows.combinations(reference)
    extra = [c for c in combos if c[4] == 512]
    assert {(c[0], c[3]) for c in extra} == {("fp32", 1), ("int8-nncf", 1)} and len(extra) == 4   # x 2 hints
    assert {c[3] for c in combos if c[4] == 256} == {1, 8, 16, 32}
    small = context({"arch": "unet", "width": 4, "depth": 2})
    assert not small.reference and small.tile_sizes() == [64, 256, 512]
    assert context({"arch": "unet", "depth": 4}, plan=Plan.quick_plan()).tile_sizes() == [64]


def test_another_models_targets_are_its_own_and_named_after_it():
    ctx = context({"arch": "resnet18-unet", "width": 64})
    rows = [{"kind": "runtime", "name": "eager", "status": "measured", "runtime": "pytorch", "precision": "fp32",
             "variant": "eager", "hint": None, "batch": 1, "tile": 64, "tiles_per_s": 2.0},
            {"kind": "runtime", "name": "int8", "status": "measured", "runtime": "openvino",
             "precision": "int8-nncf", "variant": "default", "hint": "LATENCY", "batch": 1, "tile": 64,
             "tiles_per_s": 30.0},
            {"kind": "runtime", "name": "int8 at 512", "status": "measured", "runtime": "openvino",
             "precision": "int8-nncf", "variant": "default", "hint": "LATENCY", "batch": 1, "tile": 512,
             "tiles_per_s": 1.0}]
    ctx.rows = rows
    found = {t["target"]: t for t in targets.evaluate(ctx, prefix="ref: ")}
    assert all(name.startswith("ref: ") for name in found)
    assert {t["model"] for t in found.values()} == {"resnet18-unet"}
    assert not any("daemon" in name or "swap" in name for name in found)      # the daemon runs the first model
    speedup = found["ref: best INT8 vs PyTorch eager FP32, batch 1 (real time)"]
    assert speedup["goal"] == ">= 10.0x" and speedup["value"] == 15.0 and speedup["met"] is True
    primary = {t["target"] for t in targets.evaluate(context({"arch": "unet", "depth": 2}))}
    assert "steady-state pipeline efficiency (daemon / benchmark_app, default INT8)" in primary


def test_the_same_model_twice_is_a_one_line_error(bench_model, tmp_path):
    done = run_cli("bench", "--model", str(bench_model), "--model", str(bench_model), "--quick", "--out",
                   str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "benched already" in done.stderr
