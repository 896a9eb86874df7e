"""The xView2 metric on hand-made cases."""

import numpy as np
import pytest

from satedge.vocabulary import f1
from training.metric import IGNORE, Confusion


def _target():
    t = np.zeros((8, 8), np.uint8)
    t[0:2, 0:2] = 1
    t[0:2, 4:6] = 2
    t[4:6, 0:2] = 3
    t[4:6, 4:6] = 4
    return t


def test_perfect_prediction_scores_one():
    c = Confusion()
    c.add_classes(_target(), _target())
    s = c.scores()
    assert s["localization_f1"] == pytest.approx(1.0)
    assert all(v == pytest.approx(1.0) for v in s["damage_f1_per_class"].values())
    assert s["damage_f1"] == pytest.approx(1.0, abs=1e-5)
    assert s["score"] == pytest.approx(1.0, abs=1e-5)


def test_missing_class_collapses_damage_f1():
    target = _target()
    pred = target.copy()
    pred[pred == 2] = 3                         # minor never predicted
    s = Confusion()
    s.add_classes(target, pred)
    s = s.scores()
    assert s["localization_f1"] == pytest.approx(1.0)
    assert s["damage_f1_per_class"]["minor-damage"] == 0.0
    assert s["damage_f1"] < 1e-4
    assert s["score"] == pytest.approx(0.3, abs=1e-3)


def test_damage_is_masked_by_localization_and_counted_at_dataset_level():
    target = _target()
    loc = (target > 0).astype(np.uint8)
    loc[0, 0] = 0                               # one no-damage pixel missed by localization
    damage = np.full_like(target, 1)            # damage map says no-damage everywhere
    damage[target > 1] = target[target > 1]
    c = Confusion()
    c.add(target, loc, damage)
    c.add(np.zeros_like(target), np.zeros_like(target), damage)   # an empty image adds nothing but TN
    s = c.scores()
    assert s["localization_f1"] == pytest.approx(f1(15, 0, 1))
    assert s["damage_f1_per_class"]["no-damage"] == pytest.approx(f1(3, 0, 1))
    assert s["damage_f1_per_class"]["destroyed"] == pytest.approx(1.0)
    assert c.damage[1, 0] == 1 and c.localization[0, 0] == 64 + 48


def test_ignore_pixels_count_nowhere():
    target = _target()
    target[0:2, 0:2] = IGNORE
    pred = _target()                            # predicts a building where the target is ignored
    c = Confusion()
    c.add_classes(target, pred)
    assert c.localization.sum() == 64 - 4
    assert c.scores()["localization_f1"] == pytest.approx(1.0)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        Confusion().add(np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8), np.zeros((4, 4), np.uint8))
