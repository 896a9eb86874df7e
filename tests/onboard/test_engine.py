"""`onboard.engine.Engine`: real compiled IRs, async queue, same pixels as a plain per-tile inference."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys
import weakref

import numpy as np
import openvino as ov
import pytest

from onboard import tiling
from onboard.engine import Completion, Engine, compile_config
from onboard.manifest import Manifest
from satedge.errors import UserError
from satedge.vocabulary import CONFIDENCE_STEPS
from tests.conftest import REPO


def scene(seed: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (h, w, 3), dtype=np.uint8), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def reference_probs(manifest: Manifest, precision: str, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """The same scene through a synchronous request on the bare IR, tile by tile, stitched by hand."""
    compiled = ov.Core().compile_model(str(manifest.ir(precision)), "CPU", compile_config(precision, "LATENCY"))
    h, w = post.shape[:2]
    pixels = tiling.pad_to(tiling.stack(pre, post), manifest.tile)
    tiles = tiling.grid(pixels.shape[1], pixels.shape[2], manifest.tile, manifest.overlap)
    out = np.zeros((5, h, w), dtype=np.float32)
    for t, chip in zip(tiles, tiling.cut(pixels, tiles, manifest.tile)):
        probs = compiled(chip[None])[0][0]
        y0, y1, x0, x1 = t.own
        y1, x1 = min(y1, h), min(x1, w)
        out[:, y0:y1, x0:x1] = probs[:, y0 - t.y:y1 - t.y, x0 - t.x:x1 - t.x]
    return out


@pytest.mark.parametrize("shape", [(200, 150), (40, 30)])
def test_probabilities_head_matches_tile_by_tile_inference(model_dir, tmp_path, shape):
    manifest = Manifest.load(model_dir)
    engine = Engine(manifest, "fp32", cache_dir=tmp_path / "cache", head="probabilities")
    assert engine.requests >= 1 and engine.precision == "fp32"
    pre, post = scene(1, *shape)
    probs = engine.predict_scene(pre, post)["probs"]
    assert probs.shape == (5, *shape)
    np.testing.assert_allclose(probs.astype(np.float32), reference_probs(manifest, "fp32", pre, post),
                               atol=2e-3)   # float16 storage
    np.testing.assert_allclose(probs.astype(np.float32).sum(axis=0), 1.0, atol=5e-3)


def test_decision_head_is_the_argmax_and_its_probability(model_dir, tmp_path):
    """The daemon's head: OpenVINO's TopK inside the graph gives what numpy's argmax gives on the bare IR."""
    manifest = Manifest.load(model_dir)
    engine = Engine(manifest, "fp32", cache_dir=tmp_path / "cache")
    pre, post = scene(3, 150, 170)
    maps = engine.predict_scene(pre, post)
    assert maps["classes"].dtype == np.uint8 and maps["confidence"].dtype == np.uint8
    reference = reference_probs(manifest, "fp32", pre, post)
    np.testing.assert_array_equal(maps["classes"], reference.argmax(axis=0))
    # the winning probability in 1/255 steps, rounded to the nearest
    np.testing.assert_allclose(maps["confidence"], reference.max(axis=0) * CONFIDENCE_STEPS, atol=0.5 + 1e-3)


def test_fp32_executes_in_f32(model_dir, tmp_path):
    """A CPU with bf16 would otherwise run the FP32 IR in bf16 by default: "fp32" means full precision."""
    engine = Engine(Manifest.load(model_dir), "fp32", cache_dir=tmp_path / "cache")
    assert "f32" in engine.execution or "float32" in engine.execution


def test_scenes_overlap_in_the_queue(model_dir, tmp_path):
    """Several scenes queued back to back finish independently, each with its own stitched maps."""
    engine = Engine(Manifest.load(model_dir), "fp16", cache_dir=tmp_path / "cache")
    scenes = [scene(s, 128, 128) for s in range(3)]
    jobs = [engine.start_scene(tiling.stack(pre, post)) for pre, post in scenes]
    engine.drain()
    assert all(job.finished.is_set() and job.remaining == 0 for job in jobs)
    for job, (pre, post) in zip(jobs, scenes):
        alone = engine.predict_scene(pre, post)
        for name in ("classes", "confidence"):
            np.testing.assert_array_equal(job.stitcher[name], alone[name])
    assert engine.tiles_done == 2 * sum(job.tiles for job in jobs)


