"""The words every part of satedge shares: damage classes, grading basis, precisions, time stamps, F1.

Defined once here so that the satellite, the ground, the simulation and
training cannot drift apart on what "class 3" or "int8" means.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

# The xBD damage subtypes by class number (the model's output 0 is background).
DAMAGE_CLASSES: dict[int, str] = {1: "no-damage", 2: "minor-damage", 3: "major-damage", 4: "destroyed"}
CLASS_NAMES: tuple[str, ...] = tuple(DAMAGE_CLASSES.values())
CLASS_OF: dict[str, int] = {name: cls for cls, name in DAMAGE_CLASSES.items()}
MODEL_CLASSES: tuple[str, ...] = ("background", *CLASS_NAMES)

# How a building was graded (docs/protocol.md, "Reference coverage"): with a pre-event view, or from the
# post image alone where the onboard reference has none.
PRE_POST, POST_ONLY = "pre+post", "post-only"


def basis(post_only: bool) -> str:
    """The name of a building's grading basis."""
    return POST_ONLY if post_only else PRE_POST


# A pixel's winning probability as the onboard head hands it over (`onboard.heads`): u8 in 1/255 steps, a
# third of float16's memory per scene map, finer than the whole percent a summary carries.
CONFIDENCE_STEPS = 255


# Precisions a model zoo entry can hold, and the names a command or configuration may use
# (`int8` means the manifest's default INT8).
IR_PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8-nncf", "int8-inc")
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8", "int8-nncf", "int8-inc")
Precision = Literal["fp32", "fp16", "int8", "int8-nncf", "int8-inc"]


def iso(t: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC with milliseconds (None stays None)."""
    return None if t is None else datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")


def unix_seconds(text: str) -> float:
    """Unix seconds from a number or an ISO 8601 time ("Z" or an offset; naive means UTC).

    Raises ValueError with the text quoted if it is neither.
    """
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not ISO 8601 or Unix seconds: {text!r}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def f1(tp: float, fp: float, fn: float) -> float:
    """2TP / (2TP + FP + FN); 0 when there is nothing to score."""
    denominator = 2 * tp + fp + fn
    return float(2 * tp / denominator) if denominator else 0.0
