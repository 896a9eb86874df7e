"""`satedge quantize`: INT8 IRs from an exported model, with NNCF or with Intel Neural Compressor.

Calibration tiles come from the training split of `--data` (the same event
split the model was trained with, as its manifest records), never from the
validation or held-out scenes.

- `nncf`: post-training quantization of the FP32 IR (`nncf.quantize`), or,
  with `--max-drop`, `nncf.quantize_with_accuracy_control` against the
  xView2 score on validation tiles → `int8-nncf.xml`.
- `inc`: neural-compressor 3.x PT2E static INT8 of the PyTorch checkpoint
  (export → prepare → calibrate → convert), then `torch.export` →
  `openvino.convert_model`, with the same softmax and u8 input as
  `satedge export` → `int8-inc.xml`.
Both are recorded in the manifest with their sha256.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from onboard.manifest import Manifest
from satedge import logs
from satedge.errors import UserError
from training.dataset import calibration_tiles, find_pairs, read_scene, split_by_event

log = logging.getLogger("satedge.quantize")


def training_split(manifest: Manifest, data: Path):
    """(train, validation) pairs of `data`, split by event exactly as the model's training run did."""
    record = manifest.training
    return split_by_event(find_pairs(data), float(record.get("val_fraction", 0.2)), int(record.get("seed", 0)))


