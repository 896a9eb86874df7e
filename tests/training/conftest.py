"""Fixtures for the training tests: a tiny hand-written xBD folder (no scene generator needed)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

# Post-image colour of a building per damage class: learnable in a few steps.
DAMAGE_COLOURS = {1: (200, 200, 200), 2: (200, 160, 60), 3: (160, 80, 40), 4: (40, 30, 20)}


def write_xbd(root: Path, events: dict[str, int], size: int = 96, seed: int = 0,
              unclassified: bool = True) -> Path:
    """`events`: disaster name -> number of pairs. Buildings are squares whose post colour is their class."""
    rng = np.random.default_rng(seed)
    for sub in ("images", "labels", "targets"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for event, count in events.items():
        for n in range(count):
            stem = f"{event}_{n:08d}"
            pre = np.full((size, size, 3), (60, 110, 60), np.uint8)
            post = pre.copy()
            target = np.zeros((size, size), np.uint8)
            features = []
            for k in range(8):
                cls = 1 + k % 4
                y, x = rng.integers(0, size - 16, size=2)
                s = int(rng.integers(8, 16))
                pre[y:y + s, x:x + s] = (200, 200, 200)
                post[y:y + s, x:x + s] = DAMAGE_COLOURS[cls]
                target[y:y + s, x:x + s] = cls
                wkt = f"POLYGON (({x} {y}, {x + s} {y}, {x + s} {y + s}, {x} {y + s}, {x} {y}))"
                subtype = ["no-damage", "minor-damage", "major-damage", "destroyed"][cls - 1]
                features.append({"properties": {"feature_type": "building", "subtype": subtype, "uid": f"{k}"},
                                 "wkt": wkt})
            if unclassified:      # one un-classified building, drawn as no-damage in the target
                pre[2:10, 2:10] = post[2:10, 2:10] = (200, 200, 200)
                target[2:10, 2:10] = 1
                features.append({"properties": {"feature_type": "building", "subtype": "un-classified",
                                                "uid": "u"}, "wkt": "POLYGON ((2 2, 9 2, 9 9, 2 9, 2 2))"})
            target[-1, -1] = 7          # a stray value, as some xBD copies carry
            cv2.imwrite(str(root / "images" / f"{stem}_pre_disaster.png"), cv2.cvtColor(pre, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(root / "images" / f"{stem}_post_disaster.png"), cv2.cvtColor(post, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(root / "targets" / f"{stem}_post_disaster_target.png"), target)
            label = {"metadata": {"width": size, "height": size, "disaster": event},
                     "features": {"lng_lat": [], "xy": features}}
            (root / "labels" / f"{stem}_post_disaster.json").write_text(json.dumps(label))
    return root


@pytest.fixture(scope="session")
def tiny_xbd(tmp_path_factory) -> Path:
    return write_xbd(tmp_path_factory.mktemp("xbd") / "train", {"flood-a": 3, "fire-b": 2, "quake-c": 2})
