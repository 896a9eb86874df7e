"""What is in the scenes: events that training can split by, every damage grade, a real-like class
balance, and damage cues that grow with the grade (so a model can learn them from the pair)."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from sim.scenes import KINDS, generate, make_scene, plan
from sim.scenes.damage import UNCLASSIFIED


@pytest.fixture(scope="module")
def scenes():
    """32 half-size scenes (two events), drawn through the API the camera feed uses."""
    return [make_scene(spec) for spec in plan(32, seed=12, size=512)]


def test_plan_spreads_scenes_over_events_of_4_to_30():
    specs = plan(300, seed=5, size=256)
    sizes = Counter(s.event for s in specs)
    assert len(sizes) >= 10
    assert all(4 <= n <= 33 for n in sizes.values())
    assert {s.kind for s in specs} == set(KINDS)
    assert all(re.fullmatch(rf"{s.kind}-\d+", s.event) for s in specs)
    assert len({s.stem for s in specs}) == 300
    # Scenes sit on adjacent grid cells, each cell used once.
    assert len({s.cell for s in specs}) == 300


def test_make_scene_is_deterministic():
    spec = plan(6, seed=2, size=256)[4]
    a, b = make_scene(spec), make_scene(spec)
    for name in ("pre", "post", "target_pre", "target_post"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert a.subtypes == b.subtypes


def test_every_damage_class_occurs(scenes):
    seen = Counter(t for s in scenes for t in s.subtypes)
    for subtype in ("no-damage", "minor-damage", "major-damage", "destroyed"):
        assert seen[subtype] > 0, seen
    pixels = np.bincount(np.concatenate([s.target_post.ravel() for s in scenes]), minlength=5)
    assert np.all(pixels[1:5] > 0)


def test_class_balance_is_like_xbd(scenes):
    seen = Counter(t for s in scenes for t in s.subtypes if t != UNCLASSIFIED)
    total = sum(seen.values())
    assert total > 300
    share = {k: v / total for k, v in seen.items()}
    assert 0.6 < share["no-damage"] < 0.85, share
    for damaged in ("minor-damage", "major-damage", "destroyed"):
        assert 0.03 < share[damaged] < 0.18, share


def test_visible_change_grows_with_the_damage_grade(scenes):
    """Mean |post - pre| over each grade's footprints (eroded, so misregistration does not count):
    any damage changes a roof more than sun, haze and colour do, and structural damage (a hole,
    a rubble heap) more than patches and debris. Major and destroyed differ in kind (a hole in a
    standing roof against a heap without outline or shadow), not necessarily in this mean."""
    import cv2

    change = {c: [] for c in range(1, 5)}
    for s in scenes:
        diff = np.abs(s.post.astype(np.int16) - s.pre.astype(np.int16)).mean(axis=2)
        for c in range(1, 5):
            inside = cv2.erode((s.target_post == c).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            if inside.any():
                change[c].append(diff[inside])
    means = [float(np.concatenate(change[c]).mean()) for c in range(1, 5)]
    assert means[0] + 2 < means[1] < min(means[2], means[3]) - 3, means


def test_generate_returns_what_it_wrote(tmp_path):
    result = generate(tmp_path / "api", count=2, seed=1, size=128, fmt="geotiff")
    assert result["count"] == 2 and result["geotiffs"] == 2
    assert sorted(p.name for p in (tmp_path / "api" / "geotiff").iterdir()) == sorted(
        [f"{s}_post_disaster.tif" for s in result["stems"]] + ["reference.tif"])
    assert not (tmp_path / "api" / "images").exists()


def test_difficulty_fades_the_cues_and_leaves_the_world_alone():
    import dataclasses

    spec = plan(8, seed=12, size=512)[3]
    easy = make_scene(dataclasses.replace(spec, difficulty=0.0))
    hard = make_scene(dataclasses.replace(spec, difficulty=1.0))
    assert np.array_equal(easy.pre, hard.pre) and np.array_equal(easy.target_post, hard.target_post)
    damaged = easy.target_post >= 2
    assert damaged.any()

    def change(scene):
        return np.abs(scene.post.astype(np.int16) - scene.pre.astype(np.int16)).mean(axis=2)[damaged].mean()

    assert change(hard) < change(easy) - 2
