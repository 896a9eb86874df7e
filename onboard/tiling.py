"""Cutting a scene into model-sized tiles and stitching their outputs back.

One implementation serves the daemon, `satedge evaluate` on a checkpoint and
on an IR, so all three see the same pixels. A scene is `[6, H, W]` u8 in the
model's own channel order (pre RGB, then post RGB), so a tile is a plain
slice: rasterio decodes straight into it and nothing is ever transposed.
The engine asks a scene for one band of rows at a time (`Rows.strip`, one
tile high): a whole array in memory (`ArrayRows`), or the daemon's scene
files, read band by band as the tiles are queued (`onboard.ingest`), so a
scene being inferred holds one band of its pixels, not all of them.
Tiles overlap by `overlap` pixels; each output pixel is taken from the tile
whose centre is nearest (the middle of every overlap is the cut), so tile
borders, where a convolution sees padding, are never used where a better
tile exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

CHANNELS = 6
F16_TINY = np.finfo(np.float16).tiny


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


@dataclass(frozen=True)
class Tile:
    """Where a tile is cut (`y`, `x`: its top-left) and the span of the scene its output is kept for."""

    y: int
    x: int
    own: tuple[int, int, int, int]   # y0, y1, x0, x1 in scene coordinates


def grid(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    """Every tile of a `height` x `width` scene, row by row; together they own each pixel exactly once."""
    ys, xs = positions(height, tile, overlap), positions(width, tile, overlap)
    tiles = []
    for y, (y0, y1) in zip(ys, _cuts(ys, tile, height)):
        for x, (x0, x1) in zip(xs, _cuts(xs, tile, width)):
            tiles.append(Tile(y, x, (y0, y1, x0, x1)))
    return tiles


def stack(pre: NDArray[np.uint8], post: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """`[6, H, W]` u8 from HxWx3 pre and post images (the xBD PNGs are read that way)."""
    if pre.shape != post.shape or pre.ndim != 3 or pre.shape[2] != 3:
        raise ValueError(f"pre {pre.shape} and post {post.shape} must both be HxWx3")
    both = np.empty((CHANNELS, *pre.shape[:2]), dtype=np.uint8)
    both[:3] = pre.transpose(2, 0, 1)
    both[3:] = post.transpose(2, 0, 1)
    return both


def pad_to(scene: NDArray[np.uint8], tile: int) -> NDArray[np.uint8]:
    """Pad a `[C, H, W]` scene smaller than a tile (reflect), so every tile is full."""
    h, w = scene.shape[1:]
    if h >= tile and w >= tile:
        return scene
    return np.pad(scene, ((0, 0), (0, max(0, tile - h)), (0, max(0, tile - w))), mode="reflect")


def cut(scene: NDArray[np.uint8], tiles: list[Tile], tile: int) -> NDArray[np.uint8]:
    """`[N, 6, tile, tile]` u8 model input: the tiles of a padded `[6, H, W]` scene (slices, no transpose)."""
    return np.stack([scene[:, t.y:t.y + tile, t.x:t.x + tile] for t in tiles])


class UnreadableRows(Exception):
    """A scene's pixels could not be read part way through (a truncated or corrupt file); the message says why."""


class Rows(Protocol):
    """A scene's `[6, H, W]` u8 pixels as the engine reads them: one band of rows at a time, top to bottom."""

    height: int     # the scene's own size; one smaller than a tile is padded to a tile (`pad_to`)
    width: int

    def strip(self, y: int, rows: int) -> NDArray[np.uint8]:
        """`[6, rows, W]` from row `y` (valid until the next call); raises `UnreadableRows`."""
        ...

    def whole(self) -> NDArray[np.uint8]:
        """All of `[6, H, W]` at once; raises `UnreadableRows`."""
        ...

    def close(self) -> None:
        """Let go of whatever the rows are read from (every row read, or the scene given up)."""
        ...


class ArrayRows:
    """`Rows` of a scene already in memory: strips are slices of it."""

    def __init__(self, scene: NDArray[np.uint8]):
        if scene.ndim != 3 or scene.shape[0] != CHANNELS or scene.dtype != np.uint8:
            raise ValueError(f"a scene is [6, H, W] u8, not {scene.shape} {scene.dtype}")
        self.scene = scene
        self.height, self.width = scene.shape[1:]

    def strip(self, y: int, rows: int) -> NDArray[np.uint8]:
        """A view of rows y..y+rows."""
        return self.scene[:, y:y + rows]

    def whole(self) -> NDArray[np.uint8]:
        """The scene itself."""
        return self.scene

    def close(self) -> None:
        """Nothing to let go of."""


@dataclass(frozen=True)
class Layer:
    """One scene-sized map a stitcher fills: `channels` planes (0: a single `[H, W]` plane) of `dtype`."""

    channels: int
    dtype: type[np.generic]


class Stitcher:
    """Scene-sized maps filled tile by tile from per-tile outputs, each tile writing only the span it owns."""

    def __init__(self, height: int, width: int, layers: dict[str, Layer]):
        self.height, self.width = height, width
        ph, pw = max(height, 1), max(width, 1)
        self.maps: dict[str, NDArray[Any]] = {   # each in its layer's dtype
            name: np.zeros(((layer.channels,) if layer.channels else ()) + (ph, pw), dtype=layer.dtype)
            for name, layer in layers.items()}

    def put(self, t: Tile, outputs: dict[str, NDArray[Any]]) -> None:
        """`outputs[name]`: this tile's `[C, tile, tile]` (or `[tile, tile]`) values of each layer."""
        y0, y1, x0, x1 = t.own
        y1, x1 = min(y1, self.height), min(x1, self.width)
        for name, values in outputs.items():
            owned = values[..., y0 - t.y:y1 - t.y, x0 - t.x:x1 - t.x]
            target = self.maps[name]
            if target.dtype == np.float16 and values.dtype == np.float32:
                # Values below float16's smallest normal decide nothing, and numpy converts such
                # subnormals ~6x slower: about half of a confident model's probabilities are that small.
                owned = np.where(owned < F16_TINY, 0, owned)
            target[..., y0:y1, x0:x1] = owned

    def __getitem__(self, name: str) -> NDArray[Any]:
        return self.maps[name]
