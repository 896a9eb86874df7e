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
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from satedge import keys
from satedge.clock import SimClock
from satedge.config import to_toml
from satedge.errors import UserError
from satedge.logs import event
from sim.config import SimConfig
from sim.mission import Mission
from sim.roles import SatelliteFiles, ground_sections, stage, write_satellite

log = logging.getLogger("sim")

STOP_GRACE_S = 20.0


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Run:
    config: SimConfig
    out: Path
    clock: SimClock
    address: str
    satellites: list[SatelliteFiles] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)

    @property
    def store(self) -> Path:
        return self.out / "ground" / "ground.sqlite"

    @property
    def keys_dir(self) -> Path:
        return self.out / "keys"

    def mission(self) -> Mission:
        return Mission(self.config, self.clock, self.store, lambda: self.satellites, self.out, self.out / "report")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        bind = f"{bind[:-2]}:{_free_port()}"
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


def _spawn(run: Run, name: str, command: str, config: Path) -> Process:
    log_path = run.out / "logs" / f"{name}.log"
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "ab") as sink:
        popen = subprocess.Popen([sys.executable, "-m", "satedge.cli", command, "--config", str(config),
                                  "--log-format", "json"],
                                 stdout=sink, stderr=subprocess.STDOUT, cwd=run.out,
                                 start_new_session=True)  # Ctrl-C reaches us only; we stop them in order
    return Process(name, popen, log_path)


def launch(run: Run) -> None:
    run.processes.append(_spawn(run, "ground", "ground", run.out / "ground" / "ground.toml"))
    for sat in run.satellites:
        run.processes.append(_spawn(run, f"{sat.id}-onboard", "onboard", sat.dir / "onboard.toml"))
        run.processes.append(_spawn(run, f"{sat.id}-camera", "camera", sat.dir / "camera.toml"))


def stop(run: Run) -> dict[str, int | None]:
    """SIGTERM in reverse order of data flow (camera, satellite, ground); SIGKILL after a grace period."""
    for proc in reversed(run.processes):
        if proc.alive():
            proc.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    codes = {}
    for proc in reversed(run.processes):
        try:
            codes[proc.name] = proc.popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            codes[proc.name] = proc.popen.wait()
            event(log, "process killed after the grace period", level=logging.WARNING, process=proc.name)
    return codes


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
