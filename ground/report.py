"""`satedge report --db FILE --out DIR`: what a ground store holds, as JSON, GeoJSON and plots.

`write_report(db_path, out_dir)` is also what a simulation calls at its end.
Everything is read from the store, so a report can be made from a copy of it
while the station is still running.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from satedge import protocol, readonly
from satedge.errors import UserError
from satedge.logs import event
from satedge.protocol import ACQ_MAX, ACQ_MIN, FrameError, post_only_rows, validate_summary
from satedge.vocabulary import CLASS_NAMES, basis, iso

log = logging.getLogger("ground.report")

PERCENTILES = {"p50": 50, "p95": 95, "max": 100}

# What the report is made of: JSON documents (report.json, the GeoJSON features, stored summaries).
Json = dict[str, Any]


# The summary body's out-of-distribution flag (docs/protocol.md, onboard/guard.py): the map marks the scenes
# it flags, the report lists them, each building in the GeoJSON carries it.
OOD_KEY = protocol.OOD_KEY

# The summary body's reference coverage (docs/protocol.md, "Reference coverage"): how much of the scene had a
# pre-event view (`cov`, absent from an older satellite: all of it) and which listed buildings were graded from
# the post image alone (`po`). The report totals them, each scene and building carries them.
COVERAGE_KEY = protocol.COVERAGE_KEY
FULL_COVERAGE = 100


def coverage(body: Json) -> int:
    """Percent of the scene the pre-event reference covered (a satellite older than `cov` always had it all)."""
    return int(body.get(COVERAGE_KEY, FULL_COVERAGE))


def _reference(body: Json) -> Json:
    """A scene's coverage, its listed buildings, and how many of them were graded post-only."""
    return {"coverage": coverage(body), "listed": len(body["b"]), "post_only": sum(post_only_rows(body))}


def summaries(db: sqlite3.Connection, after: int = 0, body: bool = True, log_bad: bool = True) -> list[Json]:
    """Stored summaries in order of storage (`rowid`, which only grows), those after `after` only.

    Only rows that keep to the protocol: one that does not (stored by a version that did not check ranges,
    or edited by hand) is left out and, unless `log_bad` is False (a page that re-reads every second), logged;
    never a crash.
    """
    rows = db.execute("SELECT rowid, satellite, seq, prio, scene, acq, received, win, bytes, raw, model, prec, body"
                      " FROM summaries WHERE rowid > ? ORDER BY rowid", (after,)).fetchall()
    good = []
    for r in rows:
        try:
            parsed = json.loads(r["body"])
            validate_summary({"seq": r["seq"], "prio": r["prio"], "body": parsed})
            if not ACQ_MIN <= r["received"] <= ACQ_MAX:
                raise FrameError("range", "received")
        except (ValueError, TypeError, KeyError) as exc:   # FrameError is a ValueError
            if log_bad:
                event(log, "stored summary left out of the report", logging.WARNING, satellite=r["satellite"],
                      seq=r["seq"], reason=str(exc))
            continue
        row = dict(r)
        if body:
            row["body"] = parsed
        else:
            del row["body"]
        good.append(row)
    return good


def _latency(summaries: list[Json]) -> Json:
    by_prio: defaultdict[int, list[float]] = defaultdict(list)
    for s in summaries:
        by_prio[s["prio"]].append(s["received"] - s["acq"])
    return {str(p): {"count": len(v), **{k: round(float(np.percentile(v, q)), 3) for k, q in PERCENTILES.items()}}
            for p, v in sorted(by_prio.items())}


