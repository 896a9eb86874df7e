"""`satedge report`: numbers computed from a real store, GeoJSON coordinates, real PNGs."""

from __future__ import annotations

import json
import sqlite3

import pytest
from PIL import Image

from ground.report import write_report
from ground.store import Store, command_results, connect, queue_command, stored_summaries
from satedge.errors import UserError
from satedge.protocol import (
    POST_ONLY_KEY,
    SAT_TO_GROUND,
    decode,
    encode,
    post_only_bitmap,
    post_only_rows,
    validate_body,
)
from satedge.vocabulary import POST_ONLY, PRE_POST
from tests.conftest import run_cli

T0 = 1_700_000_000.0


def body(scene: str, acq: float, b: list, raw: int = 4_000_000) -> dict:
    return {"scene": scene, "acq": acq, "bbox": [30.5, 50.25, 30.51, 50.26], "model": "tiny", "prec": "int8",
            "raw": raw, "n": [3, 0, 0, len(b)], "b": b}


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "ground.sqlite"
    store = Store(path)
    store.window(1, T0, T0 + 480)
    store.window(2, T0 + 5400, T0 + 5880)
    rows = [dict(satellite="sat-1", seq=i, prio=0 if i <= 4 else 2, received=T0 + 100 + i,
                 win=1 if i <= 6 else 2, bytes=200 + i,
                 body=body(f"s{i}", T0 + 100 + i - 60 * i, [[1_500, 2_500, 4, 120, 90], [100, 0, 2, 40, 70]]))
            for i in range(1, 11)]
    assert store.add_summaries(rows) == [True] * 10
    assert store.add_summaries(rows[:2]) == [False, False]  # duplicates are not stored twice
    store.add_pass(1, "sat-1", bytes_granted=576000, bytes_received=1500, frames=8, summaries=6)
    store.add_pass(2, "sat-1", bytes_granted=576000, bytes_received=900, frames=4, summaries=4)
    store.add_counters({"duplicates": 2, "duplicates.sat-1": 2, "drop_malformed": 1})
    db = connect(path)
    cmd = queue_command(db, "set_precision", {"precision": "fp32"})
    db.close()
    store.command_sent(cmd, "sat-1", T0 + 10)
    store.command_result(cmd, "sat-1", True, "fp32 serving", T0 + 20)
    store.close()
    return path


