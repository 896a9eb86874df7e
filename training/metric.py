"""The xView2 score, as the official scorer computes it (docs/training.md, "Evaluation"), from confusion counts.

Counts are summed over every pixel of every image before any F1 is taken
(dataset level), so a `Confusion` is fed image by image and scored once.
Pixels whose target is `IGNORE` (un-classified buildings, stray values) count
nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from satedge import vocabulary
from satedge.vocabulary import f1

NUM_CLASSES = 5
DAMAGE_CLASSES = tuple(vocabulary.DAMAGE_CLASSES)
IGNORE = 255
EPS = 1e-6


@dataclass
class Confusion:
    """Dataset-level counts: localization (2x2) and target class x final damage prediction (5x5).

    `damage[t, p]` counts pixels of target class t whose damage prediction,
    multiplied by the binarised localization prediction, is p.
    """

    localization: np.ndarray = field(default_factory=lambda: np.zeros((2, 2), dtype=np.int64))
    damage: np.ndarray = field(default_factory=lambda: np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64))

    def add(self, target: np.ndarray, localization: np.ndarray, damage: np.ndarray) -> None:
        """Add one image: `target` 0..4 (or IGNORE), predictions uint8 0..4, all HxW."""
        if not (target.shape == localization.shape == damage.shape):
            raise ValueError(f"shapes differ: target {target.shape}, localization {localization.shape}, "
                             f"damage {damage.shape}")
        valid = target != IGNORE
        t = target[valid].astype(np.int64)
        loc = (localization[valid] > 0).astype(np.int64)
        self.localization += np.bincount((t > 0) * 2 + loc, minlength=4).reshape(2, 2)
        final = np.clip(damage[valid].astype(np.int64), 0, NUM_CLASSES - 1) * loc
        self.damage += np.bincount(t * NUM_CLASSES + final, minlength=NUM_CLASSES ** 2).reshape(
            NUM_CLASSES, NUM_CLASSES)

    def add_classes(self, target: np.ndarray, classes: np.ndarray) -> None:
        """Add one image predicted as one 0..4 map (localization = classes > 0)."""
        self.add(target, classes, classes)

    def merge(self, other: Confusion) -> Confusion:
        """A new Confusion holding both sets of counts; neither operand changes."""
        return Confusion(self.localization + other.localization, self.damage + other.damage)

    def scores(self) -> dict:
        """loc F1, F1 per damage class, damage F1 (harmonic mean), score, and the matrices."""
        (_, fp), (fn, tp) = self.localization
        loc_f1 = f1(tp, fp, fn)
        building = self.damage[1:]          # only pixels whose target is a building
        class_f1 = {}
        for c in DAMAGE_CLASSES:
            tp_c = building[c - 1, c]
            fp_c = building[:, c].sum() - tp_c
            fn_c = building[c - 1].sum() - tp_c
            class_f1[vocabulary.DAMAGE_CLASSES[c]] = f1(tp_c, fp_c, fn_c)
        damage_f1 = len(DAMAGE_CLASSES) / sum(1.0 / (v + EPS) for v in class_f1.values())
        return {
            "localization_f1": loc_f1,
            "damage_f1_per_class": class_f1,
            "damage_f1": damage_f1,
            "score": 0.3 * loc_f1 + 0.7 * damage_f1,
            "confusion": {
                "localization": {"rows": "target background, building", "cols": "predicted background, building",
                                 "counts": self.localization.tolist()},
                "damage": {"rows": "target class 0..4", "cols": "damage prediction x localization, 0..4",
                           "counts": self.damage.tolist()},
            },
        }


def score_pairs(pairs) -> dict:
    """Scores of an iterable of `(target, localization, damage)` images."""
    confusion = Confusion()
    for target, localization, damage in pairs:
        confusion.add(target, localization, damage)
    return confusion.scores()
