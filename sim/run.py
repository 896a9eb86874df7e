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

import json
import logging
import signal
import socket
import sqlite3
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
from sim.camera import acquisition_time
from sim.config import SimConfig

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
class Satellite:
    id: str
    dir: Path

    @property
    def spool(self) -> Path:
        return self.dir / "spool.sqlite"

    @property
    def truth(self) -> Path:
        return self.dir / "truth"


@dataclass
class Run:
    config: SimConfig
    out: Path
    clock: SimClock
    address: str
    satellites: list[Satellite] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)

    @property
    def store(self) -> Path:
        return self.out / "ground" / "ground.sqlite"

    @property
    def keys_dir(self) -> Path:
        return self.out / "keys"

    def scenes_expected(self) -> int:
        s = self.config.scenario
        return s.orbits * s.scenes_per_orbit * len(self.satellites)

    def last_acquisition(self) -> float:
        s = self.config.scenario
        return acquisition_time(s, self.clock.epoch, s.orbits, s.scenes_per_orbit - 1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sections(config: SimConfig, *names: str) -> dict:
    effective = config.effective()
    return {name: dict(effective[name]) for name in names}


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
    # The clock starts once every scene is prepared, so the first pass is not already late.
    run = Run(config, out, SimClock(epoch, time.time()), address)
    run.satellites = [Satellite(f"sat-{i}", out / f"sat-{i}") for i in range(1, config.scenario.satellites + 1)]
    if config.security.mode == "curve":
        keys.make(run.keys_dir, [sat.id for sat in run.satellites])

    common = _sections(config, "security", "log")
    common["security"]["keys_dir"] = str(run.keys_dir)
    ground = {**common, **_sections(config, "station", "link"), "store": {"path": str(run.store)}}
    ground["station"]["bind"] = bind
    (out / "ground").mkdir()
    _write(out / "ground" / "ground.toml", ground)

    from sim import camera
    from sim.config import CameraConfig, CameraSection
    from onboard.config import IngestSection

    for i, sat in enumerate(run.satellites):
        sat.dir.mkdir()
        scenario = config.scenario.model_copy(update={"seed": config.scenario.seed + i,
                                                      "satellites": 1})
        ingest = {"inbox": str(sat.dir / "inbox"), "reference": str(sat.dir / "reference.tif")}
        camera.prepare(CameraConfig(clock=config.clock, scenario=scenario, ingest=IngestSection(**ingest),
                                    camera=CameraSection(staging=sat.dir / "staging", truth=sat.truth)), epoch)
        onboard = {**common, **_sections(config, "model", "postprocess", "spool"),
                   "satellite": {"id": sat.id}, "ground": {"address": address}, "ingest": ingest}
        onboard["model"]["cache_dir"] = str(out / "ov-cache")
        onboard["spool"]["path"] = str(sat.spool)
        _write(sat.dir / "onboard.toml", onboard)
        _write(sat.dir / "camera.toml", {"scenario": scenario.model_dump(mode="json"), "ingest": ingest,
                                         "camera": {"staging": str(sat.dir / "staging"),
                                                    "truth": str(sat.truth)},
                                         "log": common["log"]})
    run.clock = SimClock(epoch, time.time() + 3.0, config.clock.speedup)  # 3 s for the processes to start
    clock = {"epoch": run.clock.epoch, "start": run.clock.start, "speedup": run.clock.speedup}
    for path in [out / "ground" / "ground.toml"] + [p for sat in run.satellites
                                                   for p in (sat.dir / "onboard.toml", sat.dir / "camera.toml")]:
        path.write_text(to_toml({"clock": clock}) + path.read_text())
    return run


def _write(path: Path, sections: dict) -> None:
    path.write_text(to_toml(sections))


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


def _query(path: Path, sql: str, default):
    if not path.exists():
        return default
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0) as db:
            return db.execute(sql).fetchall()
    except sqlite3.Error:
        return default


def delivered(run: Run) -> int:
    rows = _query(run.store, "SELECT COUNT(DISTINCT satellite || '/' || scene) FROM summaries", [(0,)])
    return rows[0][0]


def left_in_spools(run: Run) -> int:
    total = 0
    for sat in run.satellites:
        rows = _query(sat.spool, "SELECT COUNT(*) FROM summaries", [(0,)])
        total += rows[0][0]
    return total


