"""Mission control: conducts a scenario's run and says what it measured, wherever its processes run.

It needs only files: the ground store, the satellites' folders (`sim.roles`)
and the scenario. `satedge sim` uses it beside the processes it launched;
`satedge mission control` uses it in its own container, on the volumes the
ground and the satellites write. It uplinks the precision schedule (a step
for orbit k is queued when orbit k-1 begins, so it reaches the satellite in
orbit k-1's contact window, after that orbit's scenes and before orbit k's;
each step is queued once, under its own key, even if mission control
restarts), watches progress, decides when the run is over and writes
`summary.json` / `summary.md`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ground import store as ground_store
from onboard.spool import spooled_count
from satedge.clock import SimClock
from satedge.logs import event
from satedge.processes import read_events
from sim.config import SimConfig
from sim.roles import SatelliteFiles

log = logging.getLogger("sim.mission")

ALL_DELIVERED = "every acquired scene delivered"


@dataclass(frozen=True)
class Progress:
    """Where a run stands, counted from files: scenes expected, acquired, stored, still spooled."""

    expected: int
    acquired: int
    delivered: int
    spooled: int
    commands_pending: int


@dataclass
class Mission:
    """One scenario's run, seen through its files; `satellites` is looked up each time it is needed."""

    config: SimConfig
    clock: SimClock
    store: Path
    satellites: Callable[[], list[SatelliteFiles]]   # looked up each time: a constellation may grow
    out: Path
    report_dir: Path
    queued: set[int] = field(default_factory=set)   # schedule steps known to be in the store

    # ---- what the scenario says ------------------------------------------------

    def scenes_per_satellite(self) -> int:
        """Every satellite acquires a strip of scenes on each orbit."""
        return self.config.scenario.orbits * self.config.scenario.scenes_per_orbit

    def drain_end(self) -> float:
        """Sim time by which the last scene must have reached the ground."""
        s = self.config.scenario
        last = s.acquisition_time(self.clock.epoch, s.orbits, s.scenes_per_orbit - 1)
        return last + (max(s.drain_orbits, 0) + 1) * s.orbit_period_s

    # ---- the uplink schedule -------------------------------------------------------

    def uplink_due_steps(self) -> int:
        """Queue every precision step whose time has come; return how many steps are queued in all."""
        s = self.config.scenario
        due = [(i, step) for i, step in enumerate(self.config.precision_schedule)
               if self.clock.now() >= self.clock.epoch + (step.orbit - 2) * s.orbit_period_s]
        fresh = [(i, step) for i, step in due if i not in self.queued]
        if not fresh:
            return len(due)
        db = ground_store.connect(self.store)
        try:
            for i, step in fresh:
                cmd_id = ground_store.queue_command(db, "set_precision", {"precision": step.precision},
                                                    key=f"precision_schedule.{i}")
                if cmd_id is not None:
                    event(log, "precision command queued", id=cmd_id, precision=step.precision,
                          for_orbit=step.orbit)
                self.queued.add(i)
        finally:
            db.close()
        return len(due)

    # ---- progress ------------------------------------------------------------------

    def progress(self) -> Progress:
        """Counts from the staging folders, the ground store and the spools, now."""
        sats = self.satellites()
        expected = self.scenes_per_satellite() * len(sats)
        staged = sum(1 for sat in sats for _ in (sat.staging / "geotiff").glob("*_post_disaster.tif"))
        return Progress(expected=expected, acquired=expected - staged,
                        delivered=ground_store.delivered_scenes(self.store),
                        spooled=sum(spooled_count(sat.spool) for sat in sats),
                        commands_pending=ground_store.unanswered_commands(self.store))

    def conduct(self, status: Callable[[str], None], stopped: Callable[[], str | None] = lambda: None,
                duration: float | None = None) -> str:
        """Uplink the schedule and watch the run; return why it ended.

        It ends when every scene is delivered, the drain time is over, `duration`
        (sim seconds) has passed, or `stopped()` gives a reason.
        """
        s = self.config.scenario
        end = self.clock.epoch + duration if duration is not None else self.drain_end()
        interval = self.config.log.status_interval_s
        while True:
            queued = self.uplink_due_steps()
            now = self.clock.now()
            p = self.progress()
            status(f"sim {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(now))}  "
                   f"orbit {min(s.orbits, int((now - self.clock.epoch) // s.orbit_period_s) + 1)}/{s.orbits}  "
                   f"acquired {p.acquired}/{p.expected}  delivered {p.delivered}  spooled {p.spooled}")
            reason = stopped()
            if reason:
                return reason
            if (p.expected and p.delivered >= p.expected and queued == len(self.config.precision_schedule)
                    and p.commands_pending == 0):
                return ALL_DELIVERED
            if now >= end:
                return "duration reached" if duration is not None else "drain time over"
            time.sleep(interval)

    # ---- the summary ----------------------------------------------------------------

    def precision_stats(self) -> dict:
        """Per precision, from the daemons' events: scenes, tiles, tiles per second of scene processing, swaps."""
        stats: dict[str, dict] = {}

        def entry(prec: str) -> dict:
            return stats.setdefault(prec, {"scenes": 0, "tiles": 0, "ms": 0, "swaps_s": []})

        for sat in self.satellites():
            for e in read_events(sat.events):
                if e.get("msg") == "scene summarised":
                    row = entry(e["prec"])
                    row["scenes"] += 1
                    row["tiles"] += e["tiles"]
                    row["ms"] += e["ms"]
                elif e.get("msg") == "command done" and e.get("swapped_to"):
                    entry(e["swapped_to"])["swaps_s"].append(e["swap_s"])
        for row in stats.values():
            ms = row.pop("ms")
            row["tiles_per_s"] = round(row["tiles"] / (ms / 1000), 2) if row["tiles"] and ms else None
        return stats

    def finish(self, reason: str, exit_codes: dict | None = None) -> dict:
        """The ground report plus the run summary (summary.json, summary.md); returns the summary."""
        from ground.report import write_report
        from sim.score import score

        sats = self.satellites()
        report = write_report(self.store, self.report_dir) if self.store.exists() else {}
        summaries = ground_store.stored_summaries(self.store) if self.store.exists() else []
        keys_seen = [(s["satellite"], s["body"]["scene"]) for s in summaries]
        precisions = self.precision_stats()
        p = self.progress()
        raw = report.get("bytes", {}).get("raw_imagery", 0)
        sent = report.get("bytes", {}).get("summaries", 0)
        truth = {sat.id: sat.truth / "labels" for sat in sats}
        summary = {
            "ended": reason,
            "met": reason == ALL_DELIVERED,
            "out": str(self.out),
            "satellites": [sat.id for sat in sats],
            "scenes_expected": p.expected,
            "scenes_acquired": p.acquired,
            "summaries_delivered": len(summaries),
            "scenes_delivered_once": len(set(keys_seen)) == len(keys_seen),
            "left_in_spools": p.spooled,
            "duplicates_dropped_by_ground": report.get("duplicates_dropped", 0),
            "bytes_downlinked": sent,
            "raw_imagery_bytes": raw,
            "raw_per_downlinked_byte": round(raw / sent, 1) if sent else None,
            "latency_s": report.get("latency_s", {}),
            "precisions": precisions,
            "swaps": sum(len(row["swaps_s"]) for row in precisions.values()),
            "commands": report.get("commands", []),
            "score_of_downlinked": score([s for s in summaries if s["satellite"] in truth], truth,
                                         self.config.postprocess.min_class) if summaries else {},
            "exit_codes": exit_codes or {},
            "report": str(self.report_dir),
        }
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2))
        (self.out / "summary.md").write_text(render_summary(summary))
        return summary


def render_summary(s: dict) -> str:
    """The summary as the Markdown `satedge sim` prints and writes to summary.md."""
    lines = ["# Simulation summary", "", f"Ended: {s['ended']}.", "",
             "| | |", "| --- | --- |",
             f"| satellites | {len(s['satellites'])} ({', '.join(s['satellites'])}) |",
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
    if s["commands"]:
        lines += ["", "Commands uplinked:", "", "| id | command | satellite | answer |", "| --- | --- | --- | --- |"]
        for c in s["commands"]:
            for r in c.get("results") or [{"satellite": "-", "detail": "not sent yet"}]:
                lines.append(f"| {c['id']} | {c['name']} {json.dumps(c['args'])} | {r.get('satellite')} | "
                             f"{r.get('detail') or 'no answer yet'} |")
    lines += ["", f"Report, GeoJSON and plots: {s['report']}", ""]
    return "\n".join(lines)
