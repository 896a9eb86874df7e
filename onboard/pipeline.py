"""The scene pipeline: three threads, so decoding, inference and post-processing overlap.

    reader ──scenes (bounded: prefetch)──► infer ──AsyncInferQueue──► callback ──done──► post
    (validate, open, quarantine)           (read rows, cut tiles,     (copy the head's   (buildings, spool, retire)
                                            start_async)               outputs)

The reader checks and opens the next scene while the current one is
inferred; the infer thread reads a scene one band of tile rows at a time,
cuts its tiles and queues them (it blocks only when every infer request is
busy, which is the point), so a scene's pixels are never held whole; the
post thread turns finished scenes into summaries, and sends a scene whose
file failed part way to quarantine. At most MAX_SCENES_IN_FLIGHT scenes are between the infer
thread and the spool, so memory is bounded even if post-processing falls
behind. A scene file stays in the inbox until its summary is committed to
the spool, so whatever a crash or a shutdown interrupts is simply done
again on the next start.

A precision swap is taken by the infer thread between two batches: the new
engine gets the next scene at once, and a short-lived retire thread queues
the rest of the scene in hand (if any) to the old engine, waits for its last
request and drops it. So the command is answered as soon as the new model
serves, not after the old one's scene, and still no tile is dropped or
inferred twice and every scene is made by exactly one precision, which its
summary names.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from onboard import guard, ingest, memory, postprocess
from onboard.config import IngestSection, PostprocessSection
from onboard.engine import Engine, SceneJob
from onboard.spool import Spool, Unwritable
from onboard.telemetry import Telemetry
from satedge.clock import SimClock
from satedge.logs import event
from satedge.protocol import COVERAGE_KEY, priority

log = logging.getLogger("satedge.onboard.pipeline")

POLL_S = 0.1  # how often blocked threads look at the stop flag
# how often the infer thread, waiting for a scene or a slot, looks for a precision swap: the reader decodes the
# next scene only near the end of the one in hand, so a swap often arrives while the infer thread waits
SWAP_POLL_S = 0.01
# Scenes started but not yet spooled: one post-processed while the next is inferred, and one spare so the
# engine never waits for post-processing. Each holds only its result maps (2 bytes a pixel) by then.
MAX_SCENES_IN_FLIGHT = 3


class Swap:
    """A request to serve `engine` from the next scene on; `done` fires once it serves."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.done = threading.Event()


