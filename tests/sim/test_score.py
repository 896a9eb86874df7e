"""The building-level score of what was downlinked (sim/score.py), on hand-made truth and summaries."""

from __future__ import annotations

import json
import math

from sim.score import score

LAT0, LON0 = 60.0, 10.0                          # at 60°N a degree of longitude is half a degree of latitude
M_LAT = 1 / 111_000.0                             # degrees of latitude per metre
M_LON = M_LAT / math.cos(math.radians(LAT0))      # degrees of longitude per metre, here


def square(east_m: float, north_m: float, side_m: float = 10.0) -> str:
    x0, y0 = LON0 + east_m * M_LON, LAT0 + north_m * M_LAT
    x1, y1 = x0 + side_m * M_LON, y0 + side_m * M_LAT
    return f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


def write_truth(folder, scene: str, buildings: list[tuple[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    features = [{"properties": {"feature_type": "building", "subtype": subtype}, "wkt": wkt}
                for subtype, wkt in buildings]
    (folder / f"{scene}_post_disaster.json").write_text(json.dumps({"features": {"lng_lat": features}}))


def listed(east_m: float, north_m: float, cls: int) -> list[int]:
    """A `b` row for a building centred east_m/north_m from the corner: micro-degrees, as the satellite sends."""
    return [round(east_m * M_LON * 1e6), round(north_m * M_LAT * 1e6), cls, 100, 90]


def summary(rows: list[list[int]], prec: str = "int8-nncf") -> dict:
    return {"satellite": "sat-1", "body": {"scene": "s1", "prec": prec, "bbox": [LON0, LAT0, LON0 + 0.01, LAT0 + 0.01],
                                           "n": [1, 0, len(rows), 0], "b": rows}}


def test_buildings_are_matched_in_metres_at_any_latitude(tmp_path):
    # Two major-damage buildings 100 m apart east-west; the satellite lists each at its centre.
    write_truth(tmp_path, "s1", [("major-damage", square(0, 0)), ("major-damage", square(100, 0)),
                                 ("no-damage", square(0, 200))])
    result = score([summary([listed(5, 5, 3), listed(105, 5, 3)])], {"sat-1": tmp_path}, min_class=3)
    assert result["all"]["tp"] == {"3": 2, "4": 0} and result["all"]["fp"] == {"3": 0, "4": 0}
    assert result["all"]["f1"]["3"] == 1.0


def test_a_point_just_outside_is_matched_within_3_m_and_not_beyond(tmp_path):
    write_truth(tmp_path, "s1", [("destroyed", square(0, 0))])
    near = score([summary([listed(12, 5, 4)])], {"sat-1": tmp_path}, min_class=3)   # 2 m east of the wall
    far = score([summary([listed(14, 5, 4)])], {"sat-1": tmp_path}, min_class=3)    # 4 m east of it
    assert near["all"]["tp"]["4"] == 1
    assert far["all"]["tp"]["4"] == 0 and far["all"]["fp"]["4"] == 1 and far["all"]["fn"]["4"] == 1


def test_a_wrong_class_is_a_false_positive_and_a_miss_and_precisions_are_scored_apart(tmp_path):
    write_truth(tmp_path, "s1", [("destroyed", square(0, 0))])
    result = score([summary([listed(5, 5, 3)], prec="fp32")], {"sat-1": tmp_path}, min_class=3)
    assert set(result) == {"fp32", "all"}
    assert result["fp32"]["fp"]["3"] == 1 and result["fp32"]["fn"]["4"] == 1 and result["fp32"]["damage_f1"] < 0.01