def validation_items(pairs, tile: int, count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(u8 `[1, 6, T, T]` tile, target `[T, T]`) crops of validation scenes, for accuracy control."""
    rng = np.random.default_rng(seed)
    items = []
    for pair in pairs[:count]:
        pre, post, target = read_scene(pair)
        h, w = target.shape
        y, x = rng.integers(max(h - tile, 0) + 1), rng.integers(max(w - tile, 0) + 1)
        chip = np.concatenate([pre, post], axis=2)[y:y + tile, x:x + tile].transpose(2, 0, 1)
        items.append((np.ascontiguousarray(chip[None]), target[y:y + tile, x:x + tile]))
    return items


def tile_score(compiled, items) -> float:
    """xView2 score of a compiled IR over validation tiles (NNCF's validation function)."""
    from training.metric import Confusion
    confusion = Confusion()
    for chip, target in items:
        classes = compiled(chip)[0][0].argmax(axis=0).astype(np.uint8)
        confusion.add_classes(target, classes)
    return confusion.scores()["score"]


def quantize_nncf(manifest: Manifest, calibration: np.ndarray, args: argparse.Namespace,
                  validation=None) -> Path:
    """NNCF INT8 of the FP32 IR (accuracy-controlled with `--max-drop`); writes `int8-nncf.xml` and returns it."""
    import nncf
    import openvino as ov

    model = ov.Core().read_model(manifest.ir("fp32"))
    batch = manifest.input.shape[0]
    samples = [calibration[i:i + batch] for i in range(0, len(calibration) - batch + 1, batch)]
    dataset = nncf.Dataset(samples)
    if args.max_drop is not None:
        if not validation:
            raise UserError("--max-drop needs validation events in --data (the model's training split has none)")
        quantized = nncf.quantize_with_accuracy_control(
            model, dataset, nncf.Dataset(validation, lambda item: item[0]), validation_fn=tile_score,
            max_drop=args.max_drop, drop_type=nncf.DropType.ABSOLUTE, subset_size=len(samples))
    else:
        quantized = nncf.quantize(model, dataset, subset_size=len(samples), fast_bias_correction=True)
    xml = manifest.dir / "int8-nncf.xml"
    ov.save_model(quantized, xml, compress_to_fp16=False)
    return xml


def fold_batch_norms(model):
    """A copy of an eval-mode `model` with each Conv2d → BatchNorm2d pair of its Sequentials folded, once.

    PT2E folds BatchNorm by graph node: a convolution called twice (the siamese encoder sees pre and
    post) is folded twice, and torchao's second fold of a bias-free convolution writes a zero bias over
    the first, so the shared encoder loses every BatchNorm shift (the reference model's INT8 lost the
    building class). torch.fx's `fuse` folds a twice-called module twice as well; folding modules does not.
    """
    import copy

    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = copy.deepcopy(model).eval()
    for sequence in folded.modules():
        if isinstance(sequence, nn.Sequential):
            for i in range(len(sequence) - 1):
                if isinstance(sequence[i], nn.Conv2d) and isinstance(sequence[i + 1], nn.BatchNorm2d):
                    sequence[i] = fuse_conv_bn_eval(sequence[i], sequence[i + 1])
                    sequence[i + 1] = nn.Identity()
    return folded


def inc_quantized_torch(model, calibration: np.ndarray, batch: int):
    """The INC PT2E static-INT8 model (an FX graph with quantize/dequantize nodes), logits out."""
    import torch
    from neural_compressor.torch.export import export
    from neural_compressor.torch.quantization import INT8StaticQuantConfig, convert, prepare

    model = fold_batch_norms(model)
    example = torch.from_numpy(calibration[:batch]).float()
    with torch.no_grad():
        prepared = prepare(export(model, (example,)), INT8StaticQuantConfig())
        for i in range(0, len(calibration) - batch + 1, batch):
            prepared(torch.from_numpy(calibration[i:i + batch]).float())
        return convert(prepared)


def inc_to_openvino(quantized, tile: int, batch: int):
    """The same IR contract as `satedge export`: u8 `[batch, 6, tile, tile]` in, softmax out."""
    import openvino as ov
    import torch

    from training.export import with_u8_input
    from training.model import IN_CHANNELS, Probabilities

    example = torch.rand(batch, IN_CHANNELS, tile, tile) * 255
    with torch.no_grad():
        exported = torch.export.export(Probabilities(quantized), (example,))
        # torch.export of the PT2E graph loses the static shape: restore it, as `satedge export` does
        return with_u8_input(ov.convert_model(exported, input=[tuple(example.shape)]))


def quantize_inc(manifest: Manifest, calibration: np.ndarray, args: argparse.Namespace, validation=None) -> Path:
    """INC INT8 of the PyTorch model the IR came from, converted to the same IR contract; writes `int8-inc.xml`."""
    import openvino as ov

    from training.checkpoint import load_model

    recorded = manifest.training.get("checkpoint")
    checkpoint = args.checkpoint or (manifest.dir / recorded if recorded else None)
    if checkpoint is None or not Path(checkpoint).is_file():
        raise UserError(f"--method inc quantizes the PyTorch model the IR came from: pass --checkpoint "
                        f"({checkpoint or 'the manifest names none'} is missing)")
    model, _ = load_model(checkpoint)
    batch = manifest.input.shape[0]
    quantized = inc_quantized_torch(model, calibration, batch)
    xml = manifest.dir / "int8-inc.xml"
    ov.save_model(inc_to_openvino(quantized, manifest.tile, batch), xml, compress_to_fp16=False)
    return xml


# method -> (function, precision name in the manifest)
METHODS = {"nncf": (quantize_nncf, "int8-nncf"), "inc": (quantize_inc, "int8-inc")}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `satedge quantize`: model folder, method, training data, calibration and accuracy control."""
    p.add_argument("--model", type=Path, required=True, help="model folder with manifest.json and fp32.xml")
    p.add_argument("--method", choices=sorted(METHODS), required=True)
    p.add_argument("--data", type=Path, required=True,
                   help="the xBD folder the model was trained on (calibration uses its training split)")
    p.add_argument("--samples", type=int, default=128, help="calibration tiles (default %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="inc: the PyTorch model the IR came from (default: model.pt beside it, as export writes)")
    p.add_argument("--max-drop", type=float, default=None,
                   help="nncf: quantize with accuracy control, at most this absolute xView2 drop on validation tiles")
    p.add_argument("--validation-tiles", type=int, default=64, help="nncf --max-drop: validation tiles")


def run(args: argparse.Namespace) -> int:
    """Calibrate on the training split, quantize, record the IR and its method in the manifest; exit code 0."""
    manifest = Manifest.load(args.model)
    if "fp32" not in manifest.precisions:
        raise UserError(f"{args.model} has no fp32 IR: run satedge export first")
    train_pairs, val_pairs = training_split(manifest, args.data)
    calibration = calibration_tiles(train_pairs, manifest.tile, args.samples, args.seed)
    validation = validation_items(val_pairs, manifest.tile, args.validation_tiles, args.seed) \
        if args.max_drop is not None else None
    function, precision = METHODS[args.method]
    logs.event(log, "quantizing", method=args.method, calibration_tiles=len(calibration),
               calibration_scenes=min(len(train_pairs), args.samples))
    xml = function(manifest, calibration, args, validation)
    entry = manifest.add_ir(precision, xml)
    manifest.training.setdefault("quantization", {})[precision] = {
        "method": args.method, "calibration_tiles": int(len(calibration)), "calibration_split": "training",
        "data": str(args.data), "seed": args.seed, "max_drop": args.max_drop}
    manifest.save()
    print(json.dumps({"precision": precision, "xml": str(xml), "sha256": entry.sha256}, indent=2))
    return 0
