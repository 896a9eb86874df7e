"""Realistic-style surface texture: every surface is textured at several scales, as real ones are.

Lawns, soil, asphalt and gravel vary over metres (wear, moisture, mowing) and
from pixel to pixel (tufts, stones, cracks); roofs carry rows of shingle tabs,
metal ribs or tile courses along their slope, stains and patches; tree crowns
are clumps of lit and shadowed foliage with gaps. All multiplicative
factors around 1, drawn on the 0.5 m drawing grid before the sensor sees them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sim.scenes import texture
from sim.scenes.buildings import Building

# Per roof material: (amplitude of pixel-scale mottling, amplitude of rows along the slope, row period in px).
ROOF_TEXTURE = {"shingle": (0.10, 0.07, 2.2), "metal": (0.04, 0.12, 1.6), "tile": (0.08, 0.12, 2.6),
                "flat": (0.09, 0.0, 1.0), "plain": (0.0, 0.0, 1.0)}
MARKING = np.array((196, 190, 160), np.float32)


def pixel_grain(rng: np.random.Generator, size: int) -> np.ndarray:
    """Pixel-scale grain (unit white noise, slightly blurred). Ground, roofs and crowns texture disjoint
    pixels (a roof's or a crown's texture replaces the ground's), so one field serves all three."""
    return cv2.GaussianBlur(texture.grain(rng, size), (0, 0), 0.6)


def ground_texture(rng: np.random.Generator, size: int, vegetation: np.ndarray, grain: np.ndarray) -> np.ndarray:
    """Multiplicative ground texture: metre-scale patches, pixel grain and clutter (tufts, stones, litter,
    small dark and bright things), all stronger on vegetation than on pavement."""
    patches = texture.fbm(rng, size, ((size // 64, 0.5), (size // 16, 0.4)))
    u = rng.random((size, size), dtype=np.float32)
    clutter = np.where(u < 0.03, -0.45, np.where(u > 0.985, 0.35, 0.0)).astype(np.float32)
    clutter = cv2.GaussianBlur(clutter, (3, 3), 0.8) * 1.6
    amp = 0.09 + 0.09 * vegetation
    return (1.0 + amp * (patches + 1.8 * grain) + clutter).astype(np.float32)


@dataclass(frozen=True)
class Crowns:
    """Every crown as a few overlapping lobes, laid out once per scene so pre and post show the same trees."""

    centres: np.ndarray         # (K, 2) lobe centres, px
    radii: np.ndarray           # (K,) lobe radii, px
    index: np.ndarray           # HxW int32: the tree a pixel's crown belongs to, -1 where there is none
    core: np.ndarray            # HxW bool: the inner crown, which stands above any shadow


def crowns(rng: np.random.Generator, trees: np.ndarray, size: int) -> Crowns:
    """Irregular crowns: 1-4 lobes per tree (more for big trees) scattered around its centre."""
    counts = 1 + (trees[:, 2] > 4).astype(int) + rng.integers(0, 3, len(trees))
    tree = np.repeat(np.arange(len(trees)), counts)
    r = trees[tree, 2]
    centres = trees[tree, :2] + rng.normal(0, 1, (len(tree), 2)) * (0.35 * r)[:, None]
    radii = np.where(counts[tree] > 1, r * rng.uniform(0.55, 0.85, len(tree)), r).astype(np.float32)
    index = np.full((size, size), -1, np.int32)
    core = np.zeros((size, size), np.uint8)
    for (x, y), rr, t in zip(centres, radii, tree):
        centre = (int(x * 4), int(y * 4))
        cv2.circle(index, centre, int(rr * 4), int(t), -1, cv2.LINE_8, 2)
        cv2.circle(core, centre, int(rr * 4 * 0.8), 1, -1, cv2.LINE_8, 2)
    return Crowns(centres.astype(np.float32), radii, index, core > 0)


def roof_grain(rng: np.random.Generator, grain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fine mottling and the broad stains of roofing, drawn once per scene (a roof is the same roof pre
    and post, wherever the lean puts it)."""
    return grain * np.float32(1.5), texture.field(rng, grain.shape[0], grain.shape[0] // 24)


def roof_texture(ground: np.ndarray, grain: tuple[np.ndarray, np.ndarray], buildings: list[Building],
                 offsets: list[np.ndarray]) -> np.ndarray:
    """`ground`'s multiplicative texture with each roof's own laid over it (mottling, rows along the slope,
    stains); each building's parts are moved by its offset (the roof's lean)."""
    out = ground.copy()
    shape = ground.shape
    fine, stain = grain
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


def canopy(img: np.ndarray, layout: Crowns, colours: np.ndarray, sun: np.ndarray,
           shadows: np.ndarray) -> np.ndarray:
    """Paint the crowns in their colours, each lobe lit towards the sun; clear shadows under crown cores.
    Returns the crown mask."""
    crown = layout.index >= 0
    img[crown] = colours[layout.index[crown]]
    lit = np.zeros(crown.shape, np.uint8)
    for (x, y), rr in zip(layout.centres, layout.radii):
        centre = (int((x + sun[0] * rr * 0.3) * 4), int((y + sun[1] * rr * 0.3) * 4))
        cv2.circle(lit, centre, int(rr * 4 * 0.5), 1, -1, cv2.LINE_8, 2)
    lit_crown = (lit > 0) & crown
    img[lit_crown] *= 1.2
    shadows[layout.core] = 0
    return crown


def foliage(grain: np.ndarray) -> np.ndarray:
    """Multiplicative leaf texture: strong, clumpy, with dark gaps."""
    return np.clip(1.0 + 0.7 * grain, 0.3, 1.7).astype(np.float32)


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
    painted = (paint > 0) & (water == 0)
    ground[painted] = ground[painted] * 0.3 + MARKING * 0.7