class Pipeline:
    """Three threads from the inbox to the spool; a scene leaves the inbox only once its summary is committed."""

    def __init__(self, engine: Engine, reader: ingest.Reader, spool: Spool, telemetry: Telemetry, clock: SimClock,
                 ingest_cfg: IngestSection, postprocess_cfg: PostprocessSection, *, min_class: int,
                 ood_guard: guard.Guard | None = None):
        self.engine = engine
        self.ood_guard = ood_guard               # the model's out-of-distribution guard (None: flags nothing)
        self.reader, self.spool, self.telemetry, self.clock = reader, spool, telemetry, clock
        self.ingest_cfg, self.postprocess_cfg = ingest_cfg, postprocess_cfg
        self.min_class = min_class   # in force: the commanded one (kept in the spool), else postprocess_cfg's
        self.scenes: queue.Queue[ingest.Scene] = queue.Queue(maxsize=ingest_cfg.prefetch)
        self.finished: queue.Queue[tuple[ingest.Scene, SceneJob] | None] = queue.Queue()
        self.claimed: set[Path] = set()        # files read or in flight: not to be read again
        self.in_flight = 0                     # scenes queued in the engine, not yet spooled
        self._in_flight_lock = threading.Lock()
        self._slots = threading.Semaphore(MAX_SCENES_IN_FLIGHT)
        self._swap: Swap | None = None
        self._swap_lock = threading.Lock()
        self._retiring: list[threading.Thread] = []   # engines swapped out, finishing their last scene
        self.stopping = threading.Event()
        self.failed = False
        self.threads = [threading.Thread(target=self._watched, args=(loop,), name=f"onboard-{name}", daemon=True)
                        for name, loop in (("reader", self._read_loop), ("infer", self._infer_loop),
                                           ("post", self._post_loop))]
        self._infer_thread = self.threads[1]
        telemetry.gauge(precision=engine.precision)

    # --- control -----------------------------------------------------------

    def start(self) -> None:
        """Start the three threads; the reader takes inbox files oldest first."""
        for thread in self.threads:
            thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop reading; finish what is already being inferred; return when it is spooled."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def swap(self, engine: Engine) -> Swap:
        """Serve `engine` from the next scene on (the caller waits on `.done`)."""
        request = Swap(engine)
        with self._swap_lock:
            self._swap = request
        return request

    def stopped(self) -> bool:
        """True once the infer thread has exited (no swap can be taken any more)."""
        return self.stopping.is_set() and not self._infer_thread.is_alive()

    def depth(self) -> int:
        """Scenes decoded and waiting, plus scenes in the engine (the `queue_depth` gauge)."""
        return self.scenes.qsize() + self.in_flight

    def _watched(self, loop: Callable[[], None]) -> None:
        """A thread that dies takes the daemon down with a traceback (a bug), not silently."""
        try:
            loop()
        except Unwritable as exc:
            event(log, "stopping: the spool cannot be written", logging.ERROR, error=str(exc))
            self.stopping.set()
            self.failed = True
        except BaseException:
            log.exception("pipeline thread %s failed", threading.current_thread().name)
            self.stopping.set()
            self.failed = True
            raise

    # --- reader ------------------------------------------------------------

    def _read_loop(self) -> None:
        while not self.stopping.is_set():
            fresh = [p for p in ingest.pending(self.ingest_cfg.inbox) if p not in self.claimed]
            if not fresh:
                self.stopping.wait(self.ingest_cfg.poll_s)
                continue
            for path in fresh:
                scene = self._open_one(path)
                if scene is not None and not self._queue_scene(scene):
                    break

    def _queue_scene(self, scene: ingest.Scene) -> bool:
        """Hand an opened scene to the infer thread once the queue has room; False (and the scene closed,
        left in the inbox) once stopping."""
        while not self.stopping.is_set():
            try:
                self.scenes.put(scene, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        scene.rows.close()
        self.claimed.discard(scene.path)
        return False

    def _open_one(self, path: Path) -> ingest.Scene | None:
        """Check and open `path` (its pixels are read as it is inferred); None if it is not to be inferred
        (skipped, refused, gone)."""
        if not os.path.lexists(path):    # retired by the post thread since the listing
            return None
        scene = None
        try:
            ingest.check_in_inbox(path, self.ingest_cfg.inbox)
            scene = self.reader.open(path, arrived=self.clock.now())
            if self.spool.done(scene.identity):   # spooled before a crash and not yet retired, or published twice
                scene.rows.close()
                ingest.retire(path, self.ingest_cfg.processed)
                self.telemetry.count("scenes_skipped")
                event(log, "scene skipped: it was summarised before", logging.WARNING, file=path.name,
                      identity=scene.identity[:80])
                return None
        except ingest.BadScene as bad:
            self._quarantine(path, str(bad))
            return None
        except FileNotFoundError:
            if scene is not None:
                scene.rows.close()
            return None                  # taken away while we looked
        except Exception as exc:         # whatever else one file can do must not stop the reader
            if scene is not None:
                scene.rows.close()
            log.exception("unexpected error reading %s", path.name)
            self._quarantine(path, f"cannot be read: {type(exc).__name__}: {exc}")
            return None
        self.claimed.add(path)
        self.telemetry.count("scenes_in")
        return scene

    def _quarantine(self, path: Path, reason: str) -> None:
        try:
            target = ingest.quarantine(path, self.ingest_cfg.quarantine_dir, reason)
        except FileNotFoundError:
            return
        except (OSError, shutil.Error) as exc:   # cannot be moved (a FIFO across file systems, a full disk)
            self.claimed.add(path)               # left where it is, said once, not retried every scan
            event(log, "cannot quarantine: left in the inbox until the next start", logging.ERROR,
                  file=path.name, reason=reason, error=str(exc))
            return
        self.telemetry.count("quarantined")
        event(log, "scene quarantined", logging.WARNING, file=path.name, reason=reason, to=str(target))

    # --- inference ---------------------------------------------------------

    def _infer_loop(self) -> None:
        while not self.stopping.is_set():
            self._maybe_swap()
            if not self._slots.acquire(timeout=SWAP_POLL_S):
                continue
            try:
                scene = self.scenes.get(timeout=SWAP_POLL_S)
            except queue.Empty:
                self._slots.release()
                continue
            self._add_in_flight(1)
            _, batches = self.engine.feed_scene(scene.rows, on_done=functools.partial(self._inferred, scene))
            for _ in batches:
                if self._swap is not None:               # a peek; `_maybe_swap` takes the request under the lock
                    self._maybe_swap(unfinished=batches)
                    break
        self.engine.drain()
        self._maybe_swap()               # a command waiting on a swap is answered, not left hanging
        for retiring in self._retiring:  # their scenes reach `finished` before the end marker
            retiring.join()
        while True:                      # opened but never started: they stay in the inbox
            try:
                scene = self.scenes.get_nowait()
            except queue.Empty:
                break
            scene.rows.close()
            self.claimed.discard(scene.path)
        self.finished.put(None)

    @staticmethod
    def _retire(engines: list[Engine], unfinished: Iterator[int] | None) -> None:
        """Queue the rest of a swapped-out engine's scene, wait for its last request, drop the engine (the only
        reference left is in `engines`) and give its memory back to the system."""
        for _ in unfinished or ():
            pass
        engine = engines.pop()
        engine.drain()
        del engine
        memory.give_back()

    def _inferred(self, scene: ingest.Scene, job: SceneJob) -> None:
        self.finished.put((scene, job))

    def _add_in_flight(self, n: int) -> None:
        with self._in_flight_lock:
            self.in_flight += n

    def _maybe_swap(self, unfinished: Iterator[int] | None = None) -> None:
        """Serve the requested engine from now on; the old one finishes `unfinished` (its scene in hand, whose
        rows it reads on) and whatever it has queued on a retire thread, which drops it (never on one of
        OpenVINO's threads)."""
        with self._swap_lock:
            request, self._swap = self._swap, None
        if request is None:
            return
        old, self.engine = self.engine, request.engine
        retire = threading.Thread(target=self._watched, args=(functools.partial(self._retire, [old], unfinished),),
                                  name="onboard-retire", daemon=True)
        del old                          # the retire thread holds the old engine until its last request is done
        retire.start()
        self._retiring = [t for t in self._retiring if t.is_alive()] + [retire]
        self.telemetry.gauge(precision=request.engine.precision)
        self.telemetry.count("swaps")
        request.done.set()

    # --- post-processing ---------------------------------------------------

    def _post_loop(self) -> None:
        while True:
            try:
                item = self.finished.get(timeout=POLL_S)
            except queue.Empty:
                if self.stopped():       # the infer thread died without its end marker
                    return
                continue
            if item is None:
                return
            scene, job = item
            try:
                self._summarise(scene, job)
            except Unwritable as exc:    # not the scene's fault: it stays in the inbox, the daemon stops
                event(log, "stopping: the spool cannot be written; the scene stays in the inbox", logging.ERROR,
                      file=scene.path.name, error=str(exc))
                self.stopping.set()
                self.failed = True
            except Exception as exc:     # a bug on one scene must not lose it or stop the rest
                log.exception("post-processing failed for %s", scene.path.name)
                self._quarantine(scene.path, f"post-processing failed: {type(exc).__name__}: {exc}")
            finally:
                self._add_in_flight(-1)
                self.claimed.discard(scene.path)
                del item, scene, job     # its maps (8.4 MB for 2048²) go now, not when the next scene comes
                self._slots.release()

    def _summarise(self, scene: ingest.Scene, job: SceneJob) -> None:
        if job.failed is not None:       # its file failed part way: the maps are incomplete, no summary
            self._quarantine(scene.path, job.failed)
            return
        cfg = self.postprocess_cfg
        found = postprocess.buildings(job.stitcher["classes"], job.stitcher["confidence"], scene.crs,
                                      scene.transform, cfg.split_m, cfg.min_area_m2, scene.coverage)
        height, width = job.stitcher.height, job.stitcher.width
        ood = self.ood_guard.check(guard.statistics(job.stitcher["classes"], job.stitcher["confidence"])) \
            if self.ood_guard is not None else []
        body = postprocess.summary_body(scene.id, scene.acquired, scene.crs, scene.transform, height, width,
                                        found, model=self.engine.name, precision=job.precision,
                                        raw_bytes=scene.raw_bytes, min_class=self.min_class,
                                        coverage=scene.coverage_share, ood=ood,
                                        ood_max_listed=cfg.ood_max_listed)
        if ood:
            self.telemetry.count("scenes_ood")
        prio = priority(body["n"])
        seq = self.spool.add(prio, body, source=scene.path.name, identity=scene.identity)
        ingest.retire(scene.path, self.ingest_cfg.processed)
        self.telemetry.tiles_done(job.tiles)
        self.telemetry.count("scenes_out")
        event(log, "scene summarised", scene=scene.id, seq=seq, prio=prio, prec=job.precision,
              buildings=body["n"], listed=len(body["b"]), coverage=body[COVERAGE_KEY], ood=ood, tiles=job.tiles,
              ms=round((time.monotonic() - job.started) * 1000))
