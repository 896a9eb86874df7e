"""The realistic style's sensor model: lean direction, colour matrix, noise that grows with read noise."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.scenes.realism import noise_sigma
from sim.scenes.sensor import Sensor, colour_matrix, expose, lean

FLAT = Sensor(exposure=1.0, gain=(1.0, 1.0, 1.0), gamma=1.0, saturation=0.5, haze=0.0, mtf=0.6, sharpen=0.0,
              read_noise=2.0, shot_noise=0.0, jpeg=0, season=0.0)


@pytest.mark.parametrize("azimuth, direction", [(0, (0, 1)), (90, (-1, 0)), (180, (0, -1)), (270, (1, 0))])
def test_buildings_lean_away_from_the_satellite(azimuth, direction):
    d = lean(20.0, azimuth, 0.5)
    assert np.allclose(d / np.linalg.norm(d), direction, atol=1e-6)
    assert np.linalg.norm(d) == pytest.approx(np.tan(np.radians(20)) / 0.5)


def test_colour_matrix_keeps_greys_and_mutes_colour():
    m = colour_matrix(FLAT)
    assert np.allclose(m @ np.array([100, 100, 100], np.float32), 100)
    red = m @ np.array([200, 50, 50], np.float32)
    assert red[0] - red[1] == pytest.approx(0.5 * 150)


def test_noise_grows_with_read_noise_and_is_reproducible():
    radiance = np.full((128, 128, 3), 120, np.float32)
    quiet = expose(np.random.default_rng(1), radiance, FLAT, (0.0, 0.0))
    loud = expose(np.random.default_rng(1), radiance, dataclasses.replace(FLAT, read_noise=6.0), (0.0, 0.0))
    again = expose(np.random.default_rng(1), radiance, FLAT, (0.0, 0.0))
    assert np.array_equal(quiet, again)
    assert noise_sigma(loud.mean(axis=2)) > 2 * noise_sigma(quiet.mean(axis=2))
    assert abs(float(quiet.mean()) - 120) < 2


def test_jpeg_and_misregistration_change_the_image():
    rng = np.random.default_rng(4)
    radiance = rng.uniform(40, 200, (128, 128, 3)).astype(np.float32)
    plain = expose(np.random.default_rng(1), radiance, FLAT, (0.0, 0.0))
    jpeg = expose(np.random.default_rng(1), radiance, dataclasses.replace(FLAT, jpeg=75), (0.0, 0.0))
    shifted = expose(np.random.default_rng(1), radiance, FLAT, (2.0, 0.0))
    assert 0 < np.abs(plain.astype(int) - jpeg).mean() < 20
    # A 2 px shift to the right: the shifted image matches the plain one moved by 2 columns better than unmoved.
    moved = np.abs(shifted[:, 4:].astype(int) - plain[:, 2:-2]).mean()
    assert moved < np.abs(shifted.astype(int) - plain).mean()
