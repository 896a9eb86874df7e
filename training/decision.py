"""Per-class logit offsets that maximise the validation xView2 score, folded into the model's head.

Cross-entropy optimises likelihood, the xView2 score is a harmonic mean of
per-class F1 at the argmax: a class the model is slightly shy of (typically
minor damage) costs the whole damage F1. Adding a constant to each class's
logit moves the argmax boundaries without retraining; the offsets are fitted
on the validation events (never the held-out set) by coordinate ascent, and
added to the bias of the final 1x1 convolution, so every runtime (PyTorch,
every IR, the satellite) makes the same decision.
"""

from __future__ import annotations

import numpy as np
import torch

from training.dataset import Pair, read_scene
from training.metric import IGNORE, NUM_CLASSES, Confusion
from training.predict import TorchPredictor

GRID = np.round(np.arange(-1.5, 1.51, 0.125), 3)


def sample_pixels(model: torch.nn.Module, pairs: list[Pair], tile: int, overlap: int, background_share: float,
                  seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log-probabilities [P, 5], targets [P], weights [P]): every building pixel, a sample of background."""
    rng = np.random.default_rng(seed)
    predictor = TorchPredictor(model, tile, overlap)
    logps, targets, weights = [], [], []
    for pair in pairs:
        pre, post, target = read_scene(pair)
        probs = predictor.predict_scene(pre, post)["probs"].astype(np.float32)
        keep = target != IGNORE
        building = keep & (target > 0)
        background = np.flatnonzero(keep & (target == 0))
        take = rng.choice(background, size=int(len(background) * background_share), replace=False)
        index = np.concatenate([np.flatnonzero(building), take])
        flat = probs.reshape(NUM_CLASSES, -1)[:, index].T
        logps.append(np.log(np.maximum(flat, 1e-7)))
        targets.append(target.ravel()[index])
        weights.append(np.concatenate([np.ones(building.sum()), np.full(len(take), 1 / background_share)]))
    return np.concatenate(logps), np.concatenate(targets), np.concatenate(weights)


def weighted_score(logp: np.ndarray, target: np.ndarray, weight: np.ndarray, offset: np.ndarray) -> float:
    """xView2 score of the sampled pixels with `offset` added to their log-probabilities, each counted by its weight."""
    shifted = logp + offset
    loc = shifted.argmax(axis=1) > 0                  # as training.predict.damage_maps decides
    damage = shifted[:, 1:].argmax(axis=1) + 1
    confusion = Confusion()
    confusion.localization = np.bincount((target > 0) * 2 + loc, weights=weight, minlength=4).reshape(2, 2)
    final = damage * loc
    confusion.damage = np.bincount(target.astype(np.int64) * NUM_CLASSES + final, weights=weight,
                                   minlength=NUM_CLASSES ** 2).reshape(NUM_CLASSES, NUM_CLASSES)
    return confusion.scores()["score"]


def fit_offsets(logp: np.ndarray, target: np.ndarray, weight: np.ndarray,
                rounds: int = 3) -> tuple[np.ndarray, float, float]:
    """(offsets [5] with offset[0] = 0, score before, score after): coordinate ascent over GRID."""
    offset = np.zeros(NUM_CLASSES)
    before = best = weighted_score(logp, target, weight, offset)
    for _ in range(rounds):
        improved = False
        for c in range(1, NUM_CLASSES):
            for value in GRID:
                trial = offset.copy()
                trial[c] = value
                score = weighted_score(logp, target, weight, trial)
                if score > best + 1e-6:
                    best, offset, improved = score, trial, True
        if not improved:
            break
    return offset, before, best


def fold_into_head(model: torch.nn.Module, offset: np.ndarray) -> None:
    """Add `offset` to the head's bias: softmax(logits + offset), the same argmax in every runtime."""
    with torch.no_grad():
        model.head.bias += torch.as_tensor(offset, dtype=model.head.bias.dtype)