def acquired(run: Run) -> int:
    """Scenes the camera has moved from staging into an inbox."""
    staged = sum(1 for sat in run.satellites for _ in (sat.dir / "staging" / "geotiff").glob("*_post_disaster.tif"))
    return run.scenes_expected() - staged


def queue_due_commands(run: Run, queued: set[int]) -> None:
    from ground.command import UPLINKS
    from ground.store import connect, queue_command

    s = run.config.scenario
    for i, step in enumerate(run.config.precision_schedule):
        due = run.clock.epoch + (step.orbit - 2) * s.orbit_period_s
        if i in queued or run.clock.now() < due:
            continue
        db = connect(run.store)
        try:
            cmd_id = queue_command(db, UPLINKS["set-precision"].name, {"precision": step.precision})
        finally:
            db.close()
        queued.add(i)
        event(log, "precision command queued", id=cmd_id, precision=step.precision, for_orbit=step.orbit)


def supervise(run: Run, duration: float | None, status) -> str:
    """Run until every scene is delivered, the drain time is over, or `duration`; say why it ended."""
    s = run.config.scenario
    drain_end = run.last_acquisition() + max(s.drain_orbits, 0) * s.orbit_period_s + s.orbit_period_s
    end = run.clock.epoch + duration if duration is not None else drain_end
    queued: set[int] = set()
    interval = run.config.log.status_interval_s
    while True:
        queue_due_commands(run, queued)
        now = run.clock.now()
        got = delivered(run)
        status(f"sim {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(now))}  "
               f"orbit {min(s.orbits, int((now - run.clock.epoch) // s.orbit_period_s) + 1)}/{s.orbits}  "
               f"acquired {acquired(run)}/{run.scenes_expected()}  delivered {got}  "
               f"spooled {left_in_spools(run)}")
        dead = [p.name for p in run.processes if not p.alive() and not p.name.endswith("-camera")]
        if dead:
            return f"process {', '.join(dead)} exited early (see {run.out / 'logs'})"
        if got >= run.scenes_expected() and len(queued) == len(run.config.precision_schedule) \
                and _commands_answered(run):
            return "every acquired scene delivered"
        if now >= end:
            return "duration reached" if duration is not None else "drain time over"
        time.sleep(interval)


def _commands_answered(run: Run) -> bool:
    rows = _query(run.store, "SELECT COUNT(*) FROM commands c WHERE NOT EXISTS (SELECT 1 FROM command_results r "
                             "WHERE r.cmd_id = c.id AND r.ok IS NOT NULL)", [(1,)])
    return rows[0][0] == 0


def _log_events(path: Path, message: str) -> list[dict]:
    events = []
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            if message in line:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("msg") == message:
                    events.append(record)
    return events


def _stored_summaries(run: Run) -> list[dict]:
    rows = _query(run.store, "SELECT satellite, seq, body FROM summaries ORDER BY received", [])
    return [{"satellite": sat, "seq": seq, "body": json.loads(body)} for sat, seq, body in rows]


def compute_precision_stats(run: Run) -> dict:
    """Per precision, from the daemons' logs: scenes, tiles, tiles per second of scene processing, swaps."""
    stats: dict[str, dict] = {}
    for sat in run.satellites:
        logfile = run.out / "logs" / f"{sat.id}-onboard.log"
        for e in _log_events(logfile, "scene summarised"):
            entry = stats.setdefault(e["prec"], {"scenes": 0, "tiles": 0, "ms": 0, "swaps_s": []})
            entry["scenes"] += 1
            entry["tiles"] += e["tiles"]
            entry["ms"] += e["ms"]
        for e in _log_events(logfile, "command done"):
            if e.get("name") == "set_precision" and e.get("ok") and "serving" in e.get("detail", "") \
                    and "already" not in e["detail"]:
                prec = e["detail"].split()[1]
                stats.setdefault(prec, {"scenes": 0, "tiles": 0, "ms": 0, "swaps_s": []})["swaps_s"].append(e["s"])
    for entry in stats.values():
        entry["tiles_per_s"] = round(entry["tiles"] / (entry.pop("ms") / 1000), 2) if entry["tiles"] else None
    return stats


