"""Realistic-style buildings: residential sizes, irregular footprints and roof materials.

Real residential footprints are mostly 100-350 m² (median about 150-250 m² in
suburbs of North America, Europe and Australia), rarely plain rectangles
(L- and T-plans, garages, porches and extensions) and not always square to the
street. Roofs are asphalt shingle, metal, clay/concrete tile or flat membrane
and gravel, each with its own colours and texture (`surfaces.roof_texture`).
"""

from __future__ import annotations

import numpy as np
import shapely

from sim.scenes.buildings import Building, Part
from sim.scenes.world import Settlement, px

# (albedo RGB, share among houses, share among large buildings): muted, as roofing is.
MATERIALS: dict[str, tuple[np.ndarray, float, float]] = {
    "shingle": (np.array([(92, 90, 88), (112, 104, 96), (70, 70, 72), (128, 116, 102), (84, 74, 68),
                          (140, 138, 134), (104, 92, 84)], np.float32), 0.58, 0.0),
    "metal": (np.array([(176, 178, 178), (196, 196, 192), (118, 128, 140), (138, 76, 66), (92, 110, 100),
                        (150, 152, 150)], np.float32), 0.14, 0.3),
    "tile": (np.array([(152, 90, 68), (170, 112, 84), (128, 80, 64), (146, 120, 100)], np.float32), 0.12, 0.0),
    "flat": (np.array([(182, 180, 174), (150, 148, 144), (206, 204, 198), (112, 110, 106), (164, 160, 150)],
                      np.float32), 0.16, 0.7),
}


def _material(rng: np.random.Generator, big: bool) -> tuple[str, np.ndarray]:
    names = list(MATERIALS)
    p = np.array([MATERIALS[n][2 if big else 1] for n in names])
    name = names[int(rng.choice(len(names), p=p / p.sum()))]
    colours = MATERIALS[name][0]
    return name, colours[int(rng.integers(len(colours)))] * rng.uniform(0.9, 1.1)


OVERLAP_PX = 0.5                  # added parts reach this far into the main one, so the union is one polygon


def _plan(rng: np.random.Generator, a: float, b: float) -> list[tuple[float, float, float, float]]:
    """Parts as (s, t, half-length along u, half-length along v) in the main part's frame (pixels)."""
    o = OVERLAP_PX
    parts = [(0.0, 0.0, a, b)]
    roll = rng.random()
    if roll < 0.2:                                    # L: a wing off one end of a long side
        aw, bw = a * rng.uniform(0.2, 0.4), b * rng.uniform(0.3, 0.7)
        su, sv = rng.choice((-1, 1)), rng.choice((-1, 1))
        parts.append((su * (a - aw), sv * (b + bw - o), aw, bw))
    elif roll < 0.3:                                  # T: a wing off the middle of a long side
        aw, bw = a * rng.uniform(0.2, 0.35), b * rng.uniform(0.3, 0.7)
        parts.append((rng.uniform(-0.3, 0.3) * a, rng.choice((-1, 1)) * (b + bw - o), aw, bw))
    elif roll < 0.6:                                  # a garage or extension on an end wall
        ae, be = a * rng.uniform(0.2, 0.4), b * rng.uniform(0.5, 0.9)
        su = rng.choice((-1, 1))
        parts.append((su * (a + ae - o), rng.uniform(-1, 1) * (b - be), ae, be))
    if rng.random() < 0.25:                           # a porch or bay on a long side
        ap, bp = a * rng.uniform(0.12, 0.3), px(rng.uniform(1.0, 2.2)) / 2
        parts.append((rng.uniform(-0.6, 0.6) * a, rng.choice((-1, 1)) * (b + bp - o), ap, bp))
    return parts


def outbuilding(rng: np.random.Generator, house: Building, uid: str) -> Building:
    """A shed or detached garage (4-8 m) beside or behind `house`, square to it, 2-5 m from its walls;
    placed by the caller if it fits."""
    main = house.parts[0]
    a, b = px(rng.uniform(4, 8)) / 2, px(rng.uniform(3.5, 7)) / 2
    side = rng.choice((-1.0, 1.0))
    along = rng.random() < 0.5
    gap = px(rng.uniform(2, 5))
    if along:
        centre = main.centre + side * (main.a + gap + a) * main.u + rng.uniform(-0.5, 0.5) * main.b * main.v
    else:
        centre = main.centre + side * (main.b + gap + b) * main.v + rng.uniform(-0.6, 0.6) * main.a * main.u
    part = Part(centre.astype(np.float32), main.u, main.v, a, b)
    material, colour = _material(rng, False)
    roof = "flat" if material == "flat" or rng.random() < 0.4 else "gable"
    return Building(uid=uid, outline=np.round(part.corners(), 2), parts=[part], roof=roof,
                    colour=colour.astype(np.float32), height_m=float(rng.uniform(2.2, 3.5)), material=material)


def new_building(rng: np.random.Generator, centre, u, s: Settlement, big: bool,
                 uid: str) -> tuple[np.ndarray, Building]:
    """A house or a large building near `centre`, its main axis near `u`; (outline, Building)."""
    if big:
        a, b = px(rng.uniform(14, 40)) / 2, px(rng.uniform(12, 28)) / 2
        roof = "flat"
        height = rng.uniform(5, 14)
    else:
        a, b = px(rng.uniform(*s.house)) / 2, px(rng.uniform(s.house[0] * 0.7, s.house[1] * 0.85)) / 2
        roof = "gable" if rng.random() < 0.5 else ("hip" if rng.random() < 0.8 else "flat")
        height = rng.uniform(3.5, 8)
    if b > a:
        a, b = b, a
        u = np.array([-u[1], u[0]], np.float32)
    angle = rng.normal(0, 0.08) if rng.random() < 0.85 else rng.uniform(-0.6, 0.6)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    u = (rot @ np.asarray(u, np.float32)).astype(np.float32)
    v = np.array([-u[1], u[0]], np.float32)
    centre = np.asarray(centre, np.float32)
    parts = []
    for s_, t_, pa, pb in (_plan(rng, a, b) if not big or rng.random() < 0.4 else [(0.0, 0.0, a, b)]):
        c = centre + s_ * u + t_ * v
        # Each part's ridge runs along its longer side.
        parts.append(Part(c, u, v, pa, pb) if pa >= pb else Part(c, v, -u, pb, pa))
    union = shapely.unary_union([shapely.Polygon(p.corners()) for p in parts])
    if union.geom_type != "Polygon":                  # cannot happen with the overlap; keep the main part
        parts = parts[:1]
        union = shapely.Polygon(parts[0].corners())
    outline = np.asarray(shapely.simplify(union, 0.05).exterior.coords, np.float32)[:-1]
    material, colour = _material(rng, big)
    if material == "flat":
        roof = "flat"
    b_ = Building(uid=uid, outline=np.round(outline, 2), parts=parts, roof=roof, colour=colour.astype(np.float32),
                  height_m=float(height), solar=bool(rng.random() < 0.05), material=material)
    return outline, b_
