"""The one module that owns OpenVINO: compile a manifest's IR, run scenes through an async queue.

`Engine(manifest, precision)` verifies the IR's sha256 (via the manifest),
appends a head (`onboard.heads`) to the graph, compiles it on the process's
one OpenVINO Core (`shared_core`) with the THROUGHPUT hint and the model
cache on (so a precision swap recompiles from cache), and keeps an
`AsyncInferQueue` with twice the number of requests the plugin finds
optimal: each stream always has the next tile waiting, so
a Python thread busy elsewhere never leaves a core idle. A scene's tiles
are queued without waiting: `start_scene` returns as soon as the last tile
is queued, and the completion callback only copies the head's small
outputs into the scene's maps, so the caller can already queue the next
scene while this one is still being inferred. A scene's pixels are read
one band of tile rows at a time as its tiles are queued (`tiling.Rows`),
and a scene whose file fails part way is given up with the reason
(`SceneJob.failed`) once the tiles already queued are done.

Normalisation is inside the IR (u8 in): the satellite cannot feed the model
differently from training.
"""

from __future__ import annotations

import bisect
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
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


_core: ov.Core | None = None
_core_lock = threading.Lock()


def shared_core() -> ov.Core:
    """The process's one OpenVINO Core, made on first use and never dropped: every engine compiles on it.

    Each Core loads its own instance of the CPU plugin, and each instance installs a fresh alternate signal stack
    (`sigaltstack`) on the thread that creates it; destroyed, it unmaps that stack and puts back the one it
    found, but only if its own is still the current one of the thread that destroys it. Engines with a Core
    each, dropped out of creation order or on another thread (a precision swap does both: the old engine was
    made first, on the main thread, and is dropped first, on the infer thread), left the main thread's
    alternate stack pointing at unmapped memory. The next signal handled there (SIGTERM, SIGCHLD: Python
    installs every handler with SA_ONSTACK) then killed the process with SIGSEGV before faulthandler could say
    a word. With one Core the plugin, and its signal stack, is made once and outlives every engine.
    """
    global _core
    with _core_lock:
        if _core is None:
            _core = ov.Core()
        return _core


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
    failed: str | None = None    # why the scene's pixels could not all be read: its maps are incomplete


class Completion:
    """The queue's completion callback: copies a batch's head outputs into its scene's maps.

    It holds only what it needs (the head's layer names, a lock, the tile count) and never the engine. A bound
    method (`engine._completed`) would make a reference cycle the garbage collector cannot see, because the
    queue keeps its callback inside OpenVINO's C++: engine -> queue -> callback -> engine. Every engine a
    precision swap drops would then stay alive with its compiled model for the life of the process.

    Nor may the last reference to an engine ever be dropped on an OpenVINO thread, inside a callback of its own
    queue: that would destroy the queue (and wait for its own requests) from within one of them. This callback
    drops no reference that could be the engine's last: it holds none, and the `(job, tiles, input)` userdata it gets
    stays owned by the queue's request slot until the next `start_async` on that slot (on the caller's thread)
    or the queue itself goes. Whoever drops an engine drains it first (`Engine.drain`), on its own thread.
    """

    def __init__(self, layers: Iterable[str]):
        self.layers = tuple(layers)      # the names of the head's maps, in the order of the model's outputs
        self.lock = threading.Lock()
        self.tiles_done = 0

    def __call__(self, request: ov.InferRequest,
                 userdata: tuple[SceneJob, list[tiling.Tile], NDArray[np.uint8]]) -> None:
        """Called by OpenVINO, on one of its threads, once per completed batch of tiles."""
        job, batch_tiles, _ = userdata    # the third is the batch's input, kept alive for the request
        outputs = [request.get_output_tensor(i).data for i in range(len(self.layers))]
        for k, t in enumerate(batch_tiles):
            job.stitcher.put(t, {name: out[k] for name, out in zip(self.layers, outputs)})
        with self.lock:
            self.tiles_done += len(batch_tiles)
        self.settle(job, len(batch_tiles))

    def settle(self, job: SceneJob, tiles: int, failed: str | None = None) -> None:
        """`tiles` of the job are accounted for (inferred, or never to be: `failed` says why); the last one
        finishes it."""
        with self.lock:
            if failed is not None:
                job.failed = failed
            job.remaining -= tiles
            last = job.remaining == 0
        if last:
            job.finished.set()
            if job.on_done is not None:
                job.on_done(job)


