"""Realistic-style acquisition: how a very-high-resolution satellite sensor turns radiance into pixels.

Generic, physically motivated ranges (not fitted to one sensor or one town):
- exposure and per-channel gain differ per sensor (pre and post are often from
  different satellites), a gamma of 0.85-1.15, and the muted colour of
  pan-sharpened products (saturation 40-75 % of the scene's);
- haze (path radiance) of 2-20 %, bluish grey, varying across the scene;
- optics and detector: a Gaussian MTF of 0.5-0.9 px, then the MTF compensation
  most products apply (unsharp mask of 0.4-1.4);
- shot + read noise: sigma^2 = read^2 + k * signal (read 2.5-6 levels, k 0.03-0.15),
  mostly in luminance (pan-sharpening);
- misregistration of the pre image of 0-3 px; off-nadir 3-25 deg, which leans
  buildings away from the satellite (`lean`);
- in half of the images JPEG compression at quality 80-95 (archives and
  downlinks compress).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sim.scenes import texture

HAZE = np.array((176, 184, 198), np.float32)


@dataclass(frozen=True)
class Sensor:
    """The photometric and geometric response of one acquisition."""

    exposure: float
    gain: tuple[float, float, float]
    gamma: float
    saturation: float
    haze: float
    mtf: float                        # Gaussian sigma in output pixels
    sharpen: float                    # unsharp-mask amount
    read_noise: float                 # levels
    shot_noise: float                 # levels² per level of signal
    jpeg: int                         # quality, 0 = not compressed
    season: float                     # -1 lush .. 1 dry vegetation

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Sensor:
        """Random but plausible conditions of one image."""
        return cls(exposure=float(rng.uniform(0.7, 0.95)),
                   gain=tuple(float(g) for g in rng.uniform(0.9, 1.1, 3)),
                   gamma=float(rng.uniform(0.85, 1.15)), saturation=float(rng.uniform(0.4, 0.75)),
                   haze=float(rng.uniform(0.02, 0.2)), mtf=float(rng.uniform(0.5, 0.9)),
                   sharpen=float(rng.uniform(0.4, 1.4)), read_noise=float(rng.uniform(2.5, 6.0)),
                   shot_noise=float(rng.uniform(0.03, 0.15)),
                   jpeg=int(rng.integers(80, 96)) if rng.random() < 0.5 else 0,
                   season=float(rng.uniform(-1, 1)))


def lean(off_nadir_deg: float, target_azimuth_deg: float, gsd_m: float) -> np.ndarray:
    """Pixels a point moves per metre of height: away from the satellite, tan(off-nadir) / GSD."""
    away = np.radians(target_azimuth_deg + 180.0)
    return np.array([np.sin(away), -np.cos(away)], np.float32) * float(np.tan(np.radians(off_nadir_deg)) / gsd_m)


def colour_matrix(sensor: Sensor) -> np.ndarray:
    """Exposure, per-channel gain and desaturation (towards the channel mean) as one 3x3 matrix."""
    mute = sensor.saturation * np.eye(3, dtype=np.float32) + (1 - sensor.saturation) / 3
    return (mute @ np.diag(np.float32(sensor.exposure) * np.asarray(sensor.gain, np.float32))).astype(np.float32)


def expose(rng: np.random.Generator, radiance: np.ndarray, sensor: Sensor, shift: tuple[float, float]) -> np.ndarray:
    """Float RGB radiance (0-255 scale, on the output grid) to the uint8 image the sensor delivers.

    Linear steps first (colour, haze, pointing, optics, noise), then the product's tone curve (gamma) as a
    lookup on the quantised image; chroma noise is drawn at a quarter of the resolution, as the colour
    bands of a pan-sharpened product are.
    """
    size = radiance.shape[0]
    img = cv2.transform(radiance, colour_matrix(sensor))
    haze = np.clip(sensor.haze * (1.0 + 0.5 * texture.field(rng, size, 3)), 0, 0.45)
    texture.blend(img, HAZE, haze)
    if shift != (0.0, 0.0):
        m = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
        img = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    img = cv2.GaussianBlur(img, (0, 0), sensor.mtf)
    img = cv2.addWeighted(img, 1.0 + sensor.sharpen, cv2.GaussianBlur(img, (0, 0), 1.2), -sensor.sharpen, 0)
    grey = cv2.max(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), 0.0)
    sigma = cv2.sqrt(grey * np.float32(sensor.shot_noise) + np.float32(sensor.read_noise ** 2))
    luma = rng.standard_normal((size, size), dtype=np.float32) * sigma
    quarter = max(1, size // 4)
    noise = cv2.resize(rng.standard_normal((quarter, quarter, 3), dtype=np.float32), (size, size),
                       interpolation=cv2.INTER_LINEAR) * np.float32(0.5 * sensor.read_noise)
    noise += luma[..., None]
    img = cv2.add(img, noise, dtype=cv2.CV_8U)
    tone = np.clip(np.rint(255.0 * (np.arange(256) / 255.0) ** sensor.gamma), 0, 255).astype(np.uint8)
    img = cv2.LUT(img, tone)
    if sensor.jpeg:
        _, data = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, sensor.jpeg])
        img = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return img
