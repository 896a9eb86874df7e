"""Issue 16, rows 3 and 4: summaries that keep to the schema but not to the protocol's ranges, sent by a
satellite the ground admits, to a real ground station process; and a report made from a store that holds
such rows already (written by a version that stored them). Nothing out of range is stored, each drop is
counted, and `satedge report` always completes."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest

from ground import store
from tests.conftest import run_cli
from tests.ground.minisat import MiniSat, pack
from tests.reliability.conftest import summary_body

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(180)]


def nonsense() -> list[tuple[str, int, dict]]:
    """(what, prio, body): each schema-valid, each out of docs/protocol.md's ranges."""
    cases: list[tuple[str, int, dict]] = [("prio -7", -7, summary_body(1)), ("prio 2**62", 2**62, summary_body(2))]
    for i, (key, value) in enumerate([("acq", 1e18), ("acq", -5.0), ("raw", -1), ("prec", "bogus"),
                                      ("bbox", [1e300, 45.0, 10.0, 45.1]), ("bbox", [10.0, 95.0, 10.1, 96.0]),
                                      ("acq", float("nan")), ("bbox", [float("-inf"), 45.0, 10.0, 45.1]),
                                      ("extra", {"x": float("nan")}), ("scene", "x" * 300),
                                      ("b", [[1, 2, 4, 10, 90]] * 1001)]):
        body = summary_body(10 + i)
        body[key] = value
        cases.append((f"{key}={str(value)[:20]}", 0, body))
    return cases


def test_out_of_range_summaries_are_dropped_and_counted_and_the_report_completes(pair, tmp_path):
    p = pair()
    p.start_ground()
    sat = MiniSat(p.address, "sat-1")
    try:
        frames = {seq: pack("summary", seq=seq, prio=prio, body=body)
                  for seq, (_, prio, body) in enumerate(nonsense(), start=1)}
        frames[-5] = pack("summary", seq=-5, prio=0, body=summary_body(99))   # seq -5
        good = 1000
        sat.pump_until(lambda: sat.window is not None, 30, "a window")
        # Valid frames are acked; the others are dropped: send them all, then a valid one, until it is acked.
        for frame in frames.values():
            sat.pump_until(lambda f=frame: sat.spend(f), 30, "credit")
        sat.downlink({good: pack("summary", seq=good, prio=0, body=summary_body(good))}, timeout_s=60)
    finally:
        sat.close()
    assert [row["seq"] for row in store.stored_rows(p.store)] == [good]
    p.wait(lambda: store.counters(p.store).get("drop_range", 0) >= len(frames) - 5, "the drops counted")
    counters = store.counters(p.store)
    # NaN, -inf, and a NaN deep in the body are not storable ("malformed"); the rest are out of range.
    assert counters.get("drop_range", 0) + counters.get("drop_malformed", 0) == len(frames), counters
    assert sat.acked == {good}
    out = tmp_path / "report"
    result = run_cli("report", "--db", str(p.store), "--out", str(out), timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "report.json").read_text())["summaries"] == 1


def test_a_report_from_a_store_holding_nonsense_completes_without_it(pair, tmp_path):
    """Row 4's second half: a store that already holds such rows (NaN stored as invalid JSON, acq 1e18,
    prec "bogus") made `satedge report` crash with OSError in iso() and KeyError in the plots."""
    p = pair()
    s = store.Store(p.store)
    s.add_summaries([{"satellite": "sat-1", "seq": 1, "prio": 0, "body": summary_body(1), "received": 1.8e9 + 60,
                      "win": 1, "bytes": 100}])
    s.close()
    with sqlite3.connect(p.store) as db:
        for seq, (_, prio, body) in enumerate(nonsense(), start=2):
            db.execute("INSERT INTO summaries (satellite, seq, prio, scene, acq, received, win, bytes, raw, model,"
                       " prec, body) VALUES ('sat-1', ?, ?, 's', ?, 1.8e9, 1, 10, 0, 'm', 'p', ?)",
                       (seq, prio, body["acq"] if math.isfinite(body["acq"]) else 0.0, json.dumps(body)))
    out = tmp_path / "report"
    result = run_cli("report", "--db", str(p.store), "--out", str(out), timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["summaries"] == 1 and report["scenes"] == ["scene-1"]


def test_a_scene_with_a_huge_scene_id_does_not_block_the_downlink(pair, geo):
    """Row 3: a valid scene whose SCENE_ID tag is 1.5 MB made a summary larger than any frame; sent in order,
    it held up every summary behind it forever. Its id is cut to the protocol's bound and all are stored."""
    from satedge.protocol import MAX_SCENE_ID
    from tests.onboard.conftest import ORIGIN, texture, write_tiff

    p = pair()
    p.inbox.mkdir(parents=True)
    write_tiff(p.inbox / "huge-id.tif", texture(5, 256), west=ORIGIN[0], north=ORIGIN[1],
               tags={"SCENE_ID": "h" * 1_500_000, "ACQUISITION_TIME": "1800000000"})
    p.start_ground()
    p.start_sat()
    p.wait(lambda: p.spooled() == 0 and len(p.stored_scenes()) == 1, "the huge-id scene stored")
    for i in range(2):
        geo.scene(p.inbox, f"after-{i}", col=300 + 60 * i, row=300, seed=20 + i)
    p.wait(lambda: len(p.stored_scenes()) == 3 and p.spooled() == 0, "the scenes behind it stored")
    assert sorted(p.stored_scenes()) == ["after-0", "after-1", "h" * MAX_SCENE_ID]
