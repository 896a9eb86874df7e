"""One scene: the world, the disaster, and the two acquisitions (pre and post) of it.

`make_scene(spec)` is deterministic: the same spec gives the same arrays, bit
for bit, whoever calls it (the xBD writer, the GeoTIFF writer, the camera feed).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sim.scenes import damage, texture
from sim.scenes.buildings import Building, draw_roof, draw_shadow, sun_vector
from sim.scenes.damage import DISASTERS, RUBBLE_FROM
from sim.scenes.spec import DEFAULT_STYLE, SceneSpec
from sim.scenes.world import World, build_world

SHADOW_DEPTH = 0.52          # share of direct light a shadow removes
TREE_HEIGHT_PER_RADIUS = 2.2  # metres of crown height per pixel of crown radius (for the shadow)
HAZE = np.array((196, 202, 212), np.float32)
CAR_COLOURS = np.array([(220, 220, 222), (30, 30, 34), (160, 30, 28), (120, 122, 128), (40, 60, 120),
                        (200, 196, 180)], np.float32)


@dataclass(frozen=True)
class Acquisition:
    """How one image was taken: sun, atmosphere, sensor colour response and pointing error."""

    sun_azimuth: float
    sun_elevation: float
    off_nadir: float
    target_azimuth: float             # from the target towards the satellite, as xBD reports it
    haze: float
    gain: tuple[float, float, float]
    bias: tuple[float, float, float]
    shift: tuple[float, float]        # misregistration in pixels (x, y)
    blur: float

    @classmethod
    def draw(cls, rng: np.random.Generator, base_azimuth: float, shift_px: float) -> Acquisition:
        """Random conditions for one image: sun near `base_azimuth` (degrees), misregistration up to `shift_px`."""
        return cls(sun_azimuth=float(base_azimuth + rng.uniform(-12, 12)),
                   sun_elevation=float(rng.uniform(40, 70)), off_nadir=float(rng.uniform(5, 30)),
                   target_azimuth=float(rng.uniform(0, 360)),
                   haze=float(rng.uniform(0.0, 0.18)),
                   gain=tuple(float(g) for g in rng.uniform(0.94, 1.06, 3)),
                   bias=tuple(float(b) for b in rng.uniform(-5, 5, 3)),
                   shift=tuple(float(s) for s in rng.uniform(-shift_px, shift_px, 2)),
                   blur=float(rng.uniform(0.45, 0.8)))


@dataclass
class Scene:
    """A drawn scene: both images and targets (`spec.size` square) and the buildings with their damage."""

    spec: SceneSpec
    pre: np.ndarray               # HxWx3 uint8 RGB
    post: np.ndarray              # HxWx3 uint8 RGB
    target_pre: np.ndarray        # HxW uint8: 0 background, 1 building
    target_post: np.ndarray       # HxW uint8: 0 background, 1..4 damage (un-classified written as 1)
    buildings: list[Building]
    pre_acquisition: Acquisition
    post_acquisition: Acquisition
    settlement: str

    @property
    def subtypes(self) -> list[str]:
        """The xBD subtype of each building, in `buildings` order (un-classified ones included)."""
        return [subtype(b) for b in self.buildings]


def subtype(b: Building) -> str:
    """The `subtype` the xBD post label gives a building: its damage class name, or un-classified."""
    return damage.UNCLASSIFIED if b.unclassified else damage.SUBTYPES[b.damage]


def target_value(b: Building) -> int:
    """xBD mask convention (the xView2 baseline and first-place scripts): un-classified is drawn as 1."""
    return 1 if b.unclassified else b.damage


def shadow_mask(world: World, acq: Acquisition, post: bool, bases: list[Building] | None = None) -> np.ndarray:
    """The shadow mask of the buildings (cast from `bases`, each building moved where its image is drawn,
    if given) and of the trees, in the drawing grid."""
    sun = sun_vector(acq.sun_azimuth)
    mask = np.zeros((world.size, world.size), np.uint8)
    for b, base in zip(world.buildings, world.buildings if bases is None else bases):
        draw_shadow(mask, base, sun, acq.sun_elevation, damage.shadow_height(b) if post else b.height_m)
    length = TREE_HEIGHT_PER_RADIUS / np.tan(np.radians(acq.sun_elevation))
    for x, y, r in world.trees:
        c = (int((x - sun[0] * r * length) * 4), int((y - sun[1] * r * length) * 4))
        cv2.circle(mask, c, int(r * 4 * 0.95), 255, -1, cv2.LINE_8, 2)
    return mask


def _trees(img: np.ndarray, world: World, colours: np.ndarray, acq: Acquisition, shadows: np.ndarray) -> None:
    """Crowns over everything below them (roofs too), lit on the sun side, above any shadow."""
    sun = sun_vector(acq.sun_azimuth)
    for (x, y, r), c in zip(world.trees, colours):
        cv2.circle(img, (int(x * 4), int(y * 4)), int(r * 4), c.tolist(), -1, cv2.LINE_8, 2)
        cv2.circle(shadows, (int(x * 4), int(y * 4)), int(r * 4 * 0.8), 0, -1, cv2.LINE_8, 2)
        hx, hy = x + sun[0] * r * 0.3, y + sun[1] * r * 0.3
        cv2.circle(img, (int(hx * 4), int(hy * 4)), int(r * 4 * 0.55), (c * 1.25).tolist(), -1, cv2.LINE_8, 2)


def _cars(rng: np.random.Generator, img: np.ndarray, world: World) -> None:
    """Parked and moving cars: they differ between acquisitions, a change that is not damage."""
    ys, xs = np.nonzero(world.roads[::4, ::4])
    if len(xs) == 0:
        return
    n = min(len(xs), int(rng.uniform(0.002, 0.01) * len(xs)) + 1)
    pick = rng.choice(len(xs), n, replace=False)
    colours = CAR_COLOURS[rng.integers(len(CAR_COLOURS), size=n)]
    for x, y, c in zip(xs[pick] * 4, ys[pick] * 4, colours):
        w, h = (4, 2) if rng.random() < 0.5 else (2, 4)
        cv2.rectangle(img, (int(x), int(y)), (int(x) + w, int(y) + h), c.tolist(), -1)


def _finish(rng: np.random.Generator, img: np.ndarray, world: World, acq: Acquisition,
            shade: np.ndarray) -> np.ndarray:
    """Shadows, texture, atmosphere, sensor response and noise, optics, pointing error; to uint8.

    The per-pixel terms are folded into one multiply and one add (img * scale + offset, per
    channel), since full-image passes are most of the cost of a scene.
    """
    size = world.size
    haze = np.clip(acq.haze * (1.0 + 0.6 * texture.field(rng, size, 3)), 0, 0.5)
    keep = world.texture * (1.0 - haze) * (1.0 - shade)
    noise = rng.standard_normal((size, size), dtype=np.float32) * 3.0
    scale = cv2.merge([keep * g for g in acq.gain])
    offset = cv2.merge([haze * (h * g) + (b + noise) for h, g, b in zip(HAZE, acq.gain, acq.bias)])
    img = cv2.add(cv2.multiply(img, scale), offset, dtype=cv2.CV_8U)
    img = cv2.GaussianBlur(img, (0, 0), acq.blur)
    if acq.shift != (0.0, 0.0):
        m = np.float32([[1, 0, acq.shift[0]], [0, 1, acq.shift[1]]])
        img = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return img


def _render(rng: np.random.Generator, world: World, acq: Acquisition, spec: SceneSpec,
            hazard: np.ndarray | None, rubble_tex: np.ndarray | None) -> np.ndarray:
    post = hazard is not None
    disaster = DISASTERS[spec.kind]
    img = world.ground.copy()
    if post:
        disaster.ground(rng, world, img, world.buildings, hazard)
    shadows = shadow_mask(world, acq, post)
    sun = sun_vector(acq.sun_azimuth)
    for b in world.buildings:
        if not (post and b.severity >= RUBBLE_FROM):
            draw_roof(img, b, sun, acq.sun_elevation)
            cv2.fillPoly(shadows, [b.int_outline()], 0)      # a roof stands above its own shadow
    _cars(rng, img, world)
    tree_colours = world.tree_colour
    if post:
        contrast = 1.0 - 0.45 * spec.difficulty
        damage.draw(rng, img, world.buildings, spec.kind, rubble_tex, contrast)
        tree_colours = disaster.trees(rng, world, hazard, tree_colours)
    _trees(img, world, tree_colours, acq, shadows)
    if post:
        damage.clouds(rng, img, world.buildings)
    shade = cv2.GaussianBlur(shadows, (3, 3), 0).astype(np.float32) * (SHADOW_DEPTH / 255.0)
    return _finish(rng, img, world, acq, shade)


def rasterize(buildings: list[Building], size: int, value=target_value) -> np.ndarray:
    """The target: each footprint filled with its class (integer-rounded vertices, as xBD tools do)."""
    target = np.zeros((size, size), np.uint8)
    for b in buildings:
        cv2.fillPoly(target, [b.int_outline()], int(value(b)))
    return target


def make_scene(spec: SceneSpec) -> Scene:
    """Draw the scene of `spec` in its style: same spec, same bytes."""
    if spec.style != DEFAULT_STYLE:
        from sim.scenes import realistic  # it builds on this module's drawing

        return realistic.make_scene(spec)
    rng = np.random.default_rng([spec.seed, spec.index, 1])
    world = build_world(rng, spec.size)
    disaster = DISASTERS[spec.kind]
    hazard = disaster.hazard(rng, world)
    damage.assign(rng, world.buildings, hazard, spec.kind, spec.event_intensity, spec.difficulty)
    base_azimuth = rng.uniform(110, 200)
    pre_acq = Acquisition.draw(rng, base_azimuth, shift_px=3.0)
    post_acq = Acquisition.draw(rng, base_azimuth + rng.uniform(-35, 35), shift_px=0.0)
    rubble_tex = cv2.GaussianBlur(texture.palette_image(rng, spec.size, disaster.rubble, block=3), (0, 0), 0.6)
    pre = _render(rng, world, pre_acq, spec, None, None)
    post = _render(rng, world, post_acq, spec, hazard, rubble_tex)
    target_post = rasterize(world.buildings, spec.size)
    target_pre = (target_post > 0).astype(np.uint8)
    return Scene(spec=spec, pre=pre, post=post, target_pre=target_pre, target_post=target_post,
                 buildings=world.buildings, pre_acquisition=pre_acq, post_acquisition=post_acq,
                 settlement=world.settlement)
