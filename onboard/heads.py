"""What the engine appends to the IR's per-pixel probabilities, and the scene maps it fills.

A head is part of the compiled graph, so OpenVINO computes it inside the
inference streams with its own kernels instead of Python doing it after:

- `decision` (the daemon): the winning class (u8) and its probability
  (u8 in 1/255 steps, `CONFIDENCE_STEPS`) per pixel, from a TopK over the
  classes. 2 bytes per pixel instead of 20, and no argmax in Python.
- `probabilities` (`satedge evaluate`, decision offsets): the IR's output
  as it is, stored as float16 per class, since the xView2 score needs the
  best damage class even where background wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from onboard.tiling import Layer
from satedge.vocabulary import CONFIDENCE_STEPS


@dataclass(frozen=True)
class Head:
    """A graph appended to the IR's output, and the scene maps its outputs fill, in the same order."""

    name: str
    layers: Callable[[int], dict[str, Layer]]    # classes -> the maps, in the order of the model's outputs
    attach: Callable[[ov.Model], ov.Model]


def _probabilities(model: ov.Model) -> ov.Model:
    return model


def _decision(model: ov.Model) -> ov.Model:
    # Every node is named: OpenVINO's model cache hashes the graph, names included, and unnamed nodes get a
    # process-wide counter in theirs, so each compile missed the cache and wrote another blob (one per swap).
    probs = model.get_results()[0].input_value(0)                     # [N, classes, H, W]
    best = ops.topk(probs, np.int64(1), 1, "max", "none", "i32", name="head_topk")
    axis = ops.constant(np.array([1], dtype=np.int64), name="head_axis")
    classes = ops.convert(ops.squeeze(best.output(1), axis, name="head_class_index"), "u8",
                          name="head_classes")                        # [N, H, W]
    probability = ops.squeeze(best.output(0), axis, name="head_probability")
    steps = ops.multiply(probability, ops.constant(np.float32(CONFIDENCE_STEPS), name="head_steps"),
                         name="head_probability_steps")
    confidence = ops.convert(ops.round(steps, "half_to_even", name="head_rounded"), "u8", name="head_confidence")
    return ov.Model([ops.result(classes, name="classes"), ops.result(confidence, name="confidence")],
                    model.get_parameters(), model.get_friendly_name())


HEADS = {head.name: head for head in (
    Head("decision", lambda classes: {"classes": Layer(0, np.uint8), "confidence": Layer(0, np.uint8)},
         _decision),
    Head("probabilities", lambda classes: {"probs": Layer(classes, np.float16)}, _probabilities),
)}
