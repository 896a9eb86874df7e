"""The one module that owns OpenVINO: compile a manifest's IR, run scenes through an async queue.

`Engine(manifest, precision)` verifies the IR's sha256 (via the manifest),
appends a head (`onboard.heads`) to the graph, compiles it with the
THROUGHPUT hint and the model cache on (so a precision swap recompiles from
cache), and keeps an `AsyncInferQueue` with twice the number of requests
the plugin finds optimal: each stream always has the next tile waiting, so
a Python thread busy elsewhere never leaves a core idle. A scene's tiles
are queued without waiting: `start_scene` returns as soon as the last tile
is queued, and the completion callback only copies the head's small
outputs into the scene's maps, so the caller can already decode and queue
the next scene while this one is still being inferred.

Normalisation is inside the IR (u8 in): the satellite cannot feed the model
differently from training.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import openvino as ov
from numpy.typing import NDArray

from onboard import tiling
from onboard.heads import HEADS
from onboard.manifest import Manifest
from satedge.errors import UserError

DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "satedge-ov-cache"
DEVICE = "CPU"
REQUESTS_PER_STREAM = 2

# What each precision computes in. Without this, a CPU with bf16 support runs the FP32 IR in bf16:
# "fp32" is a promise of full precision (the fallback a swap to fp32 is for).
EXECUTION = {"fp32": {"INFERENCE_PRECISION_HINT": "f32"}}


def compile_config(precision: str, hint: str) -> dict[str, str]:
    """The compile-time properties the satellite uses for an IR of `precision` (the benchmark uses the same)."""
    return {"PERFORMANCE_HINT": hint, **EXECUTION.get(precision, {})}


def openvino_reason(exc: BaseException) -> str:
    """What OpenVINO says went wrong, without its "Exception from <source file>" and "Check ... failed at"
    lines, which name only where in OpenVINO the check was."""
    lines = [line.strip() for line in str(exc).splitlines()]
    said = [line for line in lines if line and not line.startswith("Exception from")
            and not (line.startswith("Check '") and " failed at " in line)]
    return "; ".join(said or [line for line in lines if line][:1])[:300]


@dataclass
class SceneJob:
    """One scene in flight: its stitcher fills in as tiles complete; `finished` fires after the last."""

    stitcher: tiling.Stitcher
    tiles: int
    remaining: int
    precision: str
    on_done: Callable[[SceneJob], None] | None = None
    finished: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)


class Engine:
    """A compiled IR of one precision, with a head, plus its async infer queue."""

    def __init__(self, manifest: Manifest, precision: str, *, cache_dir: Path | None = None,
                 hint: str = "THROUGHPUT", head: str = "decision"):
        self.manifest = manifest
        self.precision = manifest.resolve(precision)
        self.tile = manifest.tile
        self.overlap = manifest.overlap
        self.batch = manifest.input.shape[0]
        self.head = HEADS[head]
        self.layers = self.head.layers(manifest.output.shape[1])
        xml = manifest.ir(self.precision)
        cache_dir = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
        started = time.monotonic()
        core = ov.Core()
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            core.set_property({"CACHE_DIR": str(cache_dir)})
        except OSError as exc:
            raise UserError(f"cannot use model cache folder {cache_dir}: {exc.strerror}") from None
        try:
            model = self.head.attach(core.read_model(str(xml)))
            self.compiled = core.compile_model(model, DEVICE, compile_config(self.precision, hint))
        except RuntimeError as exc:
            raise UserError(f"cannot compile {xml}: {openvino_reason(exc)}") from None
        self.compile_seconds = time.monotonic() - started
        self.execution = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        self.requests = REQUESTS_PER_STREAM * int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.queue = ov.AsyncInferQueue(self.compiled, self.requests)
        self.queue.set_callback(self._completed)
        self._lock = threading.Lock()
        self.tiles_done = 0

    @property
    def name(self) -> str:
        """The model's name from its manifest: summaries and `hello` carry it."""
        return self.manifest.name

    def start_scene(self, scene: NDArray[np.uint8], on_done: Callable[[SceneJob], None] | None = None) -> SceneJob:
        """Queue every tile of one `[6, H, W]` u8 scene and return without waiting.

        Blocks only while all infer requests are busy (the queue's back-pressure).
        `on_done(job)` runs on an OpenVINO thread after the scene's last tile: keep it short.
        """
        if scene.ndim != 3 or scene.shape[0] != tiling.CHANNELS or scene.dtype != np.uint8:
            raise ValueError(f"a scene is [6, H, W] u8, not {scene.shape} {scene.dtype}")
        height, width = scene.shape[1:]
        scene = tiling.pad_to(scene, self.tile)
        tiles = tiling.grid(scene.shape[1], scene.shape[2], self.tile, self.overlap)
        job = SceneJob(tiling.Stitcher(height, width, self.layers), len(tiles), len(tiles), self.precision, on_done)
        for start in range(0, len(tiles), self.batch):
            batch_tiles = tiles[start:start + self.batch]
            batch = tiling.cut(scene, batch_tiles, self.tile)
            if len(batch) < self.batch:  # a static batch: pad the last one, ignore the padding
                batch = np.concatenate([batch, np.repeat(batch[-1:], self.batch - len(batch), 0)])
            self.queue.start_async({0: batch}, (job, batch_tiles))
        return job

    def _completed(self, request: ov.InferRequest, userdata: tuple[SceneJob, list[tiling.Tile]]) -> None:
        job, batch_tiles = userdata
        outputs = [request.get_output_tensor(i).data for i in range(len(self.layers))]
        for k, t in enumerate(batch_tiles):
            job.stitcher.put(t, {name: out[k] for name, out in zip(self.layers, outputs)})
        with self._lock:
            self.tiles_done += len(batch_tiles)
            job.remaining -= len(batch_tiles)
            last = job.remaining == 0
        if last:
            job.finished.set()
            if job.on_done is not None:
                job.on_done(job)

    def predict_scene(self, pre: NDArray[np.uint8], post: NDArray[np.uint8]) -> tiling.Stitcher:
        """The stitched maps of one scene from HxWx3 images (blocking; `satedge evaluate` uses this)."""
        job = self.start_scene(tiling.stack(pre, post))
        job.finished.wait()
        return job.stitcher

    def drain(self) -> None:
        """Wait until every queued request has completed (before dropping this engine)."""
        self.queue.wait_all()
