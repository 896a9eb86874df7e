"""A summary the satellite's guard flagged: decoded, stored, and shown in the report and its GeoJSON."""

from __future__ import annotations

import json

import pytest

from ground.report import scenes, summaries, write_report
from ground.store import Store, connect, stored_summaries
from satedge.protocol import SAT_TO_GROUND, FrameError, decode, encode

T0 = 1_700_000_000.0


def _body(scene: str, **extra) -> dict:
    return {"scene": scene, "acq": T0, "bbox": [30.5, 50.25, 30.51, 50.26], "model": "m", "prec": "int8",
            "raw": 4_000_000, "n": [0, 0, 0, 2], "b": [[1_500, 2_500, 4, 120, 90], [100, 0, 4, 40, 70]], **extra}


def test_flag_is_stored_and_reported(tmp_path):
    frames = [encode("summary", T0, seq=seq, prio=0, body=body)
              for seq, body in ((1, _body("garbage", ood=["building", "unsure"])), (2, _body("fine")))]
    decoded = [decode(f, SAT_TO_GROUND) for f in frames]
    store = Store(tmp_path / "ground.sqlite")
    store.add_summaries([dict(satellite="sat-1", seq=m["seq"], prio=m["prio"], received=T0 + 60, win=1,
                              bytes=len(f), body=m["body"]) for m, f in zip(decoded, frames)])
    store.close()
    bodies = {s["body"]["scene"]: s["body"] for s in stored_summaries(tmp_path / "ground.sqlite")}
    assert bodies["garbage"]["ood"] == ["building", "unsure"] and "ood" not in bodies["fine"]
    report = write_report(tmp_path / "ground.sqlite", tmp_path / "report")
    assert report["out_of_distribution"] == [{"satellite": "sat-1", "seq": 1, "scene": "garbage",
                                              "ood": ["building", "unsure"], "buildings": 2, "listed": 2}]
    db = connect(tmp_path / "ground.sqlite", create=False)
    try:
        on_map = {s["scene"]: s["ood"] for s in scenes(summaries(db))}   # the console's map and report.html
    finally:
        db.close()
    assert on_map == {"garbage": True, "fine": False}
    features = json.loads((tmp_path / "report" / "damage.geojson").read_text())["features"]
    assert {f["properties"]["scene"]: f["properties"]["ood"] for f in features} == {
        "garbage": ["building", "unsure"], "fine": []}


@pytest.mark.parametrize("bad", [[], "building", [1], [""], ["x" * 17], ["a"] * 9])
def test_malformed_flag_is_dropped(bad):
    with pytest.raises(FrameError, match="body.ood"):
        decode(encode("summary", T0, seq=1, prio=0, body=_body("s", ood=bad)), SAT_TO_GROUND)
