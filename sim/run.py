"""`satedge sim`: a whole satellite + ground simulation on this machine, as separate processes.

One run folder holds everything: CURVE keys made for the run, each process's
effective configuration (re-runnable by hand), their logs, the satellites'
inboxes and spools, the ground store, and at the end the ground report plus
`summary.json` / `summary.md`. All processes share one simulated clock
(epoch, start, speedup). The ground uplinks the precision schedule: a step
for orbit k is queued when orbit k-1 begins, so it reaches the satellite in
orbit k-1's contact window, after that orbit's scenes and before orbit k's.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from satedge import keys
from satedge.clock import SimClock
from satedge.config import to_toml
from satedge.errors import UserError
from satedge.logs import event
from satedge.processes import Child, Children, free_port
from sim.config import SimConfig
from sim.mission import Mission
from sim.roles import SatelliteFiles, ground_sections, stage, write_satellite

log = logging.getLogger("sim")

STOP_GRACE_S = 20.0


@dataclass
class Run:
    """One `satedge sim` run: its folder, clock, satellites and the processes it started."""

    config: SimConfig
    out: Path
    clock: SimClock
    address: str
    satellites: list[SatelliteFiles] = field(default_factory=list)
    children: Children = field(default_factory=Children)

    @property
    def processes(self) -> list[Child]:
        """Every process started, in order."""
        return self.children.started

    @property
    def store(self) -> Path:
        """The ground store."""
        return self.out / "ground" / "ground.sqlite"

    @property
    def keys_dir(self) -> Path:
        """The CURVE keys made for the run."""
        return self.out / "keys"

    def mission(self) -> Mission:
        """Mission control for this run, over the run folder's files."""
        return Mission(self.config, self.clock, self.store, lambda: self.satellites, self.out, self.out / "report")


def prepare(config: SimConfig, out: Path) -> Run:
    """Make the run folder: keys, scenes and each process's configuration file."""
    out = out.resolve()  # the processes run inside it and are handed its paths
    try:
        out.mkdir(parents=True, exist_ok=True)
        if any(out.iterdir()):
            raise UserError(f"--out {out} is not empty: give a new folder for each run")
    except OSError as exc:
        raise UserError(f"cannot use --out {out}: {exc.strerror or exc}") from None
    from onboard.manifest import Manifest
    Manifest.load(config.model.dir).resolve(config.model.precision)   # fail now, not in a child

    epoch = config.clock.epoch if config.clock.epoch is not None else float(int(time.time()))
    bind = config.station.bind
    if bind.endswith(":0"):
        bind = f"{bind[:-2]}:{free_port()}"
    address = bind.replace("*", "127.0.0.1")
    run = Run(config, out, SimClock(epoch, time.time()), address)
    run.satellites = [SatelliteFiles(f"sat-{i}", out / f"sat-{i}") for i in range(1, config.scenario.satellites + 1)]
    if config.security.mode == "curve":
        keys.make(run.keys_dir, [sat.id for sat in run.satellites])
    # The clock starts once every scene is prepared (3 s for the processes to start), so the
    # first pass is not already late.
    for sat in run.satellites:
        stage(config, sat, epoch)
    run.clock = SimClock(epoch, time.time() + 3.0, config.clock.speedup)
    clock = {"epoch": run.clock.epoch, "start": run.clock.start, "speedup": run.clock.speedup}
    security = {"mode": config.security.mode, "keys_dir": str(run.keys_dir)}
    (out / "ground").mkdir()
    (out / "ground" / "ground.toml").write_text(to_toml(ground_sections(
        config, clock=clock, security=security, station={"bind": bind}, store={"path": str(run.store)})))
    for sat in run.satellites:
        write_satellite(config, sat, clock=clock, security=security, ground={"address": address},
                        model={"cache_dir": str(out / "ov-cache")})
    return run


def spawn(run: Run, name: str, command: str, config: Path) -> Child:
    """Start one process of the run, logging JSON lines to `logs/<name>.log`.

    Each runs in its own session: Ctrl-C reaches only `satedge sim`, which stops them in order.
    """
    return run.children.start(name, command, config, run.out / "logs" / f"{name}.log", cwd=run.out,
                              own_session=True)


def launch(run: Run) -> None:
    """The ground first, then each satellite's daemon and camera."""
    spawn(run, "ground", "ground", run.out / "ground" / "ground.toml")
    for sat in run.satellites:
        spawn(run, f"{sat.id}-onboard", "onboard", sat.onboard_config)
        spawn(run, f"{sat.id}-camera", "camera", sat.camera_config)


def stop(run: Run) -> dict[str, int]:
    """SIGTERM in reverse order of data flow (camera, satellite, ground); SIGKILL after a grace period."""
    return run.children.stop_all(STOP_GRACE_S)


def simulate(config: SimConfig, out: Path, duration: float | None = None, status=None) -> dict:
    """Prepare, launch, conduct, stop and summarise one run; Ctrl-C still writes the report."""
    status = status or (lambda line: event(log, line))
    run = prepare(config, out)
    mission = run.mission()
    event(log, "run prepared", out=str(out), scenes=mission.scenes_per_satellite() * len(run.satellites),
          address=run.address)
    launch(run)

    def died() -> str | None:
        dead = [p.name for p in run.processes if not p.alive() and not p.name.endswith("-camera")]
        return f"process {', '.join(dead)} exited early (see {run.out / 'logs'})" if dead else None

    try:
        reason = mission.conduct(status, stopped=died, duration=duration)
    except KeyboardInterrupt:
        reason = "interrupted (Ctrl-C)"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan the processes
    codes = stop(run)
    return mission.finish(reason, codes)
