"""Realistic-style buildings: residential sizes, one footprint polygon covering all parts, irregular plans;
tarps only on minor and major roofs, and not after wildfires."""

from __future__ import annotations

import numpy as np
import shapely

from sim.scenes import damage
from sim.scenes.houses import MATERIALS, new_building
from sim.scenes.realistic import SETTLEMENTS_REALISTIC, _tarps
from sim.scenes.spec import GSD_M


def houses(n=300, seed=0, big=False):
    rng = np.random.default_rng(seed)
    return [new_building(rng, np.array([500.0, 500.0]), np.array([1.0, 0.0], np.float32),
                         SETTLEMENTS_REALISTIC["suburban"], big, f"u{i}")[1] for i in range(n)]


def test_house_sizes_are_residential_and_plans_irregular():
    built = houses()
    polys = [shapely.Polygon(b.outline) for b in built]
    areas = np.array([p.area for p in polys]) * GSD_M ** 2
    assert 150 <= np.median(areas) <= 250
    rect = np.array([p.area / shapely.minimum_rotated_rectangle(p).area for p in polys])
    assert 0.3 < (rect < 0.97).mean() < 0.9
    assert {b.material for b in built} == set(MATERIALS)


def test_outline_is_one_valid_polygon_covering_every_part():
    for b in houses(200, seed=1) + houses(50, seed=2, big=True):
        outline = shapely.Polygon(b.outline)
        assert outline.is_valid
        for part in b.parts:
            assert outline.buffer(0.1).contains(shapely.Polygon(part.corners()))


def test_tarps_only_on_minor_and_major_roofs_where_the_kind_uses_them():
    built = houses(40, seed=3)
    for i, b in enumerate(built):
        b.outline = b.outline + np.array([(i % 8) * 60 - 400, (i // 8) * 60 - 400], np.float32)
        for p in b.parts:
            p.centre = p.centre + np.array([(i % 8) * 60 - 400, (i // 8) * 60 - 400], np.float32)
        b.damage = (damage.NO_DAMAGE, damage.DESTROYED)[i % 2]
        b.severity = 0.9 if b.damage == damage.DESTROYED else 0.0
    img = np.zeros((600, 600, 3), np.float32)
    _tarps(np.random.default_rng(0), img, built, "hurricane", 1.0)
    assert not img.any()
    for b in built:
        b.damage, b.severity = damage.MINOR, 0.2
    _tarps(np.random.default_rng(0), img, built, "wildfire", 1.0)
    assert not img.any()
    _tarps(np.random.default_rng(0), img, built, "hurricane", 1.0)
    assert img.any()


def test_outbuildings_are_small_square_to_their_house_and_clear_of_it():
    from sim.scenes.houses import outbuilding

    rng = np.random.default_rng(5)
    for house in houses(60, seed=4):
        shed = outbuilding(rng, house, "shed")
        area = shapely.Polygon(shed.outline).area * GSD_M ** 2
        assert 14 <= area <= 56
        assert np.allclose(shed.parts[0].u, house.parts[0].u)
        assert shapely.Polygon(shed.outline).distance(shapely.Polygon(house.parts[0].corners())) > 1.5 / GSD_M