def test_report_numbers_geojson_and_plots(store_path, tmp_path):
    out = tmp_path / "report"
    before = store_path.read_bytes()
    report = write_report(store_path, out)
    assert store_path.read_bytes() == before       # read through a read-only connection
    assert json.loads((out / "report.json").read_text()) == report
    assert report["summaries"] == 10 and report["duplicates_dropped"] == 2
    assert report["satellites"]["sat-1"]["duplicates_dropped"] == 2
    assert report["scenes"] == sorted(f"s{i}" for i in range(1, 11))
    assert report["bytes"]["summaries"] == sum(200 + i for i in range(1, 11))
    assert report["bytes"]["raw_imagery"] == 40_000_000
    assert report["bytes"]["link_total"] == 2400
    passes = {p["win"]: p for p in report["passes"]}
    assert passes[1]["summaries"] == 6 and passes[2]["summaries"] == 4
    assert passes[1]["raw_bytes"] == 24_000_000 and passes[1]["bytes_granted"] == 576000
    assert passes[1]["latency_s"] == {"p50": 210.0, "p95": 345.0, "max": 360.0}   # i = 1..6: 60 * i
    # latency = received - acq = 60 * i: prio 0 holds i = 1..4 (linear p95: 180 + 0.85 * 60)
    assert report["latency_s"]["0"] == {"count": 4, "p50": 150.0, "p95": 231.0, "max": 240.0}
    assert report["latency_s"]["2"]["max"] == 600.0 and report["latency_s"]["2"]["p50"] == 450.0
    assert report["commands"][0]["results"][0]["ok"] is True
    assert report["commands"][0]["results"][0]["detail"] == "fp32 serving"

    geo = json.loads((out / "damage.geojson").read_text())
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 20
    first = geo["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [30.5015, 50.2525]}
    assert first["properties"]["class"] == "destroyed" and first["properties"]["area_m2"] == 120
    assert first["properties"]["scene"] == "s1" and first["properties"]["satellite"] == "sat-1"
    assert first["properties"]["latency_s"] == 60.0

    page = (out / "report.html").read_text()
    assert "<script src" not in page and "<link" not in page and "L.map(" in page   # Leaflet and the map inlined
    inlined = page.split('<script id="data" type="application/json">')[1].split("</script>")[0]
    data = json.loads(inlined.replace("<\\/", "</"))
    assert data["buildings"] == geo["features"] and len(data["scenes"]) == 10
    assert data["scenes"][0]["bbox"] == [30.5, 50.25, 30.51, 50.26] and data["scenes"][0]["ood"] is False
    assert data["scenes"][0]["n"] == {"no-damage": 3, "minor-damage": 0, "major-damage": 0, "destroyed": 2}

    for name in report["plots"]:
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.size[0] > 300
    assert set(report["plots"]) == {"latency.png", "bytes_per_pass.png", "timeline.png", "damage_map.png"}


def test_report_of_an_empty_store_still_writes_everything(tmp_path):
    Store(tmp_path / "empty.sqlite").close()
    report = write_report(tmp_path / "empty.sqlite", tmp_path / "out")
    assert report["summaries"] == 0 and report["latency_s"] == {}
    assert all((tmp_path / "out" / name).is_file() for name in report["plots"])


def test_report_cli(store_path, tmp_path):
    done = run_cli("report", "--db", str(store_path), "--out", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    assert "10 summaries" in done.stdout
    missing = run_cli("report", "--db", str(tmp_path / "nope.sqlite"), "--out", str(tmp_path / "r2"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "no ground store" in missing.stderr


def test_missing_store_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no ground store"):
        write_report(tmp_path / "missing.sqlite", tmp_path / "out")


def test_a_duplicate_answer_never_hides_the_real_result(tmp_path):
    store = Store(tmp_path / "g.sqlite")
    db = connect(tmp_path / "g.sqlite")
    first, second = (queue_command(db, "set_min_class", {"cls": c}) for c in (3, 4))
    db.close()
    assert second > first
    store.command_result(first, "sat-1", True, "min class 3", T0)
    store.command_result(first, "sat-1", True, "duplicate", T0 + 1)      # a re-sent command's answer
    store.command_result(second, "sat-1", True, "duplicate", T0)         # the real answer was lost...
    store.command_result(second, "sat-1", True, "min class 4", T0 + 2)   # ...and comes with a re-send
    assert not store.command_result(99, "sat-1", True, "what?", T0)
    assert [(r["cmd_id"], r["detail"]) for r in command_results(store.path)] == [
        (first, "min class 3"), (second, "min class 4")]
    assert store.pending_commands("sat-1") == [] and len(store.pending_commands("sat-2")) == 2
    store.close()


def test_command_ids_are_never_reused(tmp_path):
    db = connect(tmp_path / "g.sqlite")
    first = queue_command(db, "set_min_class", {"cls": 2})
    db.execute("DELETE FROM commands WHERE id = ?", (first,))
    db.commit()
    db.close()
    db = connect(tmp_path / "g.sqlite")  # a new process, as after a restart
    assert queue_command(db, "set_min_class", {"cls": 2}) == first + 1
    db.close()


def _covered(scene: str, rows: int, **coverage) -> dict:
    """A body as a satellite of this version (or, without `cov`/`po`, an older one) sends it, checked by the
    protocol: `po` comes from `post_only` through the real encoder, never hand-typed base64."""
    post_only = coverage.pop("post_only", None)
    b = [[1_000 * k, 500 * k, 4 if k % 2 else 3, 100 + k, 80] for k in range(rows)]
    made = body(scene, T0, b) | coverage
    if post_only is not None:
        made[POST_ONLY_KEY] = post_only_bitmap(post_only)
    validate_body(made)
    return made


# scene -> (its body's extras, what the report must say: coverage, post-only rows)
COVERED = {
    "older": ({}, 100, [False, False]),                                     # a satellite older than cov/po
    "full": ({"cov": 100}, 100, [False, False, False]),
    "mixed": ({"cov": 40, "post_only": [True, False, True, False, False, False, False, False, True]}, 40,
              [True, False, True, False, False, False, False, False, True]),   # 9 rows: a 2-byte bitmap
    "none": ({"cov": 0, "post_only": [True, True]}, 0, [True, True]),
    "rounded": ({"cov": 100, "post_only": [False, True]}, 100, [False, True]),   # 99.6 % sent as 100
}


@pytest.fixture
def covered_store(tmp_path):
    """The bodies of COVERED, each through a real frame (encode, decode as the station does) into a real store."""
    path = tmp_path / "ground.sqlite"
    store = Store(path)
    frames = [encode("summary", T0, seq=seq, prio=0, body=_covered(scene, len(rows), **extras))
              for seq, (scene, (extras, _, rows)) in enumerate(COVERED.items(), 1)]
    decoded = [decode(f, SAT_TO_GROUND) for f in frames]
    assert store.add_summaries([dict(satellite="sat-1", seq=m["seq"], prio=0, received=T0 + 60, win=1,
                                     bytes=len(f), body=m["body"]) for m, f in zip(decoded, frames)]) == [True] * 5
    store.close()
    return path


def test_the_store_keeps_coverage_and_post_only_rows_as_sent(covered_store):
    stored = {s["body"]["scene"]: s["body"] for s in stored_summaries(covered_store)}
    assert "cov" not in stored["older"] and "po" not in stored["older"] and "po" not in stored["full"]
    for scene, (_, cov, rows) in COVERED.items():
        assert stored[scene].get("cov", 100) == cov and post_only_rows(stored[scene]) == rows, scene


def test_report_shows_coverage_and_post_only_buildings(covered_store, tmp_path):
    report = write_report(covered_store, tmp_path / "report")
    reference = report["reference_coverage"]
    assert (reference["scenes_full"], reference["scenes_partial"], reference["scenes_none"]) == (3, 1, 1)
    assert reference["buildings_post_only"] == 6 and reference["buildings_pre_post"] == 18 - 6
    assert reference["scenes"] == [
        {"satellite": "sat-1", "seq": 3, "scene": "mixed", "buildings": 12, "coverage": 40, "listed": 9,
         "post_only": 3},
        {"satellite": "sat-1", "seq": 4, "scene": "none", "buildings": 5, "coverage": 0, "listed": 2, "post_only": 2},
        {"satellite": "sat-1", "seq": 5, "scene": "rounded", "buildings": 5, "coverage": 100, "listed": 2,
         "post_only": 1}]

    features = json.loads((tmp_path / "report" / "damage.geojson").read_text())["features"]
    by_scene: dict[str, list] = {}
    for f in features:
        by_scene.setdefault(f["properties"]["scene"], []).append(f["properties"])
    for scene, (_, cov, rows) in COVERED.items():   # each building in the order of `b`: row i is bit i
        assert [p["basis"] for p in by_scene[scene]] == [POST_ONLY if po else PRE_POST for po in rows], scene
        assert {p["coverage"] for p in by_scene[scene]} == {cov}, scene
    mixed = by_scene["mixed"]
    assert [p["area_m2"] for p in mixed if p["basis"] == POST_ONLY] == [100, 102, 108]

    page = (tmp_path / "report" / "report.html").read_text()
    inlined = page.split('<script id="data" type="application/json">')[1].split("</script>")[0]
    on_map = {s["scene"]: s for s in json.loads(inlined.replace("<\\/", "</"))["scenes"]}
    assert {k: (s["coverage"], s["listed"], s["post_only"]) for k, s in on_map.items()} == {
        "older": (100, 2, 0), "full": (100, 3, 0), "mixed": (40, 9, 3), "none": (0, 2, 2), "rounded": (100, 2, 1)}


def test_report_cli_says_what_the_reference_did_not_cover(covered_store, tmp_path):
    done = run_cli("report", "--db", str(covered_store), "--out", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    assert ", 2 scene(s) with partial or no pre-event reference, 6 building(s) graded post-only -> " in done.stdout


def test_a_report_of_older_satellites_only_has_no_post_only_building(store_path, tmp_path):
    report = write_report(store_path, tmp_path / "report")
    assert report["reference_coverage"] == {"scenes_full": 10, "scenes_partial": 0, "scenes_none": 0,
                                            "buildings_pre_post": 20, "buildings_post_only": 0, "scenes": []}
    features = json.loads((tmp_path / "report" / "damage.geojson").read_text())["features"]
    assert {(f["properties"]["basis"], f["properties"]["coverage"]) for f in features} == {(PRE_POST, 100)}


def test_a_stored_post_only_bitmap_that_does_not_fit_is_left_out(covered_store, tmp_path):
    db = sqlite3.connect(covered_store)
    with db:   # a row edited by hand: `po` for 2 rows on the 9 rows of "mixed"
        body_of = json.loads(db.execute("SELECT body FROM summaries WHERE scene = 'mixed'").fetchone()[0])
        body_of["po"] = post_only_bitmap([True, True])
        db.execute("UPDATE summaries SET body = ? WHERE scene = 'mixed'", (json.dumps(body_of),))
    db.close()
    report = write_report(covered_store, tmp_path / "report")
    assert report["summaries"] == 4 and "mixed" not in report["scenes"]
    assert report["reference_coverage"]["buildings_post_only"] == 3
