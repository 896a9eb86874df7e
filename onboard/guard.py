"""The out-of-distribution guard: is this scene like the scenes the model was calibrated on?

A model trained on synthetic scenes answers confidently on anything, and on
imagery unlike its training it marks streets and parks as buildings. The
guard looks at what the engine's head already produced for a scene (each
pixel's class and winning probability: no extra inference) and computes a
few cheap statistics; each has a range measured on held-out synthetic
scenes (`satedge guard`, stored as `guard.json` beside the model's manifest,
so it travels with the model). A statistic outside its range flags the
scene: its summary names the statistics in `ood` (docs/protocol.md) and
lists at most `postprocess.ood_max_listed` buildings, so a scene of confident
garbage cannot fill a contact window.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, ValidationError

from satedge.errors import UserError
from satedge.vocabulary import CONFIDENCE_STEPS

GUARD_FILE = "guard.json"
STRIDE = 4            # statistics on every 4th pixel of every 4th row: 1/16 of the scene is plenty
UNSURE = 0.6          # a pixel whose winning probability is below this is "unsure"
UNSURE_STEPS = round(UNSURE * CONFIDENCE_STEPS)


def statistics(classes: NDArray[np.uint8], confidence: NDArray[np.uint8]) -> dict[str, float]:
    """The scene's statistics, from the head's class and confidence (`CONFIDENCE_STEPS`) maps.

    - `building`: share of pixels of any building class;
    - `unsure`: share of pixels whose winning probability is below UNSURE;
    - `conf`: mean winning probability over building pixels (left out when there are none: a scene
      without buildings, sea or desert, is not suspect for that).

    The share of damaged buildings is deliberately not one: a town the disaster flattened is the scene
    that matters most, and calibration scenes cannot say how much damage a real event may do.
    """
    cls = classes[::STRIDE, ::STRIDE]
    conf = confidence[::STRIDE, ::STRIDE]
    building = cls > 0
    stats = {"building": float(building.mean()) if cls.size else 0.0,
             "unsure": float((conf < UNSURE_STEPS).mean()) if cls.size else 0.0}
    if building.any():
        stats["conf"] = float(conf[building].mean()) / CONFIDENCE_STEPS
    return stats


class Guard(BaseModel):
    """The accepted range of each statistic, and how it was calibrated."""

    model_config = ConfigDict(extra="forbid")

    bounds: dict[str, tuple[float, float]]
    calibration: dict[str, Any] = {}

    def check(self, stats: dict[str, float]) -> list[str]:
        """The names of the statistics outside their range (empty: in distribution), in a fixed order."""
        return [name for name, (low, high) in sorted(self.bounds.items())
                if name in stats and not low <= stats[name] <= high]

    def save(self, model_dir: Path) -> Path:
        """Write `guard.json` beside the manifest."""
        path = Path(model_dir) / GUARD_FILE
        path.write_text(self.model_dump_json(indent=2) + "\n")
        return path


def load(model_dir: Path) -> Guard | None:
    """The guard stored with the model, or None if the model has none (the daemon then flags nothing)."""
    path = Path(model_dir) / GUARD_FILE
    if not path.exists():
        return None
    try:
        return Guard.model_validate(json.loads(path.read_text()))
    except (ValueError, ValidationError) as exc:
        raise UserError(f"{path}: not a valid guard calibration: {str(exc).splitlines()[0]}") from None


def calibrate(samples: list[dict[str, float]], tail: float, margin: float) -> dict[str, tuple[float, float]]:
    """Per statistic: the `tail` and `1 - tail` quantiles of the samples, widened by `margin` of their span.

    Quantiles rather than min/max, so one odd calibration scene does not set a bound; the margin, because a
    new in-distribution scene falls outside the calibration quantiles about 2*tail of the time per statistic.
    """
    bounds = {}
    for name in sorted({name for s in samples for name in s}):
        values = np.array([s[name] for s in samples if name in s])
        low, high = np.quantile(values, [tail, 1 - tail])
        pad = margin * (high - low)
        bounds[name] = (float(low - pad), float(high + pad))
    return bounds
