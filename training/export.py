"""`satedge export`: a checkpoint to OpenVINO IR (FP32 and FP16) plus the manifest.

The IR has a static input shape `[batch, 6, tile, tile]` of u8 (the raw
pixels; the conversion to float and the normalisation run inside the IR) and
emits class probabilities.
"""

from __future__ import annotations

from pathlib import Path

import openvino as ov
import torch

from onboard.manifest import CHANNELS, CLASSES, InputSpec, Manifest, OutputSpec
from training.model import IN_CHANNELS, MEAN, NUM_CLASSES, STD, Probabilities


def to_openvino(model: torch.nn.Module, tile: int, batch: int = 1) -> ov.Model:
    """Trace `model` (logits out) into an OpenVINO model with u8 input and probabilities out."""
    model = Probabilities(model.eval())
    example = torch.rand(batch, IN_CHANNELS, tile, tile) * 255
    with torch.no_grad():
        ov_model = ov.convert_model(model, example_input=example,
                                    input=[(batch, IN_CHANNELS, tile, tile)])
    return with_u8_input(ov_model)


def with_u8_input(ov_model: ov.Model) -> ov.Model:
    """Accept raw u8 pixels: the u8→f32 conversion becomes part of the IR."""
    ppp = ov.preprocess.PrePostProcessor(ov_model)
    ppp.input().tensor().set_element_type(ov.Type.u8)
    ppp.input().preprocess().convert_element_type(ov.Type.f32)
    ov_model = ppp.build()
    ov_model.inputs[0].get_tensor().set_names({"tiles"})
    ov_model.outputs[0].get_tensor().set_names({"probabilities"})
    return ov_model


def new_manifest(out: Path, name: str, tile: int, overlap: int, training: dict,
                 batch: int = 1) -> Manifest:
    manifest = Manifest(
        name=name, tile=tile, overlap=overlap, training=training,
        input=InputSpec(shape=[batch, IN_CHANNELS, tile, tile], channels=list(CHANNELS),
                        mean=list(MEAN), std=list(STD)),
        output=OutputSpec(shape=[batch, NUM_CLASSES, tile, tile], classes=list(CLASSES)),
    )
    manifest.dir = Path(out)
    return manifest


def export_ir(model: torch.nn.Module, out: Path, *, name: str, tile: int, overlap: int = 0,
              training: dict | None = None) -> Manifest:
    """Write fp32.xml/.bin, fp16.xml/.bin and manifest.json into `out`; return the manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ov_model = to_openvino(model, tile)
    manifest = new_manifest(out, name, tile, overlap, dict(training or {}, model=_config(model)))
    for precision, compress in (("fp32", False), ("fp16", True)):
        xml = out / f"{precision}.xml"
        ov.save_model(ov_model, xml, compress_to_fp16=compress)
        manifest.add_ir(precision, xml)
    manifest.save()
    return manifest


def _config(model: torch.nn.Module) -> dict:
    return model.config() if hasattr(model, "config") else {}