def finish(run: Run, reason: str, exit_codes: dict) -> dict:
    """The ground report plus the run summary (summary.json, summary.md); returns the summary."""
    from ground.report import write_report
    from sim.score import score

    report_dir = run.out / "report"
    report = write_report(run.store, report_dir) if run.store.exists() else {}
    summaries = _stored_summaries(run)
    keys_seen = [(s["satellite"], s["body"]["scene"]) for s in summaries]
    precisions = compute_precision_stats(run)
    raw = report.get("bytes", {}).get("raw_imagery", 0)
    sent = report.get("bytes", {}).get("summaries", 0)
    summary = {
        "ended": reason,
        "out": str(run.out),
        "scenes_expected": run.scenes_expected(),
        "scenes_acquired": acquired(run),
        "summaries_delivered": len(summaries),
        "scenes_delivered_once": len(set(keys_seen)) == len(keys_seen),
        "left_in_spools": left_in_spools(run),
        "duplicates_dropped_by_ground": report.get("duplicates_dropped", 0),
        "bytes_downlinked": sent,
        "raw_imagery_bytes": raw,
        "raw_per_downlinked_byte": round(raw / sent, 1) if sent else None,
        "latency_s": report.get("latency_s", {}),
        "precisions": precisions,
        "swaps": sum(len(p["swaps_s"]) for p in precisions.values()),
        "score_of_downlinked": score(summaries, {sat.id: sat.truth / "labels" for sat in run.satellites},
                                     run.config.postprocess.min_class) if summaries else {},
        "exit_codes": exit_codes,
        "report": str(report_dir),
    }
    (run.out / "summary.json").write_text(json.dumps(summary, indent=2))
    (run.out / "summary.md").write_text(render_summary(summary))
    return summary


def render_summary(s: dict) -> str:
    lines = [f"# Simulation summary", "", f"Ended: {s['ended']}.", "",
             "| | |", "| --- | --- |",
             f"| scenes acquired | {s['scenes_acquired']} of {s['scenes_expected']} |",
             f"| summaries delivered | {s['summaries_delivered']} (each scene once: {s['scenes_delivered_once']}) |",
             f"| left in the spools | {s['left_in_spools']} |",
             f"| bytes downlinked | {s['bytes_downlinked']:,} |",
             f"| raw imagery they stand for | {s['raw_imagery_bytes']:,} bytes "
             f"({s['raw_per_downlinked_byte']}x more) |",
             f"| precision swaps at runtime | {s['swaps']} |", "",
             "| precision | scenes | tiles | tiles/s (scene processing) | swap to it (s) | damage F1 downlinked |",
             "| --- | --- | --- | --- | --- | --- |"]
    for prec, p in sorted(s["precisions"].items()):
        f1 = s["score_of_downlinked"].get(prec, {}).get("damage_f1")
        lines.append(f"| {prec} | {p['scenes']} | {p['tiles']} | {p['tiles_per_s']} | "
                     f"{', '.join(f'{x:.2f}' for x in p['swaps_s']) or '-'} | {f1} |")
    lines += ["", "Latency from acquisition to reception (simulated seconds), per priority:", "",
              "| priority | n | p50 | p95 | max |", "| --- | --- | --- | --- | --- |"]
    for prio, lat in sorted(s["latency_s"].items()):
        if isinstance(lat, dict):
            lines.append(f"| {prio} | {lat.get('count')} | {lat.get('p50')} | {lat.get('p95')} | {lat.get('max')} |")
    lines += ["", f"Report, GeoJSON and plots: {s['report']}", ""]
    return "\n".join(lines)


def simulate(config: SimConfig, out: Path, duration: float | None = None, status=None) -> dict:
    """Prepare, launch, supervise, stop and summarise one run; Ctrl-C still writes the report."""
    status = status or (lambda line: event(log, line))
    run = prepare(config, out)
    event(log, "run prepared", out=str(out), scenes=run.scenes_expected(), address=run.address)
    launch(run)
    try:
        reason = supervise(run, duration, status)
    except KeyboardInterrupt:
        reason = "interrupted (Ctrl-C)"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan the processes
    codes = stop(run)
    return finish(run, reason, codes)
