"""`satedge export`: a checkpoint to OpenVINO IR (FP32 and FP16) plus the manifest.

The IR has a static input shape `[batch, 6, tile, tile]` of u8 (the raw
pixels; the conversion to float and the normalisation run inside the IR) and
emits class probabilities.
"""

from __future__ import annotations

from pathlib import Path

import openvino as ov
import torch

from onboard.manifest import CHANNELS, InputSpec, Manifest, OutputSpec
from satedge.vocabulary import MODEL_CLASSES
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
    """An unsaved manifest for IRs from u8 `[batch, 6, tile, tile]` to `[batch, 5, tile, tile]` probabilities."""
    manifest = Manifest(
        name=name, tile=tile, overlap=overlap, training=training,
        input=InputSpec(shape=[batch, IN_CHANNELS, tile, tile], channels=list(CHANNELS),
                        mean=list(MEAN), std=list(STD)),
        output=OutputSpec(shape=[batch, NUM_CLASSES, tile, tile], classes=list(MODEL_CLASSES)),
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


SLIM_CHECKPOINT = "model.pt"     # beside the IRs, named relative to the model folder


def add_arguments(parser) -> None:
    """Options of `satedge export`: the checkpoint, the model folder, tiling, and `--tune-on` for decision offsets."""
    parser.add_argument("--checkpoint", type=Path, required=True, help="a .pt written by satedge train")
    parser.add_argument("--out", type=Path, required=True, help="model folder (models/<name>)")
    parser.add_argument("--name", default=None, help="model name (default: the --out folder's name)")
    parser.add_argument("--tile", type=int, default=None, help="static input tile (default: as trained)")
    parser.add_argument("--overlap", type=int, default=None, help="tile overlap onboard (default: as trained)")
    parser.add_argument("--tune-on", type=Path, default=None, metavar="DATA",
                        help="fit per-class logit offsets on the validation events of DATA (the training run's "
                             "split) and fold them into the model (training/decision.py)")
    parser.add_argument("--tune-scenes", type=int, default=48, help="validation scenes used by --tune-on")


def run(args) -> int:
    """Export FP32 and FP16 IRs (after tuning offsets if asked) with `model.pt` beside them; print what was written."""
    import json

    from satedge.errors import UserError
    from training.checkpoint import load_model, save

    model, state = load_model(args.checkpoint)
    record = dict(state.get("training", {}))
    tile = args.tile or record.get("tile")
    if not tile:
        raise UserError(f"{args.checkpoint} records no tile size: pass --tile")
    depth = getattr(model, "depth", 0)
    if tile % 2 ** depth:
        raise UserError(f"--tile {tile} must be a multiple of 2^depth = {2 ** depth}")
    overlap = args.overlap if args.overlap is not None else record.get("overlap", 0)
    if args.tune_on is not None:
        record["class_offsets"] = tune_offsets(model, record, args.tune_on, args.tune_scenes, tile, overlap)
    record.update(checkpoint=SLIM_CHECKPOINT, source_checkpoint=str(Path(args.checkpoint).resolve()),
                  checkpoint_epoch=state.get("epoch"),
                  validation=state.get("scores") and {k: state["scores"][k] for k in
                                                       ("score", "localization_f1", "damage_f1")})
    manifest = export_ir(model, args.out, name=args.name or Path(args.out).resolve().name, tile=tile,
                         overlap=overlap, training=record)
    # The exact PyTorch model the IRs came from (weights only): INC quantizes it, the benchmark times it.
    save(Path(args.out) / SLIM_CHECKPOINT, model=model.state_dict(), model_config=model.config(),
         training=manifest.training, epoch=state.get("epoch"), scores=state.get("scores"))
    print(json.dumps({"out": str(args.out), "precisions": {k: v.xml for k, v in manifest.precisions.items()},
                      "tile": tile, "overlap": overlap}, indent=2))
    return 0


def tune_offsets(model: torch.nn.Module, record: dict, data: Path, scenes: int, tile: int, overlap: int) -> dict:
    """Fit the decision offsets on the run's validation events and fold them into `model`'s head."""
    from satedge.errors import UserError
    from training.dataset import find_pairs, split_by_event
    from training.decision import fit_offsets, fold_into_head, sample_pixels

    seed = int(record.get("seed", 0))
    _, val_pairs = split_by_event(find_pairs(data), float(record.get("val_fraction", 0.2)), seed)
    if not val_pairs:
        raise UserError(f"--tune-on {data}: no validation events in the training run's split")
    val_pairs = val_pairs[:: max(1, -(-len(val_pairs) // scenes))][:scenes]
    logp, target, weight = sample_pixels(model, val_pairs, tile, overlap, background_share=0.05, seed=seed)
    offsets, before, after = fit_offsets(logp, target, weight)
    fold_into_head(model, offsets)
    return {"offsets": offsets.round(4).tolist(), "validation_score_before": round(before, 5),
            "validation_score_after": round(after, 5), "validation_scenes": len(val_pairs), "data": str(data)}
