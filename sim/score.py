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
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

MATCH_M = 3.0
METRES_PER_MICRODEGREE_LAT = 0.111


def parse_wkt(wkt: str) -> np.ndarray:
    """The outer ring of a WKT POLYGON as an (N, 2) float array."""
    body = wkt[wkt.index("((") + 2: wkt.index(")")]
    return np.array([[float(v) for v in point.split()] for point in body.split(",")])


def truth_buildings(labels_dir: Path, scene: str) -> list[tuple[int, np.ndarray]]:
    """(class 1..4, lon/lat ring) of every classified building of a post scene."""
    path = Path(labels_dir) / f"{scene}_post_disaster.json"
    classes = {"no-damage": 1, "minor-damage": 2, "major-damage": 3, "destroyed": 4}
    features = json.loads(path.read_text())["features"]["lng_lat"]
    return [(classes[f["properties"]["subtype"]], parse_wkt(f["wkt"]))
            for f in features if f["properties"].get("subtype") in classes]


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _match(point: np.ndarray, rings: list[np.ndarray], limit: float) -> int | None:
    best, best_dist = None, -limit
    for i, ring in enumerate(rings):
        dist = cv2.pointPolygonTest(ring.astype(np.float32).reshape(-1, 1, 2), tuple(map(float, point)), True)
        if dist >= 0:
            return i
        if dist > best_dist:
            best, best_dist = i, dist
    return best


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
        # Work in micro-degrees from the scene corner, the frame `b` is in.
        rings = [np.column_stack([(r[:, 0] - lon0) * 1e6, (r[:, 1] - lat0) * 1e6]) for _, r in truth]
        truth_cls = [c for c, _ in truth]
        found = set()
        for dlon, dlat, cls, _area, _conf in body["b"]:
            i = _match(np.array([dlon, dlat]), rings, MATCH_M / METRES_PER_MICRODEGREE_LAT)
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
    f1 = {c: _f1(tp[c], fp[c], fn[c]) for c in listed}
    harmonic = len(f1) / sum(1 / (v + 1e-6) for v in f1.values())
    return {
        "scenes": len(summaries),
        "listed_classes": list(listed),
        "f1": {str(c): round(v, 4) for c, v in f1.items()},
        "damage_f1": round(harmonic, 4),
        "tp": {str(c): tp[c] for c in listed}, "fp": {str(c): fp[c] for c in listed},
        "fn": {str(c): fn[c] for c in listed},
        "counts": {"reported": counted.tolist(), "truth": truth_counts.tolist()},
    }
