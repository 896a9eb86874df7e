"""The static world of one scene: ground cover, roads, water, fields, buildings and trees.

It is what pre and post images have in common; the disaster and the two
acquisitions (sun, haze, sensor) are applied to it afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from sim.scenes import texture
from sim.scenes.buildings import ROOF_COLOURS, Building, footprint
from sim.scenes.spec import GSD_M


def px(metres: float) -> float:
    """Metres on the ground to pixels at GSD_M."""
    return metres / GSD_M


@dataclass(frozen=True)
class Settlement:
    """How a neighbourhood is built: street spacing, lot sizes and how full the lots are (metres)."""

    block: tuple[float, float]
    road: tuple[float, float]
    house: tuple[float, float]          # side of a typical building
    lot_gap: tuple[float, float]        # space between neighbours along a street
    setback: tuple[float, float]        # front yard depth
    rows: int                           # rows of buildings behind each street front
    big: float                          # share of large (commercial, flat-roofed) buildings
    density: float                      # share of lots that hold a building
    infill: int                         # extra random placements per 1024x1024 scene
    trees: float                        # trees per 100 m^2 of open ground
    vegetation: float                   # bias of the ground towards green
    roads_kept: float                   # share of grid streets that run the full scene
    sidewalk: float                     # metres of pavement each side of the road


SETTLEMENTS: dict[str, Settlement] = {
    "dense": Settlement(block=(50, 75), road=(7, 10), house=(8, 16), lot_gap=(0.5, 2), setback=(1.5, 4), rows=2,
                        big=0.22, density=1.0, infill=400, trees=0.05, vegetation=-0.8, roads_kept=0.9,
                        sidewalk=2.0),
    "suburban": Settlement(block=(70, 110), road=(6, 8), house=(9, 15), lot_gap=(3, 8), setback=(4, 9), rows=1,
                           big=0.05, density=0.85, infill=60, trees=0.16, vegetation=0.3, roads_kept=0.6,
                           sidewalk=1.5),
    "sparse": Settlement(block=(140, 260), road=(5, 7), house=(8, 14), lot_gap=(10, 40), setback=(5, 15), rows=1,
                         big=0.03, density=0.45, infill=25, trees=0.22, vegetation=0.7, roads_kept=0.3,
                         sidewalk=0.0),
}
SETTLEMENT_WEIGHTS = {"dense": 0.3, "suburban": 0.45, "sparse": 0.25}

GRASS = np.array((82, 104, 56), np.float32)
DRY = np.array((148, 138, 96), np.float32)
SOIL = np.array((146, 122, 94), np.float32)
PAVED = np.array((150, 146, 138), np.float32)
ASPHALT = np.array((82, 82, 86), np.float32)
WATER = np.array((38, 62, 74), np.float32)
CONCRETE = np.array((172, 168, 158), np.float32)
CROPS = np.array([(96, 124, 60), (150, 140, 90), (120, 104, 78), (70, 100, 52), (170, 160, 110)], np.float32)
TREE_COLOURS = np.array([(44, 70, 36), (52, 78, 40), (38, 60, 34), (62, 84, 46)], np.float32)


@dataclass
class World:
    """What the pre and post images share: ground, masks, buildings and trees of a `size`² pixel scene."""

    size: int
    settlement: str
    ground: np.ndarray          # HxWx3 float32 albedo (roads, water and fields included)
    vegetation: np.ndarray      # HxW float32 0..1
    water: np.ndarray           # HxW uint8 0/255
    roads: np.ndarray           # HxW uint8 0/255
    low: np.ndarray             # HxW float32, low ground (floods fill it first)
    buildings: list[Building]
    trees: np.ndarray           # (N, 3) float32: x, y, radius in px
    tree_colour: np.ndarray     # (N, 3) float32
    texture: np.ndarray         # HxW float32 multiplicative grain shared by both acquisitions
    segments: list = field(default_factory=list)   # streets: (p0, p1, width, along, across) in px


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _street_grid(rng, size: int, s: Settlement, roads: np.ndarray, kerbs: np.ndarray) -> tuple[list, np.ndarray]:
    """Draw a rotated street grid into `roads` (and its sidewalks into `kerbs`); return segments and axis."""
    theta = rng.uniform(0, np.pi / 2)
    u = np.array([np.cos(theta), np.sin(theta)], np.float32)
    v = np.array([-u[1], u[0]], np.float32)
    centre = np.array([size / 2, size / 2], np.float32) + rng.uniform(-40, 40, 2).astype(np.float32)
    half = size * 0.75
    segments = []
    for axis, across in ((u, v), (v, u)):
        spacing = px(rng.uniform(*s.block))
        offsets = np.arange(-half, half, spacing) + rng.uniform(0, spacing)
        for off in offsets:
            width = px(rng.uniform(*s.road))
            mid = centre + off * across
            if rng.random() < s.roads_kept:
                t0, t1 = -half, half
            else:
                t0 = rng.uniform(-half, 0)
                t1 = t0 + rng.uniform(0.2, 0.8) * size
                if rng.random() < 0.35:
                    continue
            p0, p1 = mid + t0 * axis, mid + t1 * axis
            a, b = tuple(np.round(p0 * 4).astype(int)), tuple(np.round(p1 * 4).astype(int))
            cv2.line(roads, a, b, 255, max(2, int(round(width))), cv2.LINE_8, 2)
            if s.sidewalk:
                cv2.line(kerbs, a, b, 255, int(round(width + 2 * px(s.sidewalk))), cv2.LINE_8, 2)
            segments.append((p0, p1, width, axis, across))
    return segments, u


def _water(rng, size: int) -> np.ndarray:
    """A lake or a meandering river in some scenes."""
    water = np.zeros((size, size), np.uint8)
    roll = rng.random()
    if roll < 0.25:
        t = np.linspace(-0.2, 1.2, 40)
        wobble = texture.field(rng, 64, 4)[0, :40] * size * 0.08
        horizontal = rng.random() < 0.5
        base = rng.uniform(0.1, 0.9) * size
        pts = np.stack([t * size, base + wobble + (t - 0.5) * rng.uniform(-0.4, 0.4) * size], 1)
        if not horizontal:
            pts = pts[:, ::-1]
        cv2.polylines(water, [np.round(pts * 4).astype(np.int32)], False, 255, int(px(rng.uniform(15, 45))),
                      cv2.LINE_8, 2)
    elif roll < 0.45:
        lake = texture.field(rng, size, 3) + 1.2 * _blob(size, rng)
        water[lake > 1.6] = 255
    return water


def _blob(size: int, rng) -> np.ndarray:
    c = rng.uniform(0, size, 2)
    yy, xx = np.mgrid[0:size:8, 0:size:8].astype(np.float32)
    d = np.hypot(xx - c[0], yy - c[1]) / (size * 0.25)
    small = np.exp(-d ** 2).astype(np.float32)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)


def _fields(rng, size: int, ground: np.ndarray, weight: np.ndarray) -> None:
    """Farm fields: a rotated grid of rectangles of crop colours, where `weight` allows."""
    theta = rng.uniform(0, np.pi / 2)
    cell = px(rng.uniform(40, 110))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    a = (xx * np.cos(theta) + yy * np.sin(theta)) / cell
    b = (-xx * np.sin(theta) + yy * np.cos(theta)) / (cell * rng.uniform(0.5, 2.0))
    ids = (np.floor(a).astype(np.int32) * 7919 + np.floor(b).astype(np.int32) * 104729) % len(CROPS)
    texture.blend(ground, CROPS[ids], weight)


def _ground(rng, size: int, s: Settlement, settlement: str) -> tuple[np.ndarray, np.ndarray]:
    veg = texture.fbm(rng, size, ((3, 0.8), (12, 0.45), (48, 0.25))) * 0.5 + s.vegetation
    veg = 1.0 / (1.0 + np.exp(-2.5 * veg))
    dryness = texture.fbm(rng, size, ((4, 0.6), (24, 0.3)))
    ground = np.empty((size, size, 3), np.float32)
    ground[:] = GRASS
    texture.blend(ground, DRY, np.clip(0.5 + 0.4 * dryness, 0, 1))
    texture.blend(ground, SOIL if settlement != "dense" else PAVED, 1.0 - veg)
    if settlement == "sparse" and rng.random() < 0.8:
        farm = np.clip(texture.field(rng, size, 2) * 1.5 + 0.3, 0, 1).astype(np.float32)
        _fields(rng, size, ground, farm * (veg > 0.4))
    return ground, veg.astype(np.float32)


def try_place(occupied: np.ndarray, outline: np.ndarray, gap: int) -> bool:
    """True (and mark it) if the outline is inside the scene and does not touch anything placed."""
    size = occupied.shape[0]
    lo = np.floor(outline.min(0)).astype(int) - gap
    hi = np.ceil(outline.max(0)).astype(int) + gap + 1
    if lo.min() < 2 or hi.max() > size - 2:
        return False
    patch = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.uint8)
    poly = np.round(outline - lo).astype(np.int32)
    cv2.fillPoly(patch, [poly], 255)
    if gap:
        cv2.polylines(patch, [poly], True, 255, 2 * gap + 1)
    region = occupied[lo[1]:hi[1], lo[0]:hi[0]]
    if np.any(region & patch):
        return False
    region |= patch
    return True


def _new_building(rng, centre, u, s: Settlement, big: bool, uid: str) -> tuple[np.ndarray, Building]:
    if big:
        a, b = px(rng.uniform(10, 26)), px(rng.uniform(8, 18))
        roof = "flat"
        height = rng.uniform(6, 16)
    else:
        a, b = px(rng.uniform(*s.house)) / 2, px(rng.uniform(s.house[0] * 0.7, s.house[1] * 0.85)) / 2
        roof = "gable" if rng.random() < 0.55 else ("hip" if rng.random() < 0.75 else "flat")
        height = rng.uniform(3.5, 8)
    if b > a:
        a, b = b, a
        u = np.array([-u[1], u[0]], np.float32)
    wing = None
    if rng.random() < 0.28:
        wing = (a * rng.uniform(0.3, 0.5), b * rng.uniform(0.4, 0.8), int(rng.choice((-1, 1))),
                int(rng.choice((-1, 1))))
    angle = rng.normal(0, 0.06)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    u = rot @ u
    outline, parts = footprint(centre, u, a, b, wing)
    colour = ROOF_COLOURS[rng.integers(len(ROOF_COLOURS))] * rng.uniform(0.88, 1.12)
    b_ = Building(uid=uid, outline=np.round(outline, 2), parts=parts, roof=roof, colour=colour.astype(np.float32),
                  height_m=float(height), solar=bool(rng.random() < 0.07))
    return outline, b_


def new_uid(rng) -> str:
    """A random UUID-4-shaped building id, drawn from `rng` (so reproducible by seed)."""
    h = rng.integers(0, 2 ** 32, 4, dtype=np.uint64)
    x = "".join(f"{int(v):08x}" for v in h)
    return f"{x[:8]}-{x[8:12]}-4{x[13:16]}-a{x[17:20]}-{x[20:32]}"


def _buildings(rng, size: int, s: Settlement, segments, axis, occupied: np.ndarray, density: np.ndarray,
               new_building: Callable = _new_building):
    """Rows of buildings facing the streets (with driveways), then infill where it is dense."""
    buildings: list[Building] = []
    drives: list[tuple[np.ndarray, np.ndarray]] = []
    for p0, p1, width, along, across in segments:
        length = float(np.linalg.norm(p1 - p0))
        t = rng.uniform(0, px(6))
        while t < length:
            p = p0 + along * t
            step = px(s.house[0])
            for side in (-1, 1):
                depth = width / 2 + px(s.sidewalk + rng.uniform(*s.setback))
                for row in range(s.rows):
                    big = rng.random() < s.big
                    half = px(rng.uniform(*s.house) * (1.6 if big else 1.0)) / 2
                    centre = p + side * across * (depth + half)
                    depth += 2 * half + px(rng.uniform(1, 4))
                    if not (0 <= centre[0] < size and 0 <= centre[1] < size):
                        break
                    ci = np.minimum(centre.astype(int), size - 1)
                    if occupied[ci[1], ci[0]] or rng.random() > s.density * density[ci[1], ci[0]]:
                        continue
                    outline, b = new_building(rng, centre, along, s, big, new_uid(rng))
                    if try_place(occupied, outline, gap=2):
                        buildings.append(b)
                        step = max(step, float(np.ptp(outline @ along)))
                        if row == 0 and s.sidewalk < 2:
                            drives.append((centre, p + side * across * width / 2))
            t += step + px(rng.uniform(*s.lot_gap))
    for _ in range(int(s.infill * (size / 1024) ** 2)):
        centre = rng.uniform(0, size, 2).astype(np.float32)
        ci = np.round(centre).astype(int).clip(0, size - 1)
        if occupied[ci[1], ci[0]] or rng.random() > density[ci[1], ci[0]]:
            continue
        outline, b = new_building(rng, centre, axis, s, rng.random() < s.big * 2, new_uid(rng))
        if try_place(occupied, outline, gap=3):
            buildings.append(b)
    return buildings, drives


def _trees(rng, size: int, s: Settlement, veg: np.ndarray, blocked: np.ndarray):
    n = int(s.trees * (size * GSD_M) ** 2 / 100 * 1.4)
    pts = rng.uniform(0, size, (n, 2)).astype(np.float32)
    # Trees grow in clumps: keep a candidate where a clumping field and the vegetation agree.
    clump = texture.field(rng, size, 10)
    ij = np.clip(pts.astype(int), 0, size - 1)
    keep = (rng.random(n) < veg[ij[:, 1], ij[:, 0]] * (0.4 + 0.6 * (clump[ij[:, 1], ij[:, 0]] > 0))) & \
           (blocked[ij[:, 1], ij[:, 0]] == 0)
    pts = pts[keep]
    radius = px(rng.uniform(1.6, 4.8, len(pts))).astype(np.float32)
    colour = TREE_COLOURS[rng.integers(len(TREE_COLOURS), size=len(pts))] * rng.uniform(0.85, 1.15, (len(pts), 1))
    return np.column_stack([pts, radius]).astype(np.float32), colour.astype(np.float32)


def build_world(rng: np.random.Generator, size: int, settlements: dict[str, Settlement] | None = None,
                new_building: Callable = _new_building, tree_clearance: int = 0) -> World:
    """A random `size`² world: a settlement type, then ground, water, streets, buildings, drives and trees.

    The defaults draw the classic style; another style passes its own settlements and building maker,
    and a `tree_clearance` (px) that lets crowns stand that close to roofs and streets, over their edges.
    """
    settlements = SETTLEMENTS if settlements is None else settlements
    settlement = _pick(rng, SETTLEMENT_WEIGHTS)
    s = settlements[settlement]
    ground, veg = _ground(rng, size, s, settlement)
    water = _water(rng, size)
    roads = np.zeros((size, size), np.uint8)
    kerbs = np.zeros((size, size), np.uint8)
    segments, axis = _street_grid(rng, size, s, roads, kerbs)
    roads[water > 0] = 0
    kerbs[water > 0] = 0
    occupied = cv2.dilate(roads | kerbs | water, np.ones((3, 3), np.uint8))
    # Neighbourhoods thin out and thicken across a scene.
    density = np.clip(0.8 + 0.4 * texture.field(rng, size, 3), 0.1, 1.0)
    buildings, drives = _buildings(rng, size, s, segments, axis, occupied, density, new_building)
    blocked = cv2.erode(occupied, np.ones((2 * tree_clearance + 1,) * 2, np.uint8)) if tree_clearance else occupied
    trees, tree_colour = _trees(rng, size, s, veg, blocked)
    paved = kerbs
    for a, b in drives:
        cv2.line(paved, tuple(np.round(a * 4).astype(int)), tuple(np.round(b * 4).astype(int)), 255,
                 int(px(rng.uniform(2.5, 3.5))), cv2.LINE_8, 2)
    ground[paved > 0] = CONCRETE * rng.uniform(0.85, 1.05)
    low = texture.fbm(rng, size, ((2, 1.0), (6, 0.4)))
    low += (water > 0) * 2.0
    low = texture.smooth(low, 25) if water.any() else low
    ground[roads > 0] = ASPHALT
    texture.blend(ground, WATER, cv2.GaussianBlur(water.astype(np.float32) / 255.0, (0, 0), 1.5))
    return World(size=size, settlement=settlement, ground=ground, vegetation=veg, water=water, roads=roads,
                 low=low.astype(np.float32), buildings=buildings, trees=trees, tree_colour=tree_colour,
                 texture=1.0 + texture.grain(rng, size, 0.06), segments=segments)