class CountedRows(tiling.ArrayRows):
    """A scene in memory handed out band by band, as the daemon's files are; every band asked for is logged,
    and from row `fail_at` on the rows cannot be read."""

    def __init__(self, scene, fail_at: int | None = None):
        super().__init__(scene)
        self.asked: list[tuple[int, int]] = []
        self.fail_at = fail_at
        self.closed = False

    def strip(self, y, rows):
        self.asked.append((y, rows))
        if self.fail_at is not None and y + rows > self.fail_at:
            raise tiling.UnreadableRows("not a readable GeoTIFF (truncated or corrupt): block 7")
        return np.array(super().strip(y, rows))      # a copy, as a file's band is

    def close(self):
        self.closed = True


def test_a_scene_is_read_one_band_of_tile_rows_at_a_time(model_dir, tmp_path):
    """The daemon's feed: each tile row's band read once, top to bottom, the same maps as the scene fed whole,
    the tile rows left counted down to 0, and the rows closed at the end."""
    engine = Engine(Manifest.load(model_dir), "fp32", cache_dir=tmp_path / "cache")
    pre, post = scene(4, 704, 640)
    rows = CountedRows(tiling.stack(pre, post))
    job, batches = engine.feed_scene(rows)
    rows_left = list(batches)
    engine.drain()
    starts = tiling.positions(704, engine.tile, engine.overlap)
    assert rows.asked == [(y, engine.tile) for y in starts] and rows.closed
    assert rows_left == sorted(rows_left, reverse=True) and rows_left[0] == len(starts) and rows_left[-1] == 0
    assert job.finished.is_set() and job.failed is None
    alone = engine.predict_scene(pre, post)
    for name in ("classes", "confidence"):
        np.testing.assert_array_equal(job.stitcher[name], alone[name])


def test_rows_that_fail_part_way_finish_the_job_failed_after_the_tiles_already_queued(model_dir, tmp_path):
    engine = Engine(Manifest.load(model_dir), "fp32", cache_dir=tmp_path / "cache")
    pre, post = scene(5, 300, 300)
    rows = CountedRows(tiling.stack(pre, post), fail_at=200)
    done: list[object] = []
    job = engine.start_scene(rows, on_done=done.append)
    engine.drain()
    starts = tiling.positions(300, engine.tile, engine.overlap)
    queued = sum(y + engine.tile <= 200 for y in starts) * len(starts)
    assert 0 < queued < job.tiles
    assert job.finished.is_set() and done == [job] and job.remaining == 0 and rows.closed
    assert job.failed == "not a readable GeoTIFF (truncated or corrupt): block 7"
    assert engine.tiles_done == queued


def test_int8_resolves_to_the_manifests_default(model_dir, tmp_path):
    engine = Engine(Manifest.load(model_dir), "int8", cache_dir=tmp_path / "cache")
    assert engine.precision == "int8-nncf"
    pre, post = scene(2, 64, 64)
    maps = engine.predict_scene(pre, post)
    confidence = maps["confidence"].astype(np.float32) / CONFIDENCE_STEPS
    assert (maps["classes"] < 5).all() and (confidence >= 0.2).all()   # five classes: the winner has >= 1/5


