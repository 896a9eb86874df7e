"""The realistic style (`satedge scenes --style realistic`): the classic world made to look like real imagery.

Same events, hazards and damage grades as the classic style, drawn differently:
larger, irregular, textured buildings (`houses`) with roof materials, fewer of
them; texture at several scales on every surface and crown (`surfaces`); road
markings; trees allowed over roof edges and streets; buildings leaning away
from the satellite (walls visible on one side, pre and post leaning
differently); blue tarps on damaged roofs and debris fields around destroyed
buildings; and a sensor model (`sensor`) with haze, muted colour, MTF blur
and sharpening, signal-dependent noise, JPEG and a different sensor for pre
and post. The scene is drawn on a 0.5 m grid and resampled to the event's
GSD (0.3-0.8 m), labels scaled with it.

What the labels say: the footprint is where the post image shows the roof
(lean included, as annotators outline roofs); a crown over a roof does not
cut the footprint (annotators draw the building under it, as in xBD); a tarp is
on a minor or major building, never on an intact one.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from sim.scenes import damage, houses, surfaces, texture
from sim.scenes.buildings import Building, Part, draw_roof, sun_vector
from sim.scenes.damage import DISASTERS, RUBBLE_FROM
from sim.scenes.scene import SHADOW_DEPTH, Acquisition, Scene, _cars, rasterize, shadow_mask
from sim.scenes.sensor import Sensor, expose, lean
from sim.scenes.spec import GSD_M, SceneSpec
from sim.scenes.world import DRY, GRASS, SETTLEMENTS, World, build_world, new_uid, px, try_place

# Residential plots as measured in suburbs: houses of 11-19 m, wider gaps, fewer infill buildings.
SETTLEMENTS_REALISTIC = {
    "dense": dataclasses.replace(SETTLEMENTS["dense"], block=(60, 95), house=(10, 18), lot_gap=(1.5, 4),
                                 setback=(2, 5), big=0.2, density=0.9, infill=120, trees=0.08),
    "suburban": dataclasses.replace(SETTLEMENTS["suburban"], block=(80, 140), road=(7, 11), house=(11, 19),
                                    lot_gap=(6, 16), setback=(6, 11), big=0.04, density=0.8, infill=20,
                                    trees=0.3),
    "sparse": dataclasses.replace(SETTLEMENTS["sparse"], house=(10, 18), lot_gap=(15, 50), density=0.4, infill=12,
                                  trees=0.3),
}
TREE_CLEARANCE_PX = 4           # crown centres may stand this close to roofs and streets
WALL = np.array((150, 146, 140), np.float32)
LUSH = GRASS * np.float32(0.85)
TARP_COLOURS = np.array([(46, 96, 176), (40, 84, 150), (66, 120, 190), (150, 150, 146)], np.float32)
TARP_SHARE = 0.3                # of minor and major roofs (not after wildfires: nothing left to cover)
DEBRIS_FIELD_M = 9.0            # mean throw of debris around a destroyed building
SHRUBS_PER_100M2 = 0.35         # bushes and hedges on fully green open ground
OUTBUILDINGS = 0.15             # share of houses with a shed or detached garage (labelled: they are buildings)
SHRUB_COLOURS = np.array([(52, 74, 40), (60, 82, 44), (44, 62, 38), (74, 88, 52)], np.float32)


def _outbuildings(rng: np.random.Generator, world: World) -> None:
    """Sheds and detached garages next to some houses, where they touch nothing (streets, water, buildings)."""
    occupied = cv2.dilate(world.roads | world.water, np.ones((3, 3), np.uint8))
    occupied |= cv2.dilate(rasterize(world.buildings, world.size, lambda b: 255), np.ones((5, 5), np.uint8))
    for house in list(world.buildings):
        if house.roof == "flat" and house.material in ("flat", "metal") or rng.random() >= OUTBUILDINGS:
            continue
        shed = houses.outbuilding(rng, house, new_uid(rng))
        if try_place(occupied, shed.outline, gap=2):
            world.buildings.append(shed)


def _shrubs(rng: np.random.Generator, world: World) -> None:
    """Add bushes (crowns of 0.7-1.5 m radius) to the world's trees: small, dark, everywhere in yards."""
    size = world.size
    n = int(SHRUBS_PER_100M2 * (size * GSD_M) ** 2 / 100)
    pts = rng.uniform(0, size, (n, 2)).astype(np.float32)
    ij = np.clip(pts.astype(int), 0, size - 1)
    free = (world.roads == 0) & (world.water == 0)
    free = free & (rasterize(world.buildings, size) == 0)
    keep = free[ij[:, 1], ij[:, 0]] & (rng.random(n) < world.vegetation[ij[:, 1], ij[:, 0]])
    radius = px(rng.uniform(0.7, 1.5, int(keep.sum()))).astype(np.float32)
    colour = SHRUB_COLOURS[rng.integers(len(SHRUB_COLOURS), size=len(radius))]
    colour = colour * rng.uniform(0.85, 1.15, (len(radius), 1))
    world.trees = np.concatenate([world.trees, np.column_stack([pts[keep], radius]).astype(np.float32)])
    world.tree_colour = np.concatenate([world.tree_colour, colour.astype(np.float32)])


