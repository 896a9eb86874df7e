"""`satedge bench [--model DIR ...] [--quick] [--out DIR | --update]`: the performance table, side by side, in one run.

Steps, in order, on the same input (the default scenario's scenes and tiles
cut from them): the machine (CPU; OpenVINO's f32/bf16/int8 ceilings and the
memory bandwidth, `bench.ceilings`); then for each model of the zoo (every
`--model`, default every folder of `models/`, the daemon's first) its GFLOP
per tile, PyTorch rows and OpenVINO rows (each followed by benchmark_app on
the same IR, hint and shape; full run: also at the other tile sizes); then,
for the first model only, the onboard daemon end to end (after benchmark_app
again), the daemon's per-scene work stage by stage, a precision swap through
the real ground station, and the downlink bytes of that run. Every row
carries its model and tile; each model's targets are checked on its rows. Writes OUT/bench/results.json,
OUT/docs/performance.md (tables) and OUT/docs/img/bench-tiles-per-s.png, OUT being a
run folder (`out/bench-<time>`) unless `--update` rewrites the committed ones in the repository.

This module stays light: torch and openvino are imported by the steps (and
mostly by their worker processes) only when they run.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--out` and `--update` exclude each other: a run writes to its own folder or over the committed results."""
    from onboard.config import ModelSection

    parser.add_argument("--model", type=Path, action="append", default=None,
                        help="model folder with manifest.json; repeat for several, the first also runs the daemon "
                             f"(default: {ModelSection().dir.name}, then every other folder of models/)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in under two minutes: batch 1, short windows, slow rows skipped")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, default=None,
                       help="writes OUT/bench/results.json and OUT/docs/performance.md (default: out/bench-<time>)")
    where.add_argument("--update", action="store_true",
                       help="rewrite the committed results in the repository (bench/results.json, docs/performance.md)")
    parser.add_argument("--record", action="store_true",
                        help="also store each precision's measured throughput in the model's manifest (`bench`)")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the scenes, logs and stores of the run here (default: a temporary folder)")


def _machine(ctx) -> None:
    from bench import machine

    ctx.progress("measuring", step="machine: CPU")
    ctx.sections["machine"] = machine.describe()


def default_models() -> list[Path]:
    """The zoo: the daemon's default model first, then every other folder of `models/` with a manifest."""
    from onboard.config import ModelSection

    first = ModelSection().dir
    zoo = first.parent
    others = sorted(p for p in zoo.iterdir() if (p / "manifest.json").is_file() and p.resolve() != first.resolve()) \
        if zoo.is_dir() else []
    return [first, *others]


def _scenes(ctx) -> None:
    from bench import scenes

    ctx.progress("preparing", step="the default scenario's scenes")
    ctx.scenes = scenes.prepare(ctx.work / "scenes", ctx.plan.quick)


def _tiles(ctx) -> None:
    """The model's tiles cut from the scenes at each tile size it is measured at (its own first)."""
    from bench import scenes

    for tile in ctx.tile_sizes():
        ctx.tiles_at[tile] = scenes.model_tiles(ctx.scenes, tile, ctx.manifest.overlap,
                                                ctx.work / f"tiles-{ctx.model_dir.name}-{tile}.npy")
    ctx.tiles = ctx.tiles_at[ctx.manifest.tile]


def _flops(ctx) -> None:
    from bench import pytorch

    ctx.progress("measuring", model=ctx.name, step="GFLOP per tile")
    counted_at = {tile: pytorch.gflop_per_tile(ctx.model_dir, tile) for tile in ctx.tile_sizes()}
    ctx.gflop_at = {tile: counted["gflop_per_tile"] for tile, counted in counted_at.items()}
    counted = counted_at[ctx.manifest.tile]
    ctx.gflop_per_tile = counted["gflop_per_tile"]
    ctx.sections["model"] = {"dir": str(ctx.model_dir), "name": ctx.manifest.name, "tile": ctx.manifest.tile,
                             "overlap": ctx.manifest.overlap, "ir_batch": ctx.manifest.input.shape[0],
                             "default_int8": ctx.default_int8, "training_model": ctx.manifest.training.get("model"),
                             "ir_sha256": {p: e.sha256.get("bin") for p, e in ctx.manifest.precisions.items()},
                             "gflop_per_tile_at": {str(t): round(g, 4) for t, g in ctx.gflop_at.items()},
                             **counted}


