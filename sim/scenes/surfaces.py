"""Realistic-style surface texture: every surface is textured at several scales, as real ones are.

Lawns, soil, asphalt and gravel vary over metres (wear, moisture, mowing) and
from pixel to pixel (tufts, stones, cracks); roofs carry rows of shingle tabs,
metal ribs or tile courses along their slope, stains and patches; tree crowns
are clumps of lit and shadowed foliage with gaps. All multiplicative
factors around 1, drawn on the 0.5 m drawing grid before the sensor sees them.
"""

from __future__ import annotations

import cv2
import numpy as np

from sim.scenes import texture
from sim.scenes.buildings import Building

# Per roof material: (amplitude of pixel-scale mottling, amplitude of rows along the slope, row period in px).
ROOF_TEXTURE = {"shingle": (0.10, 0.07, 2.2), "metal": (0.04, 0.12, 1.6), "tile": (0.08, 0.12, 2.6),
                "flat": (0.09, 0.0, 1.0), "plain": (0.0, 0.0, 1.0)}
MARKING = np.array((196, 190, 160), np.float32)


def ground_texture(rng: np.random.Generator, size: int, vegetation: np.ndarray) -> np.ndarray:
    """Multiplicative ground texture: metre-scale patches, pixel grain and clutter (tufts, stones, litter,
    small dark and bright things), all stronger on vegetation than on pavement."""
    patches = texture.fbm(rng, size, ((size // 64, 0.5), (size // 16, 0.4)))
    grain = cv2.GaussianBlur(texture.grain(rng, size), (0, 0), 0.55) * 1.8
    u = rng.random((size, size), dtype=np.float32)
    clutter = np.where(u < 0.03, -0.45, np.where(u > 0.985, 0.35, 0.0)).astype(np.float32)
    clutter = cv2.GaussianBlur(clutter, (3, 3), 0.8) * 1.6
    amp = 0.07 + 0.09 * vegetation
    return (1.0 + amp * (patches + grain) + clutter).astype(np.float32)


def roof_texture(rng: np.random.Generator, ground: np.ndarray, buildings: list[Building],
                 offsets: list[np.ndarray]) -> np.ndarray:
    """`ground`'s multiplicative texture with each roof's own laid over it (mottling, rows along the slope,
    stains); each building's parts are moved by its offset (the roof's lean)."""
    out = ground.copy()
    shape = ground.shape
    fine = cv2.GaussianBlur(texture.grain(rng, shape[0]), (0, 0), 0.6) * 1.5
    stain = texture.field(rng, shape[0], shape[0] // 24)
    for b, d in zip(buildings, offsets):
        mottle, rows, period = ROOF_TEXTURE[b.material]
        if mottle == 0 and rows == 0:
            continue
        for part in b.parts:
            corners = part.corners() + d
            lo = np.maximum(np.floor(corners.min(0)).astype(int), 0)
            hi = np.minimum(np.ceil(corners.max(0)).astype(int) + 1, shape[0])
            if np.any(hi <= lo):
                continue
            yy, xx = np.mgrid[lo[1]:hi[1], lo[0]:hi[0]].astype(np.float32)
            # Rows run along the ridge, so they repeat down the slope (across v).
            t = (xx - part.centre[0] - d[0]) * part.v[0] + (yy - part.centre[1] - d[1]) * part.v[1]
            value = 1.0 + mottle * fine[lo[1]:hi[1], lo[0]:hi[0]] + rows * np.sin(t * (2 * np.pi / period)) \
                + 0.05 * stain[lo[1]:hi[1], lo[0]:hi[0]]
            mask = np.zeros(value.shape, np.uint8)
            cv2.fillConvexPoly(mask, np.round((corners - lo) * 4).astype(np.int32), 1, cv2.LINE_8, 2)
            region = out[lo[1]:hi[1], lo[0]:hi[0]]
            region[mask > 0] = value[mask > 0]
    return out


def canopy(rng: np.random.Generator, img: np.ndarray, trees: np.ndarray, colours: np.ndarray,
           sun: np.ndarray, shadows: np.ndarray) -> np.ndarray:
    """Irregular crowns of a few overlapping lobes, lit towards the sun; returns the crown mask (u8)."""
    mask = np.zeros(img.shape[:2], np.uint8)
    for (x, y, r), c in zip(trees, colours):
        lobes = 1 + int(r > 4) + int(rng.integers(0, 3))
        for _ in range(lobes):
            dx, dy = rng.normal(0, 0.35 * r, 2)
            rr = r * rng.uniform(0.55, 0.85) if lobes > 1 else r
            centre = (int((x + dx) * 4), int((y + dy) * 4))
            cv2.circle(img, centre, int(rr * 4), c.tolist(), -1, cv2.LINE_8, 2)
            cv2.circle(mask, centre, int(rr * 4), 255, -1, cv2.LINE_8, 2)
            cv2.circle(shadows, centre, int(rr * 4 * 0.8), 0, -1, cv2.LINE_8, 2)
            hx, hy = x + dx + sun[0] * rr * 0.3, y + dy + sun[1] * rr * 0.3
            cv2.circle(img, (int(hx * 4), int(hy * 4)), int(rr * 4 * 0.5), (c * 1.2).tolist(), -1, cv2.LINE_8, 2)
    return mask


def foliage(rng: np.random.Generator, size: int) -> np.ndarray:
    """Multiplicative leaf texture: strong, clumpy, about a metre across, with dark gaps."""
    leaves = cv2.GaussianBlur(texture.grain(rng, size), (0, 0), 1.0) * 2.2
    return np.clip(1.0 + 0.28 * leaves, 0.35, 1.6).astype(np.float32)


def road_markings(rng: np.random.Generator, ground: np.ndarray, segments: list, water: np.ndarray) -> None:
    """Centre lines (dashed on most streets, solid on a few wide ones) painted into the ground, in place."""
    paint = np.zeros(ground.shape[:2], np.uint8)
    for p0, p1, width, along, _ in segments:
        if width < 12 or rng.random() < 0.3:          # narrow residential streets often have none
            continue
        length = float(np.linalg.norm(p1 - p0))
        dash, gap = (6.0, 12.0) if rng.random() < 0.75 else (length, 0.0)
        t = 0.0
        while t < length:
            a, b = p0 + along * t, p0 + along * min(t + dash, length)
            cv2.line(paint, tuple(np.round(a * 4).astype(int)), tuple(np.round(b * 4).astype(int)), 255, 1,
                     cv2.LINE_8, 2)
            t += dash + gap
    paint[water > 0] = 0
    texture.blend(ground, MARKING, paint.astype(np.float32) / 255.0 * 0.7)
