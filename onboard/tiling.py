"""Cutting a scene into model-sized tiles and stitching their outputs back.

One implementation serves the daemon, `satedge evaluate` on a checkpoint and
on an IR, so all three see the same pixels. Tiles overlap by `overlap`
pixels; each output pixel is taken from the tile whose centre is nearest
(the middle of every overlap is the cut), so tile borders, where a
convolution sees padding, are never used where a better tile exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def positions(size: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis: stride `tile - overlap`, the last flush with the edge."""
    if size <= tile:
        return [0]
    stride = tile - overlap
    if stride <= 0:
        raise ValueError(f"overlap {overlap} must be smaller than the tile {tile}")
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return starts


def _cuts(starts: list[int], tile: int, size: int) -> list[tuple[int, int]]:
    """The span of the scene each tile owns: from the middle of one overlap to the next."""
    bounds = [0] + [(starts[i] + tile + starts[i + 1]) // 2 for i in range(len(starts) - 1)] + [size]
    return [(bounds[i], bounds[i + 1]) for i in range(len(starts))]


F16_TINY = np.finfo(np.float16).tiny


@dataclass(frozen=True)
class Tile:
    y: int
    x: int
    own: tuple[int, int, int, int]   # y0, y1, x0, x1 in scene coordinates


def grid(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    ys, xs = positions(height, tile, overlap), positions(width, tile, overlap)
    tiles = []
    for y, (y0, y1) in zip(ys, _cuts(ys, tile, height)):
        for x, (x0, x1) in zip(xs, _cuts(xs, tile, width)):
            tiles.append(Tile(y, x, (y0, y1, x0, x1)))
    return tiles


def pad_to(image: np.ndarray, tile: int) -> np.ndarray:
    """Pad an HxWxC scene smaller than a tile (reflect), so every tile is full."""
    h, w = image.shape[:2]
    if h >= tile and w >= tile:
        return image
    return np.pad(image, ((0, max(0, tile - h)), (0, max(0, tile - w)), (0, 0)), mode="reflect")


def cut(pre: np.ndarray, post: np.ndarray, tiles: list[Tile], tile: int) -> np.ndarray:
    """`[N, 6, tile, tile]` u8 model input from HxWx3 u8 pre and post scenes."""
    both = np.concatenate([pre, post], axis=2)
    out = np.empty((len(tiles), 6, tile, tile), dtype=np.uint8)
    for i, t in enumerate(tiles):
        out[i] = both[t.y:t.y + tile, t.x:t.x + tile].transpose(2, 0, 1)
    return out


class Stitcher:
    """Accumulates per-tile class probabilities (float16) and argmax classes into scene-sized maps.

    The argmax is taken per tile on the engine's float32 output, where it is
    cheap; over the float16 scene map numpy has no fast path for it.
    """

    def __init__(self, height: int, width: int, classes: int = 5):
        self.height, self.width = height, width
        ph, pw = max(height, 1), max(width, 1)
        self.probs = np.zeros((classes, ph, pw), dtype=np.float16)
        self._classes = np.zeros((ph, pw), dtype=np.uint8)

    def put(self, t: Tile, probs: np.ndarray) -> None:
        """`probs`: `[classes, tile, tile]` for tile `t`; only the span it owns is kept."""
        y0, y1, x0, x1 = t.own
        y1, x1 = min(y1, self.height), min(x1, self.width)
        owned = probs[:, y0 - t.y:y1 - t.y, x0 - t.x:x1 - t.x]
        self._classes[y0:y1, x0:x1] = owned.argmax(axis=0)
        # Probabilities below float16's smallest normal decide nothing, and numpy converts such
        # subnormals ~6x slower: about half of a confident model's outputs are that small.
        self.probs[:, y0:y1, x0:x1] = np.where(owned < F16_TINY, 0, owned)

    def classes(self) -> np.ndarray:
        """Per-pixel argmax class, uint8 HxW."""
        return self._classes
