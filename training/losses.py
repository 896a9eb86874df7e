"""Losses for the damage U-Net: weighted cross-entropy plus Dice or focal (a registry).

Cross-entropy alone lets the abundant classes (background, no-damage) win;
class weights and a region term (Dice) or a hard-pixel term (focal) keep the
rare damage levels from collapsing, which the harmonic-mean score punishes.
Pixels labelled `IGNORE` count nowhere.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from training.metric import IGNORE


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Class-weighted mean cross-entropy over the pixels that are not IGNORE."""
    return F.cross_entropy(logits, target, weight=weight, ignore_index=IGNORE)


def dice(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """1 - soft Dice per class over the batch, averaged (weighted) over classes present or predicted."""
    probs = torch.softmax(logits.float(), dim=1)
    valid = (target != IGNORE).unsqueeze(1)
    onehot = F.one_hot(torch.where(valid.squeeze(1), target, 0), probs.shape[1]).permute(0, 3, 1, 2)
    onehot = onehot.float() * valid
    probs = probs * valid
    dims = (0, 2, 3)
    inter = (probs * onehot).sum(dims)
    total = probs.sum(dims) + onehot.sum(dims)
    per_class = 1 - (2 * inter + 1.0) / (total + 1.0)
    w = torch.ones_like(per_class) if weight is None else weight.to(per_class)
    return (per_class * w).sum() / w.sum()


def focal(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
          gamma: float = 2.0) -> torch.Tensor:
    """Focal loss: cross-entropy scaled by (1 - p_true)^gamma, so easy pixels fade out."""
    logp = F.log_softmax(logits.float(), dim=1)
    valid = target != IGNORE
    safe = torch.where(valid, target, 0)
    logp_true = logp.gather(1, safe.unsqueeze(1)).squeeze(1)
    loss = -((1 - logp_true.exp()) ** gamma) * logp_true
    if weight is not None:
        loss = loss * weight.to(loss)[safe]
    return loss[valid].mean() if valid.any() else loss.sum() * 0


REGION_TERMS: dict[str, Callable] = {"dice": dice, "focal": focal, "none": None}


class DamageLoss(torch.nn.Module):
    """Weighted cross-entropy + `region_weight` x (Dice or focal)."""

    def __init__(self, class_weights: list[float] | None = None, region: str = "dice",
                 region_weight: float = 1.0):
        super().__init__()
        if region not in REGION_TERMS:
            raise ValueError(f"unknown loss term {region!r} (have: {', '.join(REGION_TERMS)})")
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.register_buffer("weight", weights, persistent=False)
        self.region = REGION_TERMS[region]
        self.region_weight = region_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar loss of logits `[N, 5, H, W]` against targets `[N, H, W]`, in float32 even under autocast."""
        logits = logits.float()
        loss = cross_entropy(logits, target, self.weight)
        if self.region is not None:
            loss = loss + self.region_weight * self.region(logits, target, self.weight)
        return loss
