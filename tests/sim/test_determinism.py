"""Same seed, same bytes; another seed, another set. One run at the real 1024 px size."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np

from tests.sim.conftest import SMALL, make_set


def digests(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(both_set, tmp_path):
    again = make_set(tmp_path / "again", "--count", "4", "--seed", "7", "--size", str(SMALL), "--format", "both")
    first, second = digests(both_set), digests(again)
    assert len(first) == 4 * 6 + 4 + 1          # 4 pairs x (2 images, 2 labels, 2 targets), 4 post tifs, mosaic
    assert first == second


def test_different_seed_gives_different_scenes(both_set, tmp_path):
    other = make_set(tmp_path / "other", "--count", "4", "--seed", "8", "--size", str(SMALL), "--format", "xbd")
    a = sorted(v for k, v in digests(both_set).items() if k.startswith("images/"))
    b = sorted(v for k, v in digests(other).items() if k.startswith("images/"))
    assert len(a) == len(b) == 8 and not set(a) & set(b)


def test_full_size_scene(tmp_path):
    out = make_set(tmp_path / "full", "--count", "1", "--seed", "3", "--format", "xbd")
    (image,) = sorted((out / "images").glob("*_post_disaster.png"))
    assert cv2.imread(str(image), cv2.IMREAD_UNCHANGED).shape == (1024, 1024, 3)
    (target,) = sorted((out / "targets").glob("*_post_disaster_target.png"))
    t = cv2.imread(str(target), cv2.IMREAD_UNCHANGED)
    assert t.shape == (1024, 1024) and t.dtype == np.uint8 and t.max() >= 1


def test_a_prefix_renames_events_and_keeps_the_pixels(both_set, tmp_path):
    named = make_set(tmp_path / "named", "--count", "4", "--seed", "7", "--size", str(SMALL), "--format", "xbd",
                     "--prefix", "realistic-")
    plain = {k: v for k, v in digests(both_set).items() if k.startswith(("images/", "targets/"))}
    renamed = {k: v for k, v in digests(named).items() if k.startswith(("images/", "targets/"))}
    assert all(Path(k).name.startswith("realistic-") for k in renamed)
    assert {k.replace("realistic-", ""): v for k, v in renamed.items()} == plain
    label = json.loads(next((named / "labels").glob("*_post_disaster.json")).read_text())
    assert label["metadata"]["disaster"].startswith("realistic-")