def _acquisition(rng: np.random.Generator, base_azimuth: float, shift_px: float, sensor: Sensor) -> Acquisition:
    angle, shift = rng.uniform(0, 2 * np.pi), rng.uniform(0, shift_px)
    return Acquisition(sun_azimuth=float(base_azimuth + rng.uniform(-12, 12)),
                       sun_elevation=float(rng.uniform(35, 70)), off_nadir=float(rng.uniform(3, 25)),
                       target_azimuth=float(rng.uniform(0, 360)), haze=sensor.haze, gain=sensor.gain,
                       bias=(0.0, 0.0, 0.0), shift=(float(shift * np.cos(angle)), float(shift * np.sin(angle))),
                       blur=sensor.mtf)


def moved(b: Building, d: np.ndarray, scale: float = 1.0) -> Building:
    """The building scaled by `scale` about the origin, then moved by `d` pixels."""
    parts = [Part(p.centre * scale + d, p.u, p.v, p.a * scale, p.b * scale) for p in b.parts]
    return dataclasses.replace(b, outline=(b.outline * scale + d).astype(np.float32), parts=parts)


def _walls(img: np.ndarray, b: Building, base: np.ndarray, roof: np.ndarray, sun: np.ndarray) -> None:
    """The walls a leaning building shows: the hull of each part's base and roof outlines."""
    d = roof - base
    if float(np.hypot(*d)) < 0.5:
        return
    facing = -d / float(np.hypot(*d))
    colour = (WALL * 0.5 + b.colour * 0.5) * (0.75 + 0.3 * float(np.dot(facing, sun)))
    for part in b.parts:
        c = part.corners()
        hull = cv2.convexHull(np.concatenate([c + base, c + roof]).astype(np.float32)).reshape(-1, 2)
        cv2.fillConvexPoly(img, np.round(hull * 4).astype(np.int32), colour.tolist(), cv2.LINE_8, 2)


def _tarps(rng: np.random.Generator, img: np.ndarray, buildings: list[Building], kind: str, contrast: float) -> None:
    """Tarpaulins over part of a damaged roof (minor or major grade only), where the event kind uses them."""
    share = TARP_SHARE if DISASTERS[kind].tarp > 0 else 0.0
    for b in buildings:
        if b.damage not in (damage.MINOR, damage.MAJOR) or b.severity >= RUBBLE_FROM or rng.random() >= share:
            continue
        part = b.parts[int(rng.integers(len(b.parts)))]
        s0 = rng.uniform(-1, 0.2)
        s1 = min(1.0, s0 + rng.uniform(0.4, 1.2))
        t0, t1 = (-1.0, rng.uniform(0, 1)) if rng.random() < 0.5 else (rng.uniform(-1, 0), 1.0)
        colour = TARP_COLOURS[int(rng.integers(len(TARP_COLOURS)))]
        colour = b.colour + (colour - b.colour) * contrast
        poly = part.local([(s0, t0), (s1, t0), (s1, t1), (s0, t1)])
        cv2.fillConvexPoly(img, np.round(poly * 4).astype(np.int32), colour.tolist(), cv2.LINE_8, 2)