def test_refuses_an_ir_whose_sha256_does_not_match(model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    with open(copy / "fp32.bin", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(UserError, match="sha256 does not match"):
        Engine(Manifest.load(copy), "fp32", cache_dir=tmp_path / "cache")


def test_missing_precision_is_a_user_error(tiny_model_dir, tmp_path):
    with pytest.raises(UserError, match="has no int8-inc IR"):
        Engine(Manifest.load(tiny_model_dir), "int8-inc", cache_dir=tmp_path / "cache")


def test_a_blocking_scene_returns_only_after_every_callback_has(model_dir, tmp_path, monkeypatch):
    """`run_scene` returns once OpenVINO's threads have left the callbacks: a command that exits right after it
    must not find one still inside (the process would abort: "terminate called without an active exception")."""
    import time

    left: list[float] = []
    completed = Completion.__call__

    def slow_completed(self, request, userdata):
        completed(self, request, userdata)   # the last tile sets `job.finished` in here
        time.sleep(0.2)
        left.append(time.monotonic())

    monkeypatch.setattr(Completion, "__call__", slow_completed)
    engine = Engine(Manifest.load(model_dir), "fp16", cache_dir=tmp_path / "cache")
    pre, post = scene(5, 100, 100)
    job = engine.run_scene(tiling.stack(pre, post))
    returned = time.monotonic()
    assert job.finished.is_set() and len(left) == job.tiles
    assert max(left) <= returned, "run_scene returned while a callback was still running"


def test_a_dropped_engine_is_freed_with_its_compiled_model_and_queue(model_dir, tmp_path):
    """The queue keeps its callback inside OpenVINO's C++, where the garbage collector cannot see it: a callback
    bound to the engine (engine -> queue -> callback -> engine) kept every engine a precision swap dropped alive,
    with its compiled model, for the life of the process."""
    engine = Engine(Manifest.load(model_dir), "fp16", cache_dir=tmp_path / "cache")
    done: list = []
    pre, post = scene(6, 100, 100)
    job = engine.start_scene(tiling.stack(pre, post), on_done=done.append)
    engine.drain()                       # as a swap does before it drops the old engine
    assert done == [job] and engine.tiles_done == job.tiles
    alive = {name: weakref.ref(obj) for name, obj in
             (("engine", engine), ("compiled model", engine.compiled), ("queue", engine.queue))}
    del engine
    gc.collect()
    assert [name for name, ref in alive.items() if ref() is not None] == []
    assert job.finished.is_set() and job.stitcher["classes"].shape == (100, 100)   # the results outlive it


# A precision swap as the daemon makes one: the first engine compiled on the main thread, the next on the command
# thread, the first dropped on the infer thread, then a signal with a Python handler (SIGTERM's, in the daemon).
SWAP_THEN_SIGNAL = """
import gc, os, signal, sys, threading
from onboard.engine import Engine
from onboard.manifest import Manifest
manifest = Manifest.load(sys.argv[1])
first = Engine(manifest, "fp32", cache_dir=sys.argv[2])
made = []
command = threading.Thread(target=lambda: made.append(Engine(manifest, "fp16", cache_dir=sys.argv[2])))
command.start(); command.join()
first.drain()
dropped = threading.Thread(target=lambda engine: gc.collect(), args=(first,))
del first
dropped.start(); dropped.join()
made.pop().drain()
gc.collect()
signal.signal(signal.SIGUSR1, lambda *_: print("handled"))
os.kill(os.getpid(), signal.SIGUSR1)
print("survived")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the CPU plugin's sigaltstack is Linux's")
def test_engines_dropped_out_of_order_leave_the_signal_stack_alone(model_dir, tmp_path):
    """Each OpenVINO Core makes its own CPU plugin, which installs an alternate signal stack on the thread that
    made it and unmaps it when destroyed; engines with a Core each, dropped out of creation order or on another
    thread, left the main thread's alternate stack unmapped, and the next signal handled there killed the process
    with SIGSEGV, faulthandler silent (onboard.engine.shared_core)."""
    result = subprocess.run([sys.executable, "-X", "faulthandler", "-c", SWAP_THEN_SIGNAL, str(model_dir),
                             str(tmp_path / "cache")], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.split() == ["handled", "survived"]


def test_a_recompile_hits_the_model_cache(model_dir, tmp_path):
    """A swap back to a precision compiles from the cache: the same IR and head hash the same, so the second
    compile writes no second blob (unnamed head nodes once gave each compile a new hash and a new file)."""
    cache = tmp_path / "cache"
    for _ in range(2):
        Engine(Manifest.load(model_dir), "int8", cache_dir=cache).drain()
    assert len(list(cache.glob("*.blob"))) == 1
