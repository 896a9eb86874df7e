"""Who is damaged, how badly, and what that looks like from above.

Damage classes follow xBD: 1 no-damage, 2 minor, 3 major, 4 destroyed. Each
damaged building gets a visible severity f in 0..1 from its class band; the
cues are functions of f (patches and debris, then a roof hole, then rubble
and a lost outline), and `difficulty` blurs f across the band edges so
neighbouring classes overlap the way real annotations do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from satedge.vocabulary import DAMAGE_CLASSES
from sim.scenes import texture
from sim.scenes.buildings import Building, Part
from sim.scenes.world import World, px

NO_DAMAGE, MINOR, MAJOR, DESTROYED = 1, 2, 3, 4
SUBTYPES = DAMAGE_CLASSES
UNCLASSIFIED = "un-classified"
UNCLASSIFIED_RATE = 0.01
# Visible severity band of each class, before the difficulty noise.
BANDS = {NO_DAMAGE: (0.0, 0.03), MINOR: (0.07, 0.3), MAJOR: (0.34, 0.66), DESTROYED: (0.72, 1.0)}
HOLE_FROM, RUBBLE_FROM, PATCH_FROM = 0.32, 0.69, 0.035
# How `difficulty` blurs the grades: the spread of f around its band, and the share of intact roofs with defects.
OVERLAP_PER_DIFFICULTY = 0.08
DEFECTS, DEFECTS_PER_DIFFICULTY = 0.03, 0.12


@dataclass(frozen=True)
class Disaster:
    """What one kind of event does: its damage mix, its colours, and what it does to the ground."""

    mix: tuple[float, float, float]              # minor, major, destroyed share of damaged buildings
    hazard: Callable[[np.random.Generator, World], np.ndarray]
    rubble: np.ndarray                           # colours of debris and rubble
    patch: np.ndarray                            # colours of roof patches (minor damage)
    tarp: float                                  # chance that a patch is a blue tarp
    ground: Callable[[np.random.Generator, World, np.ndarray, list[Building], np.ndarray], None]
    trees: Callable[[np.random.Generator, World, np.ndarray, np.ndarray], np.ndarray]


def _hazard_flood(rng, world: World) -> np.ndarray:
    return world.low


def _hazard_fire(rng, world: World) -> np.ndarray:
    size = world.size
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    ramp = (xx * direction[0] + yy * direction[1]) / size
    return (2.0 * ramp + texture.fbm(rng, size, ((3, 0.8), (10, 0.4)))).astype(np.float32)


def _hazard_patchy(rng, world: World) -> np.ndarray:
    return texture.fbm(rng, world.size, ((3, 0.6), (8, 0.6)))


def _hazard_broad(rng, world: World) -> np.ndarray:
    return texture.fbm(rng, world.size, ((2, 1.0), (6, 0.3)))


def _footprint_halo(size: int, buildings: list[Building], radius_px: Callable[[Building], float]) -> np.ndarray:
    halo = np.zeros((size, size), np.uint8)
    for b in buildings:
        r = radius_px(b)
        if r > 0:
            cv2.polylines(halo, [b.int_outline()], True, 255, int(2 * r))
            cv2.fillPoly(halo, [b.int_outline()], 255)
    return halo


def _affected(size: int, buildings: list[Building], hazard: np.ndarray, per_damaged: float,
              halo_px: Callable[[Building], float], base: float) -> np.ndarray:
    """0..1 float mask: the most hazardous ground (a share growing with the damaged buildings) and a halo
    around each damaged building."""
    damaged = [b for b in buildings if b.severity > 0.06]
    frac = base + per_damaged * len(damaged) / max(1, len(buildings))
    level = np.quantile(hazard[::8, ::8], 1 - frac)
    halo = _footprint_halo(size, damaged, halo_px)
    return np.maximum((hazard > level).astype(np.float32), halo.astype(np.float32) / 255.0)


def _ground_flood(rng, world: World, ground: np.ndarray, buildings: list[Building], hazard: np.ndarray) -> None:
    """Muddy water: the lowest ground, and around the damaged buildings in proportion to their damage."""
    size = world.size
    wet = _affected(size, buildings, hazard, 0.5, lambda b: px(4 + 26 * b.severity), base=0.08)
    edge = texture.field(rng, size, 40) * 0.35
    wet = texture.smooth(wet, 6) + edge
    alpha = np.clip((wet - 0.45) * 6, 0, 0.92)
    alpha *= 1.0 + 0.08 * texture.field(rng, size, 8)
    texture.blend(ground, np.array((100, 90, 66), np.float32), np.minimum(alpha, 0.95))


def _ground_fire(rng, world: World, ground: np.ndarray, buildings: list[Building], hazard: np.ndarray) -> None:
    """Burn scars: blackened and ash-grey vegetation on the hazard side and around burnt buildings."""
    size = world.size
    burnt = _affected(size, buildings, hazard, 0.6, lambda b: px(6 + 20 * b.severity), base=0.1)
    burnt = texture.smooth(burnt, 5) + texture.field(rng, size, 30) * 0.3
    alpha = np.clip((burnt - 0.4) * 4, 0, 0.95) * (0.35 + 0.65 * world.vegetation)
    mottle = np.clip(texture.fbm(rng, size, ((20, 0.7), (80, 0.5))) * 0.5 + 0.4, 0, 1)
    # Char where the mottle is low, ash where it is high: two blends, no colour image.
    texture.blend(ground, np.array((34, 32, 30), np.float32), alpha * (1 - mottle))
    texture.blend(ground, np.array((112, 106, 98), np.float32), alpha * mottle)


def _ground_dust(rng, world: World, ground: np.ndarray, buildings: list[Building], hazard: np.ndarray) -> None:
    """Earthquakes: pale dust and spilled rubble on the streets next to collapsed buildings."""
    size = world.size
    heavy = [b for b in buildings if b.severity > 0.45]
    halo = _footprint_halo(size, heavy, lambda b: px(2 + 8 * b.severity))
    dust = texture.smooth(halo.astype(np.float32) / 255.0, 3) * 0.3
    texture.blend(ground, np.array((160, 154, 142), np.float32), dust)


def _ground_storm(rng, world: World, ground: np.ndarray, buildings: list[Building], hazard: np.ndarray) -> None:
    """Hurricanes: standing water in the lowest ground and stripped, browner vegetation."""
    level = np.quantile(world.low[::8, ::8], 0.93)
    wet = texture.smooth((world.low > level).astype(np.float32), 5)
    alpha = np.clip((wet - 0.3) * 3, 0, 0.6) * (world.water == 0)
    texture.blend(ground, np.array((92, 88, 70), np.float32), alpha)
    strip = np.clip(hazard * 0.15 + 0.15, 0, 0.3) * world.vegetation
    texture.blend(ground, np.array((140, 124, 90), np.float32), strip)


def _trees_same(rng, world: World, hazard: np.ndarray, colours: np.ndarray) -> np.ndarray:
    return colours


def _trees_burnt(rng, world: World, hazard: np.ndarray, colours: np.ndarray) -> np.ndarray:
    ij = np.clip(world.trees[:, :2].astype(int), 0, world.size - 1)
    h = hazard[ij[:, 1], ij[:, 0]]
    burnt = h > np.quantile(hazard[::8, ::8], 0.55)
    out = colours.copy()
    out[burnt] = np.array((38, 36, 33), np.float32) * rng.uniform(0.8, 1.3, (int(burnt.sum()), 1))
    return out


def _trees_stripped(rng, world: World, hazard: np.ndarray, colours: np.ndarray) -> np.ndarray:
    out = colours.copy()
    hit = rng.random(len(out)) < 0.35
    out[hit] = out[hit] * 0.5 + np.array((120, 104, 76), np.float32) * 0.5
    return out


CONCRETE = np.array([(150, 148, 142), (120, 118, 112), (176, 170, 160), (96, 92, 88), (200, 196, 186),
                     (132, 112, 92)], np.float32)
WOOD = np.array([(132, 104, 76), (160, 136, 104), (96, 76, 60), (196, 188, 172), (118, 116, 112),
                 (150, 104, 84)], np.float32)
ASH = np.array([(170, 166, 160), (140, 136, 130), (60, 56, 52), (32, 30, 28), (196, 192, 186),
                (110, 84, 66)], np.float32)
MUD = np.array([(120, 100, 76), (78, 68, 54), (150, 130, 100), (160, 158, 152), (84, 74, 60),
                (186, 170, 140), (132, 104, 76), (60, 56, 50)], np.float32)
SHINGLE = np.array([(60, 56, 52), (132, 112, 88), (176, 168, 150), (96, 84, 70)], np.float32)

DISASTERS: dict[str, Disaster] = {
    "flood": Disaster((0.46, 0.40, 0.14), _hazard_flood, MUD, SHINGLE, 0.15, _ground_flood, _trees_same),
    "wildfire": Disaster((0.20, 0.20, 0.60), _hazard_fire, ASH,
                         np.array([(40, 38, 36), (70, 64, 58), (168, 162, 154)], np.float32),
                         0.0, _ground_fire, _trees_burnt),
    "earthquake": Disaster((0.34, 0.40, 0.26), _hazard_patchy, CONCRETE, SHINGLE, 0.25, _ground_dust, _trees_same),
    "hurricane": Disaster((0.46, 0.34, 0.20), _hazard_broad, WOOD, SHINGLE, 0.55, _ground_storm, _trees_stripped),
}
TARP = np.array((46, 96, 176), np.float32)


def assign(rng: np.random.Generator, buildings: list[Building], hazard: np.ndarray, kind: str,
           intensity: float, difficulty: float) -> None:
    """Damage class, visible severity and the rare un-classified flag, spatially clustered by the hazard."""
    n = len(buildings)
    if n == 0:
        return
    size = hazard.shape[0]
    c = np.array([b.centroid for b in buildings])
    ij = np.clip(np.round(c).astype(int), 0, size - 1)
    h = hazard[ij[:, 1], ij[:, 0]]
    rank = np.argsort(np.argsort(h)) / max(1, n - 1)
    score = 0.65 * rank + 0.35 * rng.random(n)
    order = np.argsort(-score)
    q = float(np.clip(intensity * rng.uniform(0.2, 1.8), 0, 0.85))
    n_damaged = int(rng.binomial(n, q))
    minor, major, destroyed = rng.multinomial(n_damaged, DISASTERS[kind].mix)
    classes = np.full(n, NO_DAMAGE)
    classes[order[:destroyed]] = DESTROYED
    classes[order[destroyed:destroyed + major]] = MAJOR
    classes[order[destroyed + major:n_damaged]] = MINOR
    unclassified = rng.random(n) < UNCLASSIFIED_RATE
    for b, cls, unc in zip(buildings, classes, unclassified):
        lo, hi = BANDS[int(cls)]
        f = lo + rng.random() * (hi - lo)
        if cls == NO_DAMAGE:
            # Some intact roofs carry a stain or an old repair that looks like the faintest minor damage.
            if rng.random() < DEFECTS + DEFECTS_PER_DIFFICULTY * difficulty:
                f = PATCH_FROM + rng.random() * 0.03
        else:
            f += rng.normal(0, OVERLAP_PER_DIFFICULTY * difficulty)
        b.damage = int(cls)
        b.unclassified = bool(unc)
        b.severity = float(np.clip(f, 0.0, 1.0))


def shadow_height(b: Building) -> float:
    """A collapsed building casts (next to) no shadow; a holed one the shadow of what still stands."""
    f = b.severity
    if f >= RUBBLE_FROM:
        return 0.0
    if f >= HOLE_FROM:
        return b.height_m * (1.0 - 0.5 * (f - HOLE_FROM) / (RUBBLE_FROM - HOLE_FROM))
    return b.height_m


def _heap(rng, b: Building, spread: float) -> list[tuple[int, int, int]]:
    """A collapsed building as a heap of overlapping lumps (fixed-point x4 circles) that blurs its outline."""
    lumps = []
    for part in b.parts:
        n = int(4 * part.a * part.b / 10) + 8
        st = rng.uniform(-spread, spread, (n, 2))
        pts = part.local(st) + rng.normal(0, px(0.8), (n, 2))
        radius = rng.uniform(px(1.0), px(2.6), n)
        lumps += [(int(x * 4), int(y * 4), int(r * 4)) for (x, y), r in zip(pts, radius)]
    return lumps


def _hole(rng, part: Part, frac: float) -> np.ndarray:
    """A missing piece of roof: one end of the part, `frac` of its length, with a broken edge."""
    frac = float(np.clip(frac, 0.12, 0.9))
    side = rng.choice((-1.0, 1.0))
    cut = 1 - 2 * frac
    ts = np.linspace(-1, 1, 7)
    edge = [(side * (cut + rng.uniform(-0.15, 0.15)), t) for t in ts]
    pts = [(side * 1.02, -1.02)] + edge + [(side * 1.02, 1.02)]
    return part.local(np.array(pts))


def _unlike(rng, colours: np.ndarray, roof: np.ndarray) -> np.ndarray:
    """One of the two colours least like the roof: exposed underlay shows against any roof."""
    far = np.argsort(-np.abs(colours - roof).sum(axis=1))[:2]
    return colours[far[int(rng.integers(len(far)))]]


def debris_points(rng, b: Building, count: int, spread: float) -> np.ndarray:
    """Points scattered around a building, more of them close to its walls."""
    outline = b.outline
    k = rng.integers(0, len(outline), count)
    t = rng.random((count, 1))
    base = outline[k] + (np.roll(outline, -1, axis=0)[k] - outline[k]) * t
    d = base - b.centroid
    d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-6
    return base + d * rng.exponential(spread, (count, 1)) + rng.normal(0, 1.0, (count, 2))


def draw(rng: np.random.Generator, img: np.ndarray, buildings: list[Building], kind: str,
         rubble_tex: np.ndarray, contrast: float) -> None:
    """Damage cues on a post image whose standing roofs are drawn already (destroyed ones are not)."""
    d = DISASTERS[kind]
    size = img.shape[0]
    rubble = np.zeros((size, size), np.uint8)
    hole = np.zeros((size, size), np.uint8)
    pieces: list[np.ndarray] = []
    for b in buildings:
        f = b.severity
        if f >= RUBBLE_FROM:
            spread = 1.0 + 0.35 * (f - RUBBLE_FROM) / (1 - RUBBLE_FROM)
            fragment = (b.colour * 0.85).tolist()
            for x, y, r in _heap(rng, b, spread):
                cv2.circle(img, (x, y), r, fragment, -1, cv2.LINE_8, 2)       # pieces of the roof...
                cv2.circle(rubble, (x, y), r, 255, -1, cv2.LINE_8, 2)         # ...mostly buried in rubble
            pieces.append(debris_points(rng, b, int(30 + 120 * f), px(3.0)))
            continue
        if f >= HOLE_FROM:
            part = b.parts[int(rng.integers(len(b.parts)))]
            frac = 0.15 + 0.75 * (f - HOLE_FROM) / (RUBBLE_FROM - HOLE_FROM)
            cv2.fillPoly(hole, [np.round(_hole(rng, part, frac) * 4).astype(np.int32)], 255, cv2.LINE_8, 2)
            pieces.append(debris_points(rng, b, int(20 + 80 * f), px(2.0)))
        if f >= PATCH_FROM:
            n = 1 + int(min(f, 0.3) * 10)
            area = (0.02 + 0.9 * min(f, 0.3)) * sum(4 * p.a * p.b for p in b.parts) / n
            for _ in range(n):
                part = b.parts[int(rng.integers(len(b.parts)))]
                w = np.sqrt(area) * rng.uniform(0.6, 1.4)
                h = area / w
                s, t = rng.uniform(-0.7, 0.7), rng.uniform(-0.7, 0.7)
                pts = part.local(np.array([(s, t)])) + np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) * 0.5 @ np.stack(
                    [part.u, part.v])
                colour = TARP if rng.random() < d.tarp else _unlike(rng, d.patch, b.colour)
                colour = b.colour + (colour - b.colour) * contrast
                cv2.fillConvexPoly(img, np.round(pts * 4).astype(np.int32), colour.tolist(), cv2.LINE_8, 2)
            pieces.append(debris_points(rng, b, int(6 + 90 * f), px(1.5)))
    u = rng.random((size, size), dtype=np.float32)
    # Rubble: lit and shadowed pieces; about one pixel in eight still shows a fragment of the roof.
    m = (rubble > 0) & (u >= 0.12)
    lit = np.where(u[m] > 0.5, 0.45, 1.0).astype(np.float32)[:, None]
    img[m] = img[m] * (1 - contrast) + rubble_tex[m] * lit * contrast
    # A hole shows the dark inside of the house, broken rafters and debris: dark and light, whatever the roof.
    m = hole > 0
    inside = np.where(u[m] < 0.12, 1.0, 0.4).astype(np.float32)[:, None]
    img[m] = img[m] * (1 - contrast) + rubble_tex[m] * inside * contrast
    if pieces:
        specks(img, np.concatenate(pieces), d.rubble, rng, contrast)


def specks(img: np.ndarray, pts: np.ndarray, colours: np.ndarray, rng, contrast: float) -> None:
    """2x2-pixel pieces of debris at the given points (vectorised)."""
    size = img.shape[0]
    p = np.round(pts).astype(int)
    ok = (p[:, 0] >= 0) & (p[:, 0] < size - 1) & (p[:, 1] >= 0) & (p[:, 1] < size - 1)
    p = p[ok]
    c = colours[rng.integers(len(colours), size=len(p))]
    for dy in (0, 1):
        for dx in (0, 1):
            y, x = p[:, 1] + dy, p[:, 0] + dx
            img[y, x] = img[y, x] * (1 - contrast) + c * contrast


def clouds(rng: np.random.Generator, img: np.ndarray, buildings: list[Building]) -> None:
    """Smoke or cloud puffs over un-classified buildings: why nobody could grade them."""
    size = img.shape[0]
    for b in buildings:
        if not b.unclassified:
            continue
        r = float(np.ptp(b.outline, axis=0).max()) * rng.uniform(0.8, 1.3)
        c = b.centroid
        m = int(r + 20)
        x0, y0 = max(0, int(c[0]) - m), max(0, int(c[1]) - m)
        x1, y1 = min(size, int(c[0]) + m), min(size, int(c[1]) + m)
        veil = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.circle(veil, (int(c[0]) - x0, int(c[1]) - y0), int(r), 1.0, -1)
        veil = cv2.GaussianBlur(veil, (0, 0), 6)[..., None] * 0.9
        patch = img[y0:y1, x0:x1]
        patch[:] = patch * (1 - veil) + np.array((214, 212, 208), np.float32) * veil