def _rows(module: str):
    def step(ctx) -> None:
        import importlib
        ctx.rows += importlib.import_module(f"bench.{module}").rows(ctx)
    step.__name__ = module
    return step


def _profile(ctx) -> None:
    """OpenVINO's performance counters for FP32 and the default INT8 IR: where the time goes."""
    from bench import ov_rows

    ctx.progress("profiling", model=ctx.name, step="OpenVINO performance counters")
    for precision in dict.fromkeys(["fp32", ctx.default_int8]):
        if precision not in ctx.manifest.precisions:
            continue
        try:
            ctx.sections.setdefault("profile", {})[precision] = ov_rows.profile(
                str(ctx.manifest.ir(precision, verify=False)), str(ctx.tiles), calls=5 if ctx.plan.quick else 20)
        except Exception as exc:   # a profile is an explanation, not a result: never lose the table for it
            ctx.sections.setdefault("profile", {})[precision] = f"failed: {exc}"


def _daemon_profile(ctx) -> None:
    """When the daemon falls short of benchmark_app, sample it with py-spy to see which thread holds it back."""
    from bench import pyspy
    from bench.targets import EFFICIENCY_GOAL

    row = ctx.find(kind="daemon", precision=ctx.default_int8)
    if ctx.plan.quick or row is None or row.get("efficiency", 1.0) >= EFFICIENCY_GOAL:
        return
    ctx.progress("profiling", step="the daemon with py-spy")
    try:
        ctx.sections["daemon_profile"] = pyspy.profile(ctx.model_dir, ctx.default_int8, ctx.scenes, ctx.work,
                                                       ctx.plan.daemon_copies, seconds=6, timeout=ctx.plan.timeout_s)
    except Exception as exc:   # a profile is an explanation, not a result: never lose the table for it
        ctx.sections["daemon_profile"] = {"status": f"failed: {exc}"}


# The run, in order: each step adds rows or sections to the context. The machine's once, then each model's,
# then the daemon's on the first model.
MACHINE_STEPS = (_machine, _rows("ceilings"), _scenes)
MODEL_STEPS = (_tiles, _flops, _rows("pytorch"), _rows("ov_rows"), _profile)
DAEMON_STEPS = (_rows("daemon"), _rows("stages"), _rows("swap"), _rows("downlink_bytes"), _daemon_profile)


def _held_out_scores(ctx) -> None:
    """Scores as the manifest has them now: `satedge evaluate --record` may have finished during the run."""
    from bench.plan import held_out
    from onboard.manifest import Manifest

    fresh = Manifest.load(ctx.model_dir)
    for precision, entry in ctx.manifest.precisions.items():
        if precision in fresh.precisions:
            entry.scores = fresh.precisions[precision].scores
    for row in ctx.rows:
        if "score_of" in row:
            row["score"] = held_out(ctx.manifest, row["score_of"])


def _achieved_gflops(ctx, ceilings: list[dict]) -> None:
    """GFLOP/s of each model row, and its share of the measured ceiling of the precision its convolutions run in."""
    from bench.ceilings import ceiling_for

    executes_in = {(r["precision"], r["variant"]): r["executes_in"] for r in ctx.rows
                   if r["kind"] == "runtime" and r.get("executes_in")}
    for row in ctx.rows:
        gflop = ctx.gflop_at.get(row.get("tile") or ctx.manifest.tile)
        if row["kind"] not in ("runtime", "daemon", "benchmark_app") or row["status"] != "measured" or not gflop:
            continue
        row["gflops"] = row["tiles_per_s"] * gflop
        row.setdefault("executes_in", executes_in.get((row.get("precision"), row.get("variant", "default"))))
        ceiling = ceiling_for(ceilings, row["executes_in"])
        if ceiling:
            row["ceiling_gflops"] = ceiling["gflops"]
            row["ceiling_share"] = row["gflops"] / ceiling["gflops"]