def _debris_fields(rng: np.random.Generator, img: np.ndarray, buildings: list[Building], kind: str,
                   contrast: float) -> None:
    """Wide fields of debris around destroyed and major buildings: specks near, planks and sheets farther."""
    colours = DISASTERS[kind].rubble
    pts = []
    for b in buildings:
        if b.damage < damage.MAJOR:
            continue
        n = int((250 if b.damage == damage.DESTROYED else 80) * rng.uniform(0.5, 1.5))
        pts.append(damage.debris_points(rng, b, n, px(DEBRIS_FIELD_M) * (1 if b.damage == damage.DESTROYED else 0.5)))
        for x, y in damage.debris_points(rng, b, n // 8, px(DEBRIS_FIELD_M)):
            a = rng.uniform(0, np.pi)
            half = px(rng.uniform(0.8, 2.5))
            p0 = np.array((x - np.cos(a) * half, y - np.sin(a) * half))
            p1 = np.array((x + np.cos(a) * half, y + np.sin(a) * half))
            under = img[int(np.clip(y, 0, img.shape[0] - 1)), int(np.clip(x, 0, img.shape[1] - 1))]
            c = colours[int(rng.integers(len(colours)))] * contrast + under * (1 - contrast)
            cv2.line(img, tuple(np.round(p0 * 4).astype(int)), tuple(np.round(p1 * 4).astype(int)), c.tolist(), 1,
                     cv2.LINE_8, 2)
    if pts:
        damage.specks(img, np.concatenate(pts), colours, rng, contrast)


def _render(rng: np.random.Generator, world: World, acq: Acquisition, sensor: Sensor, spec: SceneSpec,
            post_lean: np.ndarray, crowns: surfaces.Crowns, grain: tuple[np.ndarray, np.ndarray],
            foliage: np.ndarray,
            hazard: np.ndarray | None, rubble_tex: np.ndarray | None) -> np.ndarray:
    post = hazard is not None
    disaster = DISASTERS[spec.kind]
    img = world.ground.copy()
    texture.blend(img, DRY if sensor.season > 0 else LUSH, world.vegetation * (0.4 * abs(sensor.season)))
    if post:
        disaster.ground(rng, world, img, world.buildings, hazard)
    this_lean = lean(acq.off_nadir, acq.target_azimuth, GSD_M)
    sun = sun_vector(acq.sun_azimuth)
    base_off = [-post_lean * b.height_m for b in world.buildings]
    roof_off = [(this_lean - post_lean) * b.height_m for b in world.buildings]
    shadows = shadow_mask(world, acq, post, [moved(b, d) for b, d in zip(world.buildings, base_off)])
    standing = [i for i, b in enumerate(world.buildings) if not (post and b.severity >= RUBBLE_FROM)]
    for i in standing:
        b = world.buildings[i]
        _walls(img, b, base_off[i], roof_off[i], sun)
        roof = moved(b, roof_off[i])
        draw_roof(img, roof, sun, acq.sun_elevation)
        cv2.fillPoly(shadows, [roof.int_outline()], 0)
    gain = surfaces.roof_texture(world.texture, grain, [world.buildings[i] for i in standing],
                                 [roof_off[i] for i in standing])
    _cars(rng, img, world)
    _cars(rng, img, world)          # twice the classic density: streets are busier than that
    tree_colours = world.tree_colour
    if post:
        contrast = 1.0 - 0.45 * spec.difficulty
        damage.draw(rng, img, world.buildings, spec.kind, rubble_tex, contrast)
        _tarps(rng, img, world.buildings, spec.kind, contrast)
        _debris_fields(rng, img, world.buildings, spec.kind, contrast)
        tree_colours = disaster.trees(rng, world, hazard, tree_colours)
    leaves = surfaces.canopy(img, crowns, tree_colours, sun, shadows)
    gain[leaves] = foliage[leaves]
    if post:
        damage.clouds(rng, img, world.buildings)
    shade = cv2.GaussianBlur(shadows, (3, 3), 0).astype(np.float32) * (SHADOW_DEPTH / 255.0)
    radiance = cv2.multiply(img, cv2.merge([cv2.multiply(gain, 1.0 - shade)] * 3))
    radiance = cv2.resize(radiance, (spec.size, spec.size), interpolation=cv2.INTER_AREA)
    return expose(rng, radiance, sensor, acq.shift)


def make_scene(spec: SceneSpec) -> Scene:
    """Draw the realistic-style scene of `spec`: same spec, same bytes."""
    rng = np.random.default_rng([spec.seed, spec.index, 2])
    inner = round(spec.size * spec.gsd / GSD_M)
    world = build_world(rng, inner, SETTLEMENTS_REALISTIC, houses.new_building, TREE_CLEARANCE_PX)
    surfaces.road_markings(rng, world.ground, world.segments, world.water)
    _outbuildings(rng, world)
    _shrubs(rng, world)
    grain = surfaces.pixel_grain(rng, inner)
    world.texture = world.texture * surfaces.ground_texture(rng, inner, world.vegetation, grain)
    disaster = DISASTERS[spec.kind]
    hazard = disaster.hazard(rng, world)
    damage.assign(rng, world.buildings, hazard, spec.kind, spec.event_intensity, spec.difficulty)
    base_azimuth = float(rng.uniform(110, 200))
    pre_sensor, post_sensor = Sensor.draw(rng), Sensor.draw(rng)
    pre_acq = _acquisition(rng, base_azimuth, 3.0, pre_sensor)
    post_acq = _acquisition(rng, base_azimuth + rng.uniform(-35, 35), 0.0, post_sensor)
    post_lean = lean(post_acq.off_nadir, post_acq.target_azimuth, GSD_M)
    crowns = surfaces.crowns(rng, world.trees, inner)
    roofing = surfaces.roof_grain(rng, grain)
    foliage = surfaces.foliage(grain)
    rubble_tex = cv2.GaussianBlur(texture.palette_image(rng, inner, disaster.rubble, block=3), (0, 0), 0.6)
    pre = _render(rng, world, pre_acq, pre_sensor, spec, post_lean, crowns, roofing, foliage, None, None)
    post = _render(rng, world, post_acq, post_sensor, spec, post_lean, crowns, roofing, foliage, hazard, rubble_tex)
    scale = spec.size / inner
    buildings = [moved(b, np.zeros(2, np.float32), scale) for b in world.buildings]
    for b in buildings:
        b.outline = np.round(b.outline, 2)
    target_post = rasterize(buildings, spec.size)
    return Scene(spec=spec, pre=pre, post=post, target_pre=(target_post > 0).astype(np.uint8),
                 target_post=target_post, buildings=buildings, pre_acquisition=pre_acq,
                 post_acquisition=post_acq, settlement=world.settlement)
