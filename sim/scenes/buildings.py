"""Building footprints (rectangles and L-shapes, rotated) and how their roofs and shadows are drawn.

A building is a list of rectangular parts (an L-shape has two); each part has
its own roof (gable, hip or flat) whose facets are shaded by the sun, and
casts a shadow that is the hull of its footprint and the footprint moved
away from the sun by height / tan(elevation).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sim.scenes.spec import GSD_M

ROOF_COLOURS = np.array([
    (168, 88, 62), (150, 70, 52), (78, 78, 84), (108, 108, 112), (162, 160, 152), (205, 203, 196),
    (124, 96, 74), (96, 116, 96), (86, 104, 134), (186, 172, 142), (140, 130, 120), (60, 62, 66),
], np.float32)
PITCH = np.radians(28.0)
UNIT_SQUARE = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], np.float32)


@dataclass
class Part:
    """A rectangle: centre, unit axes u (the ridge) and v, half-lengths a (along u) and b (along v)."""

    centre: np.ndarray
    u: np.ndarray
    v: np.ndarray
    a: float
    b: float

    def corners(self) -> np.ndarray:
        """The four corners in image pixels, in order around the rectangle (a convex polygon for OpenCV)."""
        return self.local(UNIT_SQUARE)

    def local(self, pts) -> np.ndarray:
        """Points given as (s, t) in units of (a, b) to image coordinates."""
        pts = np.asarray(pts, np.float32)
        return self.centre + pts[:, :1] * (self.a * self.u) + pts[:, 1:] * (self.b * self.v)


@dataclass
class Building:
    """One building as drawn (footprint, roof, colour, height in metres) and its damage (grade 1..4, severity 0..1)."""

    uid: str
    outline: np.ndarray                 # (K, 2) float32 footprint in pixels, rounded to 0.01
    parts: list[Part]
    roof: str                           # gable | hip | flat
    colour: np.ndarray                  # (3,) float32 RGB albedo
    height_m: float
    solar: bool = False
    damage: int = 1                     # 1 no-damage .. 4 destroyed
    severity: float = 0.0               # 0..1, how strong the visible damage is
    unclassified: bool = False
    material: str = "plain"             # roof material (the realistic style textures roofs by it)

    @property
    def centroid(self) -> np.ndarray:
        """Mean of the outline's vertices, (x, y) in pixels: a cheap centre for placing damage and close-ups."""
        return self.outline.mean(axis=0)

    def int_outline(self) -> np.ndarray:
        """The outline rounded to int32 pixels, so the target, shadows and damage halos cover the same pixels."""
        return np.round(self.outline).astype(np.int32)


def footprint(centre, u, a: float, b: float,
              wing: tuple[float, float, int, int] | None) -> tuple[np.ndarray, list[Part]]:
    """Outline and parts of a rectangle, or of an L-shape when `wing` = (aw, bw, side_u, side_v)."""
    centre = np.asarray(centre, np.float32)
    u = np.asarray(u, np.float32)
    v = np.array([-u[1], u[0]], np.float32)
    main = Part(centre, u, v, a, b)
    if wing is None:
        return main.corners(), [main]
    aw, bw, su, sv = wing
    loc = np.array([(-a, -b), (a, -b), (a, b + 2 * bw), (a - 2 * aw, b + 2 * bw), (a - 2 * aw, b), (-a, b)], np.float32)
    loc[:, 0] *= su
    loc[:, 1] *= sv
    outline = centre + np.outer(loc[:, 0], u) + np.outer(loc[:, 1], v)
    wing_centre = centre + su * (a - aw) * u + sv * (b + bw) * v
    # The wing's ridge runs along its longer side.
    wing_part = Part(wing_centre, v, -u, bw, aw) if bw >= aw else Part(wing_centre, u, v, aw, bw)
    return outline.astype(np.float32), [main, wing_part]


