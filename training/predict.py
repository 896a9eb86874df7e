"""Full-scene prediction with a PyTorch model, through the same tiling the satellite uses.

`TorchPredictor.predict_scene(pre, post)` returns an `onboard.tiling.Stitcher`,
like `onboard.engine.Engine.predict_scene`, so validation during training and
`satedge evaluate` treat a checkpoint and an IR alike.
"""

from __future__ import annotations

import numpy as np
import torch

from onboard.heads import HEADS
from onboard.tiling import Stitcher, cut, grid, pad_to, stack
from training.metric import NUM_CLASSES


class TorchPredictor:
    """A PyTorch model behind the satellite's tiling, with `onboard.engine.Engine.predict_scene`'s interface."""

    def __init__(self, model: torch.nn.Module, tile: int, overlap: int, batch: int = 4):
        self.model, self.tile, self.overlap, self.batch = model, tile, overlap, batch

    @torch.no_grad()
    def predict_scene(self, pre: np.ndarray, post: np.ndarray) -> Stitcher:
        """A Stitcher holding `probs` `[5, H, W]` for HxWx3 RGB pre and post; the model's train mode is restored."""
        height, width = pre.shape[:2]
        scene = pad_to(stack(pre, post), self.tile)
        tiles = grid(scene.shape[1], scene.shape[2], self.tile, self.overlap)
        stitcher = Stitcher(height, width, HEADS["probabilities"].layers(NUM_CLASSES))
        was_training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(tiles), self.batch):
                chunk = tiles[start:start + self.batch]
                x = torch.from_numpy(cut(scene, chunk, self.tile)).float()
                probs = torch.softmax(self.model(x).float(), dim=1).numpy()
                for t, p in zip(chunk, probs):
                    stitcher.put(t, {"probs": p})
        finally:
            self.model.train(was_training)
        return stitcher


def damage_maps(stitcher: Stitcher) -> tuple[np.ndarray, np.ndarray]:
    """(localization, damage) uint8 maps as the official scorer wants them.

    Localization: argmax over the five classes is a building. Damage: the most
    likely of the four damage levels at every pixel (the scorer masks it with
    the localization), so a building pixel is never scored as "no class".
    """
    probs = stitcher["probs"]
    localization = (probs.argmax(axis=0) > 0).astype(np.uint8)
    damage = (probs[1:].argmax(axis=0) + 1).astype(np.uint8)
    return localization, damage