def record_in_manifest(ctx, results: dict) -> None:
    """Each precision's batch-1 tiles/s per hint and its daemon tiles/s, in the manifest's `bench` field."""
    for precision, entry in ctx.manifest.precisions.items():
        measured = {}
        for hint in ("THROUGHPUT", "LATENCY"):
            row = ctx.find(kind="runtime", runtime="openvino", precision=precision, variant="default", hint=hint,
                           batch=ctx.manifest.input.shape[0])
            if row:
                measured[hint.lower()] = {"tiles_per_s": round(row["tiles_per_s"], 2),
                                          "latency_p50_ms": round(row["latency_p50_ms"], 2)}
        daemon = ctx.find(kind="daemon", precision=precision)
        if daemon:
            measured["daemon_tiles_per_s"] = round(daemon["tiles_per_s"], 2)
        if measured:
            entry.bench = {**measured, "tile": ctx.manifest.tile, "cpu": results["machine"]["cpu_model"],
                           "cores": results["machine"]["physical_cores"], "measured": results["finished"],
                           "quick": ctx.plan.quick}
    ctx.manifest.save()


def run(args) -> int:
    """Check the model and folders before minutes of measuring, run STEPS, write results and tables; returns 0."""
    from bench import report, targets
    from bench.plan import Context, Plan
    from onboard.manifest import Manifest
    from satedge.errors import UserError

    out = REPO if args.update else args.out or Path("out") / time.strftime("bench-%Y%m%d-%H%M%S")
    manifests = {}
    for model_dir in args.model or default_models():
        if not model_dir.is_dir():
            raise UserError(f"model folder {model_dir} does not exist (pass --model DIR)")
        manifest = Manifest.load(model_dir)
        if "fp32" not in manifest.precisions:
            raise UserError(f"{model_dir} has no fp32 IR: the bench compares every runtime against it")
        for precision in manifest.precisions:
            manifest.ir(precision)          # sha256 of every IR, before minutes of measuring
        if any(m.name == manifest.name for m in manifests.values()):
            raise UserError(f"{model_dir}: a model named {manifest.name!r} is benched already (rows go by name)")
        manifests[model_dir.resolve()] = manifest
    for folder in (out / "bench", out / "docs" / "img", args.work):   # fail now, not after minutes
        try:
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot use folder {folder}: {exc.strerror or exc}") from None
    work = args.work or Path(tempfile.mkdtemp(prefix="satedge-bench-"))
    plan = Plan.quick_plan() if args.quick else Plan.full()
    (first_dir, first), *others = manifests.items()
    ctx = Context(model_dir=first_dir, manifest=first, plan=plan, work=work.resolve())
    started = time.monotonic()
    try:
        for step in MACHINE_STEPS:
            step(ctx)
        contexts = [ctx, *(ctx.for_model(model_dir, manifest) for model_dir, manifest in others)]
        for model_ctx in contexts:
            for step in MODEL_STEPS:
                step(model_ctx)
        for step in DAEMON_STEPS:
            step(ctx)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    ceilings = [r for r in ctx.rows if r["kind"] == "ceiling"]
    rows, found, models, profiles = list(ceilings), [], [], {}
    for model_ctx in contexts:
        _achieved_gflops(model_ctx, ceilings)
        _held_out_scores(model_ctx)
        mine = [r for r in model_ctx.rows if r["kind"] != "ceiling"]
        for row in mine:
            row["model"] = model_ctx.name
        rows += mine
        found += targets.evaluate(model_ctx, prefix="" if model_ctx is ctx else f"{model_ctx.name}: ")
        models.append(model_ctx.sections.pop("model"))
        for precision, profile in model_ctx.sections.pop("profile", {}).items():
            profiles[precision if model_ctx is ctx else f"{model_ctx.name} {precision}"] = profile
    results = {
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": round(time.monotonic() - started, 1),
        "machine": ctx.sections.pop("machine"), "model": models[0], "models": models, "plan": plan.describe(),
        "rows": rows, "targets": found, "sections": ctx.sections, "profile": profiles,
    }
    paths = report.write(results, out)
    if args.record:
        for model_ctx in contexts:
            record_in_manifest(model_ctx, results)
    print("\n".join(report.targets_table(results)))
    print(f"\n{len(ctx.rows)} rows in {results['seconds']:.0f} s -> {paths['results']}, {paths['markdown']}")
    return 0
