"""`satedge report`: numbers computed from a real store, GeoJSON coordinates, real PNGs."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from ground.report import write_report
from ground.store import Store, command_results, connect, queue_command
from satedge.errors import UserError
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
