"""The satellite daemon: wires ingest, engine, pipeline, spool, commands and downlink together.

Start-up checks everything a user can get wrong (model folder, IR and its
sha256, reference mosaic, keys, spool) before any thread starts, each as a
one-line `UserError`. SIGTERM and SIGINT stop it cleanly: no new scene is
started, scenes already being inferred are finished and spooled, the
socket is closed, exit status 0. Whatever was not finished stays in the
inbox or the spool for the next run.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType
from typing import cast

from onboard import guard, ingest, lock, memory
from onboard.commands import Commander
from onboard.config import OnboardConfig
from onboard.downlink import Downlink
from onboard.engine import Engine
from onboard.manifest import Manifest
from onboard.pipeline import Pipeline
from onboard.spool import Spool
from onboard.telemetry import Telemetry, Value
from satedge import health
from satedge.clock import SimClock
from satedge.errors import UserError
from satedge.logs import event

log = logging.getLogger("satedge.onboard")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def load_manifest(cfg: OnboardConfig) -> Manifest:
    """The configured model's manifest; a missing folder is a one-line `UserError` naming the key to set."""
    model_dir = cfg.model.dir
    if not model_dir.is_dir():
        raise UserError(f"model folder {model_dir} does not exist (set model.dir or SATEDGE_MODEL_DIR)")
    return Manifest.load(model_dir)


def check_keys(cfg: OnboardConfig) -> None:
    """Fail at start, not at first connect, if the satellite's CURVE keys are missing."""
    if cfg.security.mode == "curve":
        from satedge import keys
        keys.satellite_secret(cfg.security.keys_dir, cfg.satellite.id)
        keys.ground_public(cfg.security.keys_dir)


class Daemon:
    """Everything a user can get wrong is checked in the constructor, before `run` starts a thread."""

    def __init__(self, cfg: OnboardConfig):
        self.cfg = cfg
        self.stop_requested = threading.Event()
        check_keys(cfg)
        self.manifest = load_manifest(cfg)
        self.locks = [lock.Held(lock.spool_lock(cfg.spool.path), f"spool {cfg.spool.path}")]
        try:
            self.locks.append(lock.Held(lock.inbox_lock(cfg.ingest.inbox), f"inbox {cfg.ingest.inbox}"))
        except UserError:
            self.release_locks()
            raise
        self.clock = SimClock.from_config(cfg.clock, waiting=lambda: health.waiting(cfg.spool.path))
        self.telemetry = Telemetry()
        self.spool = Spool(cfg.spool.path, cfg.spool.max_summaries, cfg.spool.max_bytes)
        memory.run_as_the_daemon()
        self.reference = ingest.Reference(cfg.ingest.reference)
        try:
            cfg.ingest.inbox.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create inbox {cfg.ingest.inbox}: {exc.strerror}") from None
        engine = self.make_engine(self.commanded_precision())
        reader = ingest.Reader(self.reference, cfg.ingest.max_side, cfg.ingest.max_pixels)
        self.pipeline = Pipeline(engine, reader, self.spool, self.telemetry, self.clock, cfg.ingest, cfg.postprocess,
                                 min_class=self.spool.get("min_class", cfg.postprocess.min_class),
                                 ood_guard=guard.load(cfg.model.dir))
        self.commander = Commander(self.spool, self.pipeline, self.telemetry, self.make_engine)
        self.downlink = Downlink(cfg.ground, cfg.satellite, cfg.security, cfg.telemetry, spool=self.spool,
                                 telemetry=self.telemetry, commander=self.commander, clock=self.clock,
                                 identity=lambda: (self.manifest.name, self.pipeline.engine.precision))

    def release_locks(self) -> None:
        """Let another daemon have the spool and inbox (at shutdown; the kernel does it on any exit too)."""
        for held in self.locks:
            held.release()
        self.locks.clear()

    def commanded_precision(self) -> str:
        """The precision the ground last commanded (kept in the spool), else the configured one."""
        commanded = self.spool.get_text("precision")
        if commanded is None:
            return self.cfg.model.precision
        try:
            return self.manifest.resolve(commanded)
        except UserError as exc:
            event(log, "the commanded precision is gone from the model: serving the configured one",
                  logging.WARNING, commanded=commanded, configured=self.cfg.model.precision, error=str(exc))
            return self.cfg.model.precision

    def make_engine(self, precision: str) -> Engine:
        """Compile `precision` of the model as configured (the commander calls it for a swap)."""
        return Engine(self.manifest, precision, cache_dir=self.cfg.model.cache_dir, hint=self.cfg.model.hint)

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Ask `run` to stop cleanly (the SIGTERM/SIGINT handler; safe from any thread)."""
        self.stop_requested.set()

    def run(self) -> int:
        """Serve until a stop signal, the run's end mark or a failed worker thread; the exit status."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, self.request_stop)
        if self.cfg.security.mode == "none":
            event(log, "security.mode is 'none': the link is neither encrypted nor authenticated",
                  logging.WARNING)
        # No local name for the engine: this frame lives as long as the daemon and would keep the first engine,
        # its compiled model and its streams' memory, alive after every swap (+47 MB in the bench's swap run).
        event(log, "onboard daemon started", sat=self.cfg.satellite.id, model=self.manifest.name,
              precision=self.pipeline.engine.precision, requests=self.pipeline.engine.requests,
              ground=self.cfg.ground.address,
              inbox=str(self.cfg.ingest.inbox), security=self.cfg.security.mode)
        self.pipeline.start()
        self.downlink.start()
        interval = self.cfg.log.status_interval_s
        self.status()   # the first heartbeat: healthy as soon as it serves
        next_status = time.monotonic() + interval
        while not self.stop_requested.wait(min(0.2, interval)):
            if self.failed():
                break
            if self.clock.run_over():
                event(log, "the run is over: stopping")
                break
            if time.monotonic() >= next_status:
                self.status()
                next_status += interval
        return self.shutdown()

    def failed(self) -> bool:
        """Whether a worker thread died (logged with its traceback where it happened): the daemon stops,
        exit status 1, and its heartbeat goes stale, so a supervisor sees it and restarts it."""
        return self.pipeline.failed or self.commander.failed or self.downlink.failed

    def status(self) -> dict[str, Value]:
        """Log the status line and write the heartbeat the health check reads; returns what it logged."""
        count, size = self.spool.stats()
        self.telemetry.gauge(spool_summaries=count, spool_bytes=size, spool_evicted=self.spool.evicted,
                             queue_depth=self.pipeline.depth(), in_flight=self.pipeline.in_flight)
        values = self.telemetry.snapshot()
        event(log, "status", logging.INFO, **values)   # the level by position: no field can be taken for it
        try:
            health.beat(health.heartbeat_path(self.cfg.spool.path), cast(dict[str, object], values))   # only read
        except OSError as exc:   # a full disk: the health check fails on the stale beat, which is the point
            event(log, "cannot write the heartbeat", logging.WARNING, error=str(exc))
        return values

    def shutdown(self) -> int:
        """Finish the scenes in flight, then close everything; 1 if a worker thread had failed, else 0."""
        event(log, "stopping: finishing scenes in flight")
        self.pipeline.stop()
        self.commander.close()
        self.downlink.stop()
        self.status()
        self.spool.close()
        self.reference.close()
        self.release_locks()
        failed = self.failed()
        event(log, "onboard daemon stopped", clean=not failed)
        return 1 if failed else 0
