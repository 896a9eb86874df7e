"""How good is what reached the ground? Downlinked buildings scored against the scenes' truth.

A summary lists buildings as points (centroid, class), not masks, so the
pixel-level xView2 score cannot be computed from it (the model's pixel score
on held-out scenes is in its manifest). This is its building-level analogue:
each listed building is matched to the ground-truth polygon that contains
its centroid (or lies within `MATCH_M`), and per damage class c listed
(`min_class`..4) we count TP (listed as c, truth c), FP (listed as c,
truth not c or no building) and FN (truth c, not listed as c); F1 per class
and their harmonic mean, as xView2's damage F1. Counts per class (`n`) are
compared with the truth counts too, for the classes not listed.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import shapely
from shapely import STRtree, wkt

from satedge.vocabulary import CLASS_OF, f1

MATCH_M = 3.0
METRES_PER_DEGREE_LAT = 111_000.0   # a scene is ~1 km: a local equirectangular frame is exact enough


def truth_buildings(labels_dir: Path, scene: str) -> list[tuple[int, shapely.Polygon]]:
    """(class 1..4, lon/lat polygon) of every classified building of a post scene."""
    path = Path(labels_dir) / f"{scene}_post_disaster.json"
    features = json.loads(path.read_text())["features"]["lng_lat"]
    return [(CLASS_OF[f["properties"]["subtype"]], wkt.loads(f["wkt"]))
            for f in features if f["properties"].get("subtype") in CLASS_OF]


def _to_metres(lon0: float, lat0: float):
    """Lon/lat to metres east and north of (lon0, lat0); a degree of longitude shrinks with cos(latitude)."""
    east = METRES_PER_DEGREE_LAT * math.cos(math.radians(lat0))

    def transform(coords: np.ndarray) -> np.ndarray:
        return np.column_stack([(coords[:, 0] - lon0) * east, (coords[:, 1] - lat0) * METRES_PER_DEGREE_LAT])
    return transform


def score(summaries: list[dict], labels_dirs: dict[str, Path], min_class: int = 2) -> dict:
    """Scores per precision (`body.prec`) and overall, for summaries as the ground stored them.

    `summaries`: dicts with `satellite` and `body`; `labels_dirs`: each satellite's truth labels.
    """
    groups: dict[str, list[dict]] = defaultdict(list)
    for s in summaries:
        groups[s["body"]["prec"]].append(s)
        groups["all"].append(s)
    return {prec: _score_group(group, labels_dirs, min_class) for prec, group in groups.items()}


def _score_group(summaries: list[dict], labels_dirs: dict[str, Path], min_class: int) -> dict:
    listed = range(min_class, 5)
    tp, fp, fn = (defaultdict(int) for _ in range(3))
    counted, truth_counts = np.zeros(4, int), np.zeros(4, int)
    for s in summaries:
        body = s["body"]
        lon0, lat0 = body["bbox"][0], body["bbox"][1]
        truth = truth_buildings(labels_dirs[s["satellite"]], body["scene"])
        metres = _to_metres(lon0, lat0)
        tree = STRtree([shapely.transform(polygon, metres) for _, polygon in truth])
        truth_cls = [c for c, _ in truth]
        found = set()
        for dlon, dlat, cls, _area, _conf in body["b"]:   # `b` is in micro-degrees from the scene corner
            point = shapely.Point(metres(np.array([[lon0 + dlon * 1e-6, lat0 + dlat * 1e-6]]))[0])
            nearest = tree.query_nearest(point, max_distance=MATCH_M) if truth else []
            i = int(nearest[0]) if len(nearest) else None
            if i is not None and truth_cls[i] == cls and i not in found:
                tp[cls] += 1
                found.add(i)
            else:
                fp[cls] += 1
        for i, c in enumerate(truth_cls):
            if c in listed and i not in found:
                fn[c] += 1
        counted += np.array(body["n"])
        truth_counts += np.bincount(np.array(truth_cls, int) - 1, minlength=4) if truth_cls else 0
    per_class = {c: f1(tp[c], fp[c], fn[c]) for c in listed}
    harmonic = len(per_class) / sum(1 / (v + 1e-6) for v in per_class.values())
    return {
        "scenes": len(summaries),
        "listed_classes": list(listed),
        "f1": {str(c): round(v, 4) for c, v in per_class.items()},
        "damage_f1": round(harmonic, 4),
        "tp": {str(c): tp[c] for c in listed}, "fp": {str(c): fp[c] for c in listed},
        "fn": {str(c): fn[c] for c in listed},
        "counts": {"reported": counted.tolist(), "truth": truth_counts.tolist()},
    }
