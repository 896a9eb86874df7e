"""Smooth random fields: cheap noise at low resolution, resized up (no per-pixel Python)."""

from __future__ import annotations

import cv2
import numpy as np


def _up(small: np.ndarray, size: int) -> np.ndarray:
    """Cubic to 8 px per cell, then linear to full size: smooth, and cheap at any size."""
    cells = small.shape[0] - 1
    mid = min(size, 8 * cells)
    out = cv2.resize(small, (mid + mid // cells, mid + mid // cells), interpolation=cv2.INTER_CUBIC)[:mid, :mid]
    if mid != size:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR)
    return out


def field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """A float32 size x size field of unit-ish variance whose features are size/cells pixels wide."""
    cells = max(2, int(cells))
    return _up(rng.standard_normal((cells + 1, cells + 1), dtype=np.float32), size)


def fbm(rng: np.random.Generator, size: int, octaves: tuple[tuple[int, float], ...]) -> np.ndarray:
    """A sum of fields: (cells, weight) per octave, summed at the finest octave's resolution."""
    res = min(size, 8 * max(c for c, _ in octaves))
    out = np.zeros((res, res), np.float32)
    for cells, weight in octaves:
        out += weight * field(rng, res, cells)
    return out if res == size else cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR)


def grain(rng: np.random.Generator, size: int, sigma: float = 1.0) -> np.ndarray:
    """Pixel-level noise (float32, N(0, sigma))."""
    noise = rng.standard_normal((size, size), dtype=np.float32)
    if sigma != 1.0:
        noise *= sigma
    return noise


def palette_image(rng: np.random.Generator, size: int, colours: np.ndarray, block: int = 2) -> np.ndarray:
    """An HxWx3 float32 image of `block`-pixel cells, each one colour picked from `colours` (rubble, ash)."""
    cells = -(-size // block)
    idx = rng.integers(0, len(colours), (cells, cells))
    small = colours[idx].astype(np.float32)
    big = cv2.resize(small, (cells * block, cells * block), interpolation=cv2.INTER_NEAREST)
    return big[:size, :size]


def blend(img: np.ndarray, colour, alpha: np.ndarray) -> None:
    """In place: img = img * (1 - alpha) + colour * alpha, for an HxWx3 image and an HxW alpha.

    `colour` is one RGB value or an HxWx3 image. One OpenCV pass (`blendLinear`), a third faster
    than the numpy expression, and blends are a good part of the cost of a scene.
    """
    alpha = np.ascontiguousarray(alpha, np.float32)
    if np.ndim(colour) == 1:
        colour = np.broadcast_to(np.asarray(colour, np.float32), img.shape).copy()
    cv2.blendLinear(img, np.ascontiguousarray(colour, np.float32), 1.0 - alpha, alpha, dst=img)


def smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """A wide Gaussian blur of a float32 HxW map, done at a quarter of the resolution (16x fewer pixels)."""
    h, w = x.shape[:2]
    small = cv2.resize(x, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / 4)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