class _Padded:
    """The rows of a scene smaller than a tile, read whole on first use and padded to a tile (`tiling.pad_to`)."""

    def __init__(self, rows: tiling.Rows, tile: int):
        self.rows, self.tile = rows, tile
        self.height, self.width = rows.height, rows.width
        self.padded: NDArray[np.uint8] | None = None

    def strip(self, y: int, rows: int) -> NDArray[np.uint8]:
        return self.whole()[:, y:y + rows]

    def whole(self) -> NDArray[np.uint8]:
        if self.padded is None:
            self.padded = tiling.pad_to(self.rows.whole(), self.tile)
        return self.padded

    def close(self) -> None:
        self.rows.close()


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
        core = shared_core()
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot use model cache folder {cache_dir}: {exc.strerror}") from None
        try:
            model = self.head.attach(core.read_model(str(xml)))
            self.compiled = core.compile_model(model, DEVICE, {**compile_config(self.precision, hint),
                                                               "CACHE_DIR": str(cache_dir)})
        except RuntimeError as exc:
            raise UserError(f"cannot compile {xml}: {openvino_reason(exc)}") from None
        self.compile_seconds = time.monotonic() - started
        self.execution = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        self.requests = REQUESTS_PER_STREAM * int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self._completion = Completion(self.layers)
        self.queue = ov.AsyncInferQueue(self.compiled, self.requests)
        self.queue.set_callback(self._completion)   # not a bound method: see `Completion`

    @property
    def tiles_done(self) -> int:
        """Tiles inferred since this engine was compiled (the padding of a last batch is not counted)."""
        return self._completion.tiles_done

    @property
    def name(self) -> str:
        """The model's name from its manifest: summaries and `hello` carry it."""
        return self.manifest.name

    def start_scene(self, scene: NDArray[np.uint8] | tiling.Rows,
                    on_done: Callable[[SceneJob], None] | None = None) -> SceneJob:
        """Queue every tile of one `[6, H, W]` u8 scene and return without waiting.

        Blocks only while all infer requests are busy (the queue's back-pressure).
        `on_done(job)` runs on an OpenVINO thread after the scene's last tile: keep it short.
        """
        job, batches = self.feed_scene(scene, on_done)
        for _ in batches:
            pass
        return job

    def feed_scene(self, scene: NDArray[np.uint8] | tiling.Rows,
                   on_done: Callable[[SceneJob], None] | None = None) -> tuple[SceneJob, Iterator[int]]:
        """The scene's job, and an iterator that reads the scene's rows and queues one batch of its tiles per
        step, yielding how many tile rows still have tiles to queue: a caller can do something between two
        batches, such as take a precision swap while a scene is half queued, and leave the rest of the
        iterator to another thread. The iterator closes the rows when it ends; rows that fail to read end
        it early, and the job then finishes `failed` once the tiles already queued are done."""
        rows = tiling.ArrayRows(scene) if isinstance(scene, np.ndarray) else scene
        height, width = rows.height, rows.width
        if height < self.tile or width < self.tile:
            rows = _Padded(rows, self.tile)
        tiles = tiling.grid(max(height, self.tile), max(width, self.tile), self.tile, self.overlap)
        job = SceneJob(tiling.Stitcher(height, width, self.layers), len(tiles), len(tiles), self.precision, on_done)
        return job, self._queue_batches(rows, tiles, job)

    def _queue_batches(self, rows: tiling.Rows, tiles: list[tiling.Tile], job: SceneJob) -> Iterator[int]:
        row_starts = sorted({t.y for t in tiles})
        queued = 0
        try:
            strip_y, strip = -1, None
            for start in range(0, len(tiles), self.batch):
                batch_tiles = tiles[start:start + self.batch]
                # a batch of its own for each request: it reads it in place until it completes (the userdata
                # keeps it alive), so the next strip can be read meanwhile
                batch = np.empty((self.batch, tiling.CHANNELS, self.tile, self.tile), dtype=np.uint8)
                for k, t in enumerate(batch_tiles):
                    if t.y != strip_y:
                        strip, strip_y = rows.strip(t.y, self.tile), t.y
                    assert strip is not None
                    batch[k] = strip[:, :, t.x:t.x + self.tile]
                batch[len(batch_tiles):] = batch[len(batch_tiles) - 1]   # a static batch: padding, ignored
                self.queue.start_async({0: batch}, (job, batch_tiles, batch), share_inputs=True)
                queued += len(batch_tiles)
                following = start + self.batch
                needed_from = tiles[following].y if following < len(tiles) else row_starts[-1] + 1
                yield len(row_starts) - bisect.bisect_left(row_starts, needed_from)
        except tiling.UnreadableRows as exc:
            self._completion.settle(job, len(tiles) - queued, failed=str(exc))
        finally:
            rows.close()

    def run_scene(self, scene: NDArray[np.uint8]) -> SceneJob:
        """Infer one `[6, H, W]` u8 scene and return once every request is idle (blocking callers).

        Waits on the queue, not on `job.finished`: that event fires inside the last OpenVINO callback, and a
        command that returned on it could exit while an OpenVINO thread was still in the callback (the
        process then aborts with "terminate called without an active exception").
        """
        job = self.start_scene(scene)
        self.queue.wait_all()
        return job

    def predict_scene(self, pre: NDArray[np.uint8], post: NDArray[np.uint8]) -> tiling.Stitcher:
        """The stitched maps of one scene from HxWx3 images (blocking; `satedge evaluate` uses this)."""
        return self.run_scene(tiling.stack(pre, post)).stitcher

    def drain(self) -> None:
        """Wait until every queued request has completed (before dropping this engine)."""
        self.queue.wait_all()
