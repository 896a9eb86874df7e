"""The one module that owns OpenVINO: compile a manifest's IR, run scenes through an async queue.

`Engine(manifest, precision)` verifies the IR's sha256 (via the manifest),
compiles it with the THROUGHPUT hint and the model cache on (so a precision
swap recompiles from cache), and keeps an `AsyncInferQueue` with the number
of requests the plugin finds optimal. A scene is cut with `onboard.tiling`
(the same tiling evaluation uses) and its tiles are queued without waiting:
`start_scene` returns as soon as the last tile is queued, and the callback
stitches each result as it completes, so the caller can already decode and
cut the next scene while this one is still being inferred.

Normalisation is inside the IR (u8 in): the satellite cannot feed the model
differently from training.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import openvino as ov

from onboard import tiling
from onboard.manifest import Manifest
from satedge.errors import UserError

DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "satedge-ov-cache"
DEVICE = "CPU"


@dataclass
class SceneJob:
    """One scene in flight: its stitcher fills in as tiles complete; `done` fires after the last."""

    stitcher: tiling.Stitcher
    tiles: int
    remaining: int
    precision: str
    on_done: Callable[["SceneJob"], None] | None = None
    finished: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)


class Engine:
    """A compiled IR of one precision plus its async infer queue."""

    def __init__(self, manifest: Manifest, precision: str, *, cache_dir: Path | None = None,
                 hint: str = "THROUGHPUT"):
        self.manifest = manifest
        self.precision = manifest.resolve(precision)
        self.tile = manifest.tile
        self.overlap = manifest.overlap
        self.batch = manifest.input.shape[0]
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
            self.compiled = core.compile_model(str(xml), DEVICE, {"PERFORMANCE_HINT": hint})
        except RuntimeError as exc:
            raise UserError(f"cannot compile {xml}: {str(exc).splitlines()[0]}") from None
        self.compile_seconds = time.monotonic() - started
        self.requests = int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.queue = ov.AsyncInferQueue(self.compiled, self.requests)
        self.queue.set_callback(self._completed)
        self._lock = threading.Lock()
        self.tiles_done = 0

    @property
    def name(self) -> str:
        return self.manifest.name

    def start_scene(self, pre: np.ndarray, post: np.ndarray,
                    on_done: Callable[[SceneJob], None] | None = None) -> SceneJob:
        """Queue every tile of one scene (HxWx3 u8 pre and post) and return without waiting.

        Blocks only while all infer requests are busy (the queue's back-pressure).
        `on_done(job)` runs on an OpenVINO thread after the scene's last tile: keep it short.
        """
        if pre.shape != post.shape or pre.ndim != 3 or pre.shape[2] != 3:
            raise ValueError(f"pre {pre.shape} and post {post.shape} must both be HxWx3")
        height, width = post.shape[:2]
        pre, post = tiling.pad_to(pre, self.tile), tiling.pad_to(post, self.tile)
        tiles = tiling.grid(post.shape[0], post.shape[1], self.tile, self.overlap)
        chips = tiling.cut(pre, post, tiles, self.tile)
        job = SceneJob(tiling.Stitcher(height, width), len(tiles), len(tiles), self.precision, on_done)
        for start in range(0, len(tiles), self.batch):
            batch_tiles = tiles[start:start + self.batch]
            batch = chips[start:start + self.batch]
            if len(batch) < self.batch:  # a static batch: pad the last one, ignore the padding
                batch = np.concatenate([batch, np.repeat(batch[-1:], self.batch - len(batch), 0)])
            self.queue.start_async({0: batch}, (job, batch_tiles))
        return job

    def _completed(self, request: ov.InferRequest, userdata) -> None:
        job, batch_tiles = userdata
        probs = request.get_output_tensor(0).data
        for i, t in enumerate(batch_tiles):
            job.stitcher.put(t, probs[i])
        with self._lock:
            self.tiles_done += len(batch_tiles)
            job.remaining -= len(batch_tiles)
            last = job.remaining == 0
        if last:
            job.finished.set()
            if job.on_done is not None:
                job.on_done(job)

    def predict_scene(self, pre: np.ndarray, post: np.ndarray) -> tiling.Stitcher:
        """The stitched class probabilities of one scene (blocking; `satedge evaluate` uses this)."""
        job = self.start_scene(pre, post)
        job.finished.wait()
        return job.stitcher

    def drain(self) -> None:
        """Wait until every queued request has completed (before dropping this engine)."""
        self.queue.wait_all()