def sun_vector(azimuth_deg: float) -> np.ndarray:
    """Unit vector towards the sun in image coordinates (x east, y south)."""
    az = np.radians(azimuth_deg)
    return np.array([np.sin(az), -np.cos(az)], np.float32)


def facets(part: Part, roof: str) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(polygon, downslope direction or None for flat) for each roof facet of a part."""
    if roof == "flat":
        return [(part.corners(), None)]
    if roof == "hip" and part.a > part.b * 1.15:
        r = 1.0 - part.b / part.a
        return [
            (part.local([(-1, -1), (1, -1), (r, 0), (-r, 0)]), -part.v),
            (part.local([(-1, 1), (1, 1), (r, 0), (-r, 0)]), part.v),
            (part.local([(1, -1), (1, 1), (r, 0)]), part.u),
            (part.local([(-1, -1), (-1, 1), (-r, 0)]), -part.u),
        ]
    return [
        (part.local([(-1, -1), (1, -1), (1, 0), (-1, 0)]), -part.v),
        (part.local([(-1, 0), (1, 0), (1, 1), (-1, 1)]), part.v),
    ]


def facet_brightness(down: np.ndarray | None, sun: np.ndarray, elevation_deg: float) -> float:
    """Lambert shading of a facet relative to flat ground under the same sun."""
    el = np.radians(elevation_deg)
    flat = np.sin(el)
    if down is None:
        return 1.0
    lit = np.cos(PITCH) * np.sin(el) + np.sin(PITCH) * np.cos(el) * float(np.dot(down, sun))
    return float(np.clip(lit / flat, 0.45, 1.5))


def draw_roof(img: np.ndarray, b: Building, sun: np.ndarray, elevation_deg: float) -> None:
    """Paint the sun-shaded roof facets, the rim or ridge, and any solar panel into float RGB `img`."""
    for part in b.parts:
        for poly, down in facets(part, b.roof):
            colour = b.colour * facet_brightness(down, sun, elevation_deg)
            cv2.fillConvexPoly(img, np.round(poly * 4).astype(np.int32), colour.tolist(), cv2.LINE_8, 2)
        if b.roof == "flat":
            rim = (b.colour * 0.72).tolist()
            cv2.polylines(img, [np.round(part.corners() * 4).astype(np.int32)], True, rim, 1, cv2.LINE_8, 2)
        else:
            r = 1.0 if b.roof == "gable" else max(0.0, 1.0 - part.b / part.a)
            ridge = part.local([(-r, 0), (r, 0)])
            if r > 0:
                cv2.line(img, tuple(np.round(ridge[0] * 4).astype(int)), tuple(np.round(ridge[1] * 4).astype(int)),
                         (b.colour * 1.08).tolist(), 1, cv2.LINE_8, 2)
    if b.solar:
        part = b.parts[0]
        panel = part.local([(-0.6, 0.15), (0.5, 0.15), (0.5, 0.8), (-0.6, 0.8)])
        cv2.fillConvexPoly(img, np.round(panel * 4).astype(np.int32), (34, 40, 62), cv2.LINE_8, 2)


def shadow_polygon(points: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Convex hull of `points` and `points + offset` (pixels): the shadow a prism on that footprint casts."""
    return cv2.convexHull(np.concatenate([points, points + offset]).astype(np.float32)).reshape(-1, 2)


def draw_shadow(mask: np.ndarray, b: Building, sun: np.ndarray, elevation_deg: float, height_m: float) -> None:
    """Fill each part's shadow (255) into `mask`, cast height / tan(elevation) from the sun; none at 0.2 m or less."""
    if height_m <= 0.2:
        return
    length = height_m / np.tan(np.radians(elevation_deg)) / GSD_M
    offset = -sun * length
    for part in b.parts:
        hull = shadow_polygon(part.corners(), offset)
        cv2.fillConvexPoly(mask, np.round(hull * 4).astype(np.int32), 255, cv2.LINE_8, 2)
