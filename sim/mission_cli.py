"""`satedge mission ground|satellite|control`: one part of a scenario's run, on a host of its own.

`satedge sim` runs a whole scenario on this machine. Where each process has
its own host (the compose file: a ground container, satellite replicas,
mission control), each runs its part of the same scenario file:

    satedge mission ground --out FILE          the ground station's configuration for the scenario
    satedge mission satellite --dir DIR        stage one satellite's scenes, write its configuration
    satedge mission control --store FILE --satellites DIR --out DIR
                                               start the run's clock, uplink the precision schedule,
                                               wait for the end, write summary.json / summary.md

Paths a container mounts come from its environment (`SATEDGE_<SECTION>_<KEY>`
overrides the generated files' values when the process loads them). The run's
clock starts when mission control writes `clock.start_file`; the ground and
the satellites wait for it (`clock.await_start`), so a slow satellite does
not start the scenario late. Exit status of `control`: 0 if every acquired
scene was delivered and every scheduled command answered, 1 if not.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from satedge import config as satedge_config
from satedge.clock import SimClock, shared_start
from satedge.config import to_toml
from satedge.errors import UserError
from satedge.logs import event
from sim.config import DEFAULT_SCENARIO, SimConfig

START_LEAD_S = 2.0   # wall seconds between writing the start and sim time reaching the epoch


def add_arguments(parser) -> None:
    """One subcommand per part; each takes the scenario file."""
    parts = parser.add_subparsers(dest="part", metavar="PART", required=True)
    ground = parts.add_parser("ground", help="write the ground station's configuration for the scenario")
    ground.add_argument("--out", type=Path, required=True, help="the configuration file to write")
    satellite = parts.add_parser("satellite", help="stage one satellite's scenes and write its configuration")
    satellite.add_argument("--dir", type=Path, required=True,
                           help="the satellites' folder: this one's is DIR/<id>")
    satellite.add_argument("--id", default=None, help="satellite id (default: SATEDGE_SATELLITE_ID, "
                                                      "set by `satedge keys --claim`)")
    control = parts.add_parser("control", help="start the clock, uplink the schedule, summarise the run")
    control.add_argument("--store", type=Path, required=True, help="the ground station's store")
    control.add_argument("--satellites", type=Path, required=True, help="the satellites' folder")
    control.add_argument("--out", type=Path, required=True, help="where summary.json/.md and report/ go")
    control.add_argument("--wait-s", type=float, default=900.0,
                         help="wall seconds to wait for a first prepared satellite (default 900)")
    for p in (ground, satellite, control):
        p.add_argument("--config", type=Path, default=DEFAULT_SCENARIO,
                       help=f"scenario file (default: {DEFAULT_SCENARIO.name}; env SATEDGE_<SECTION>_<KEY>)")


def run(args) -> int:
    """Load the scenario (file, then environment) and run the chosen part."""
    config = satedge_config.load(SimConfig, args.config)
    return {"ground": _ground, "satellite": _satellite, "control": _control}[args.part](config, args)


def _ground(config: SimConfig, args) -> int:
    from sim.roles import ground_sections

    _write(args.out, to_toml(ground_sections(config)))
    print(f"ground configuration for {config.scenario.disaster} written to {args.out}")
    return 0


def _satellite(config: SimConfig, args) -> int:
    from satedge.keys import SAT_ID
    from sim.roles import SatelliteFiles, stage, write_satellite

    sat_id = args.id or os.environ.get("SATEDGE_SATELLITE_ID")
    if not sat_id:
        raise UserError("no satellite id: give --id or run under `satedge keys --claim`")
    if not SAT_ID.match(sat_id) or sat_id in (".", ".."):   # it becomes a folder name
        raise UserError(f"satellite id {sat_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
    if config.clock.epoch is None:
        raise UserError("the scenario's clock.epoch must be set: every satellite stages scenes for it")
    sat = SatelliteFiles(sat_id, args.dir / sat_id)
    try:
        stage(config, sat, config.clock.epoch)
        write_satellite(config, sat)
    except OSError as exc:
        raise UserError(f"cannot prepare {sat.dir}: {exc.strerror or exc}") from None
    print(f"{sat.id} prepared in {sat.dir}")
    return 0


def _control(config: SimConfig, args) -> int:
    import logging

    from sim.mission import Mission, render_summary
    from sim.roles import satellites_in

    log = logging.getLogger("sim.mission")
    if config.clock.start_file is None or config.clock.epoch is None:
        raise UserError("mission control needs clock.start_file and clock.epoch (the run's shared clock)")
    deadline = time.monotonic() + args.wait_s
    while not satellites_in(args.satellites):
        if time.monotonic() > deadline:
            raise UserError(f"no prepared satellite in {args.satellites} after {args.wait_s:.0f} s")
        time.sleep(1.0)
    proposed = time.time() + START_LEAD_S
    start = shared_start(Path(config.clock.start_file), proposed)
    clock = SimClock(config.clock.epoch, start, config.clock.speedup)
    mission = Mission(config, clock, args.store, lambda: satellites_in(args.satellites), args.out,
                      args.out / "report")
    resumed = start != proposed
    if resumed and clock.now() > mission.drain_end() and mission.progress().delivered == 0:
        _mark_over(config, "another run's clock")   # the ground and satellites stop too
        raise UserError(f"{config.clock.start_file} is another run's clock (its drain time ended "
                        f"{(clock.now() - mission.drain_end()) / clock.speedup:.0f} wall seconds ago and "
                        "nothing was delivered): `docker compose down -v` starts a new run")
    event(log, "mission started", satellites=[s.id for s in mission.satellites()], clock_start=start,
          resumed=resumed)
    stopping: list[str] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("stopped (SIGTERM) before the end"))
    try:
        reason = mission.conduct(lambda line: event(log, line),
                                 stopped=lambda: stopping[0] if stopping else None)
    except KeyboardInterrupt:
        reason = "interrupted (Ctrl-C)"
    summary = mission.finish(reason)
    if not stopping:   # over, not interrupted: the others stop too
        _mark_over(config, reason)
    sys.stdout.write(render_summary(summary))
    return 0 if summary["met"] else 1


def _mark_over(config: SimConfig, reason: str) -> None:
    if config.clock.end_file is not None:
        _write(Path(config.clock.end_file), reason + "\n")


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
