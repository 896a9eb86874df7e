"""Pre-event views taken away, as the satellite has them where its reference mosaic does not reach.

Training blanks the pre image of some crops so that one model grades with
and without it (`satedge train --pre-missing`); evaluation and the guard
take the same views away from held-out scenes (`--pre none|half`). The fill
is the one the satellite's reader uses (`onboard.ingest.NO_PRE_FILL`). No
torch here: `satedge guard` uses it with the daemon's engine.
"""

from __future__ import annotations

import zlib

import numpy as np

from onboard.ingest import NO_PRE_FILL

# How much of each scene's pre-event view `--pre` keeps: all of it, none (a scene outside the onboard
# reference), or the half on one side of a random line (a scene at the reference's edge; the line is
# seeded by the pair's name, so every model and precision sees the same half).
PRE_VIEWS = ("full", "none", "half")


def without_view(pair_id: str, pre: np.ndarray, view: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(pre image as the satellite would have it, the pixels that have no view or None)."""
    if view == "full":
        return pre, None
    rng = np.random.default_rng(zlib.crc32(pair_id.encode()))
    height, width = pre.shape[:2]
    mask = no_view_mask(height, width, rng, 1.0 if view == "none" else 0.5)
    return blank_pre(pre.copy(), mask), mask


def no_view_mask(height: int, width: int, rng: np.random.Generator, share: float) -> np.ndarray:
    """`share` of the pixels, those on one side of a random straight line: what a pre-event reference
    mosaic's edge leaves without a view (the whole image at `share` 1)."""
    if share >= 1:
        return np.ones((height, width), dtype=bool)
    angle = rng.uniform(0, 2 * np.pi)
    rows, cols = np.mgrid[0:height, 0:width]
    distance = cols * np.cos(angle) + rows * np.sin(angle)
    return np.asarray(distance > np.quantile(distance, 1 - share), dtype=bool)


def blank_pre(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The pre bands of an (H, W, 6+) image set to the satellite's no-view fill where `mask` is set."""
    image[mask, :3] = NO_PRE_FILL
    return image