def passes(db: sqlite3.Connection, summaries: list[Json]) -> list[Json]:
    """Every window: its link totals, what its summaries stood for, and their latency."""
    link: defaultdict[int, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in db.execute("SELECT * FROM passes"):
        for key in ("bytes_granted", "bytes_received", "frames", "duplicates"):
            link[r["win"]][key] += r[key]
        link[r["win"]]["satellites"] += 1
    sent: defaultdict[int, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    latency: defaultdict[int, list[float]] = defaultdict(list)
    for s in summaries:
        latency[s["win"]].append(s["received"] - s["acq"])
        sent[s["win"]]["summaries"] += 1
        sent[s["win"]]["summary_bytes"] += s["bytes"]
        sent[s["win"]]["raw_bytes"] += s["raw"]
        sent[s["win"]][f"prio_{s['prio']}"] += 1
    out = []
    for w in db.execute("SELECT win, start, end FROM windows ORDER BY start"):
        entry = {"win": w["win"], "start": w["start"], "end": w["end"], "start_utc": iso(w["start"]),
                 "duration_s": round(w["end"] - w["start"], 3), "bytes_granted": 0, "bytes_received": 0,
                 "frames": 0, "duplicates": 0, "summaries": 0, "summary_bytes": 0, "raw_bytes": 0}
        entry.update(link.get(w["win"], {}))
        entry.update(sent.get(w["win"], {}))
        waited = latency.get(w["win"])
        entry["latency_s"] = {k: round(float(np.percentile(waited, q)), 3) for k, q in PERCENTILES.items()} \
            if waited else None
        out.append(entry)
    return out


def commands(db: sqlite3.Connection) -> list[Json]:
    """Every queued command, each with every satellite's record of it."""
    commands = []
    for c in db.execute("SELECT * FROM commands ORDER BY id").fetchall():
        results = [{"satellite": r["satellite"], "sent": r["sent"], "first_sent_utc": iso(r["first_sent"]),
                    "ok": None if r["ok"] is None else bool(r["ok"]), "detail": r["detail"],
                    "answered_utc": iso(r["answered"])}
                   for r in db.execute("SELECT * FROM command_results WHERE cmd_id = ? ORDER BY satellite",
                                       (c["id"],))]
        commands.append({"id": c["id"], "name": c["name"], "args": json.loads(c["args"]),
                         "target": c["target"], "queued_wall_utc": iso(c["queued"]), "results": results})
    return commands


def buildings(summaries: list[Json]) -> list[Json]:
    """One GeoJSON Point per reported building: centroid = bbox corner + micro-degree offsets."""
    features = []
    for s in summaries:
        lon0, lat0 = s["body"]["bbox"][:2]
        scene_coverage = coverage(s["body"])
        for (dlon, dlat, cls, area, conf), post_only in zip(s["body"]["b"], post_only_rows(s["body"])):
            features.append({
                "type": "Feature",
                "geometry": {"type": "Point",
                             "coordinates": [round(lon0 + dlon * 1e-6, 7), round(lat0 + dlat * 1e-6, 7)]},
                "properties": {"class": CLASS_NAMES[cls - 1], "cls": cls, "area_m2": area, "confidence": conf,
                               "scene": s["scene"], "satellite": s["satellite"], "seq": s["seq"],
                               "acquired": iso(s["acq"]), "received": iso(s["received"]),
                               "latency_s": round(s["received"] - s["acq"], 3),
                               "ood": s["body"].get(OOD_KEY, []),
                               "basis": basis(post_only), "coverage": scene_coverage}})
    return features


def out_of_distribution(summaries: list[Json]) -> list[Json]:
    """The scenes the satellite's guard flagged: their buildings are unreliable and their list is capped."""
    return [{"satellite": s["satellite"], "seq": s["seq"], "scene": s["scene"], "ood": s["body"][OOD_KEY],
             "buildings": sum(s["body"]["n"]), "listed": len(s["body"]["b"])}
            for s in summaries if s["body"].get(OOD_KEY)]


def reference_coverage(summaries: list[Json]) -> Json:
    """How much the pre-event reference saw: scenes by coverage, listed buildings by basis, and every scene it
    did not see whole (their buildings graded post-only had no before to compare with: less certain)."""
    seen = [{"satellite": s["satellite"], "seq": s["seq"], "scene": s["scene"], "buildings": sum(s["body"]["n"]),
             **_reference(s["body"])} for s in summaries]
    post_only = sum(r["post_only"] for r in seen)
    return {"scenes_full": sum(r["coverage"] == FULL_COVERAGE for r in seen),
            "scenes_partial": sum(0 < r["coverage"] < FULL_COVERAGE for r in seen),
            "scenes_none": sum(r["coverage"] == 0 for r in seen),
            "buildings_pre_post": sum(r["listed"] for r in seen) - post_only,
            "buildings_post_only": post_only,
            # `cov` is rounded: a scene at 100 % may still hold a post-only building on a sliver without a view
            "scenes": [r for r in seen if r["coverage"] < FULL_COVERAGE or r["post_only"]]}


def scenes(summaries: list[Json]) -> list[Json]:
    """One record per summary for the map: the scene's footprint, its counts per class, where it came from,
    how much of it the reference covered and how many of its listed buildings were graded post-only."""
    return [{"scene": s["scene"], "satellite": s["satellite"], "seq": s["seq"], "bbox": s["body"]["bbox"],
             "n": dict(zip(CLASS_NAMES, s["body"]["n"])), "model": s["model"], "prec": s["prec"],
             "acquired": iso(s["acq"]), "received": iso(s["received"]),
             "ood": bool(s["body"].get(OOD_KEY)), **_reference(s["body"])}
            for s in summaries]


def counters(db: sqlite3.Connection) -> dict[str, int]:
    """The station's counters as last flushed."""
    return {r["name"]: r["value"] for r in db.execute("SELECT name, value FROM counters ORDER BY name")}


def build_report(db_path: Path) -> tuple[Json, list[Json], list[Json]]:
    """The report, the stored summaries and the building features, all read in one go from the store."""
    with readonly.reading(db_path, "ground store") as db:
        stored = summaries(db)
        windows = passes(db, stored)
        queued = commands(db)
        counts = counters(db)
    per_sat: defaultdict[str, Json] = defaultdict(
        lambda: {"summaries": 0, "summary_bytes": 0, "raw_bytes": 0, "scenes": []})
    for s in stored:
        entry = per_sat[s["satellite"]]
        entry["summaries"] += 1
        entry["summary_bytes"] += s["bytes"]
        entry["raw_bytes"] += s["raw"]
        entry["scenes"].append(s["scene"])
    for sat, entry in per_sat.items():
        entry["duplicates_dropped"] = counts.get(f"duplicates.{sat}", 0)
    raw = sum(s["raw"] for s in stored)
    summary_bytes = sum(s["bytes"] for s in stored)
    link_bytes = sum(p["bytes_received"] for p in windows)
    features = buildings(stored)
    report = {
        "store": str(db_path),
        "summaries": len(stored),
        "duplicates_dropped": counts.get("duplicates", 0),
        "satellites": dict(sorted(per_sat.items())),
        "scenes": sorted({s["scene"] for s in stored}),
        "buildings": len(features),
        "out_of_distribution": out_of_distribution(stored),
        "reference_coverage": reference_coverage(stored),
        "bytes": {"summaries": summary_bytes, "link_total": link_bytes, "raw_imagery": raw,
                  "raw_per_summary_byte": round(raw / summary_bytes, 1) if summary_bytes else None},
        "passes": windows,
        "latency_s": _latency(stored),
        "commands": queued,
        "counters": counts,
    }
    return report, stored, features


def write_report(db_path: Path, out_dir: Path) -> Json:
    """Write report.json, damage.geojson, report.html (the map, self-contained) and the PNG plots to `out_dir`."""
    from ground import plots
    from ground.console.page import standalone_map

    db_path, out_dir = Path(db_path), Path(out_dir)
    report, summaries, features = build_report(db_path)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out_dir}: {exc.strerror}") from None
    _replace(out_dir / "damage.geojson", json.dumps({"type": "FeatureCollection", "features": features}))
    _replace(out_dir / "report.html", standalone_map(scenes(summaries), features, f"satedge: {db_path.name}"))
    report["plots"] = plots.draw_all(report, summaries, features, out_dir)
    _replace(out_dir / "report.json", json.dumps(report, indent=2))
    return report


def _replace(path: Path, text: str) -> None:
    """Write by rename: the station and mission control may both be writing a report, and a reader
    must never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`satedge report`: from any copy of a store, even one the station is still writing."""
    parser.add_argument("--db", type=Path, required=True, help="the ground store (SQLite file)")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for report.json, damage.geojson, report.html, PNGs")


def run(args: argparse.Namespace) -> int:
    """Write the report and say in one line what it covers."""
    report = write_report(args.db, args.out)
    reference = report["reference_coverage"]
    notes = {"scene(s) flagged out of distribution": len(report["out_of_distribution"]),
             "scene(s) with partial or no pre-event reference": reference["scenes_partial"] + reference["scenes_none"],
             "building(s) graded post-only": reference["buildings_post_only"]}
    print(f"{report['summaries']} summaries from {len(report['satellites'])} satellite(s), "
          f"{report['buildings']} buildings, {len(report['passes'])} windows"
          + "".join(f", {count} {what}" for what, count in notes.items() if count) + f" -> {args.out}")
    return 0
