"""`satedge evaluate`: the xView2 score of a checkpoint or an IR on full scenes, or real-imagery localisation.

With `--footprints FILE`, `--data` names real GeoTIFF scenes (or folders of
them) and the IR's building localisation is scored against those footprints
(`predict.localisation`): "real imagery, localisation only", a different
number from the synthetic xView2 score, and printed as such.

An IR runs through `onboard.engine.Engine` (the satellite's own inference
path: same tiling, same u8 input, same compiled model), so the number printed
is the number the satellite gets. A checkpoint runs through the same tiling
in PyTorch. `--predictions DIR` writes the official scorer's PNGs;
`--record` stores the scores in the model's manifest for that precision.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from onboard.manifest import Manifest
from satedge.errors import UserError
from training.coverage import PRE_VIEWS, without_view
from training.dataset import find_pairs, read_scene
from training.metric import IGNORE, Confusion
from training.predict import damage_maps


def ir_predictor(path: Path, args: argparse.Namespace):
    """The satellite's own Engine on the model folder at `--precision`, and what to report about it."""
    from onboard.engine import Engine
    manifest = Manifest.load(path)
    engine = Engine(manifest, args.precision, head="probabilities")
    return engine, {"kind": "ir", "model": manifest.name, "precision": engine.precision,
                    "tile": engine.tile, "overlap": engine.overlap}


def checkpoint_predictor(path: Path, args: argparse.Namespace):
    """A TorchPredictor at the tile and overlap the checkpoint was trained with (unless overridden), and its report."""
    import torch

    from training.checkpoint import load_model
    from training.predict import TorchPredictor
    model, state = load_model(path)
    record = state.get("training", {})
    tile = args.tile or record.get("tile")
    overlap = args.overlap if args.overlap is not None else record.get("overlap", 0)
    if not tile:
        raise UserError(f"{path} records no tile size: pass --tile")
    torch.set_num_threads(args.threads) if args.threads else None
    return TorchPredictor(model, tile, overlap), {"kind": "checkpoint", "model": str(path),
                                                  "precision": "pytorch-fp32", "tile": tile, "overlap": overlap}


# What `--model` names -> how to predict with it.
PREDICTORS = {"ir": ir_predictor, "checkpoint": checkpoint_predictor}


def model_kind(path: Path) -> str:
    """`ir` for a model folder, `checkpoint` for a file; a UserError if `path` is neither."""
    if path.is_dir():
        return "ir"
    if path.is_file():
        return "checkpoint"
    raise UserError(f"--model {path}: no such checkpoint file or model folder")


def write_predictions(folder: Path, pair_id: str, localization: np.ndarray, damage: np.ndarray) -> None:
    """The xView2 submission files: localization 0/1 and damage 1..4 (masked by the scorer), uint8 PNG."""
    for kind, image in (("localization", localization), ("damage", damage)):
        path = folder / f"test_{kind}_{pair_id}_prediction.png"
        if not cv2.imwrite(str(path), image):
            raise UserError(f"cannot write {path}")


def evaluate(predictor, pairs, predictions: Path | None = None, progress: bool = True, view: str = "full") -> dict:
    """xView2 scores of `predictor` over the full scenes of `pairs`, plus `scenes` and `seconds`; with
    `view` "half", also the scores of the parts with (`with_pre`) and without (`post_only`) a pre image."""
    confusion, parts = Confusion(), {"with_pre": Confusion(), "post_only": Confusion()}
    started = time.monotonic()
    for pair in tqdm(pairs, desc="evaluate", unit="scene", disable=not progress, leave=False):
        pre, post, target = read_scene(pair)
        pre, no_view = without_view(pair.id, pre, view)
        localization, damage = damage_maps(predictor.predict_scene(pre, post))
        confusion.add(target, localization, damage)
        if view == "half" and no_view is not None:
            parts["with_pre"].add(np.where(no_view, IGNORE, target), localization, damage)
            parts["post_only"].add(np.where(no_view, target, IGNORE), localization, damage)
        if predictions is not None:
            write_predictions(predictions, pair.id, localization, damage)
    scores = confusion.scores()
    scores["pre"] = view
    if view == "half":
        scores["parts"] = {name: {k: v for k, v in part.scores().items() if k != "confusion"}
                           for name, part in parts.items()}
    scores["scenes"] = len(pairs)
    scores["seconds"] = round(time.monotonic() - started, 2)
    return scores


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `satedge evaluate`: the model, the data, the IR precision or the checkpoint's tiling, outputs."""
    p.add_argument("--model", type=Path, required=True,
                   help="a checkpoint (.pt from satedge train) or a model folder with manifest.json")
    p.add_argument("--data", type=Path, required=True, nargs="+",
                   help="folder in the xBD layout with targets; with --footprints: GeoTIFF scenes or folders")
    p.add_argument("--footprints", type=Path, default=None,
                   help="building footprints GeoJSON (WGS84): score localisation on real GeoTIFF scenes instead")
    p.add_argument("--reference", type=Path, default=None,
                   help="with --footprints: the pre-event GeoTIFF or mosaic (warped onto each scene)")
    p.add_argument("--precision", default="fp32", help="IR precision: fp32, fp16, int8-nncf, int8-inc, int8")
    p.add_argument("--pre", choices=PRE_VIEWS, default="full",
                   help="pre-event view each scene keeps: full, none (graded post-only) or a random half "
                        "(scored whole and per part); default full")
    p.add_argument("--predictions", type=Path, default=None, help="write the official scorer's PNGs here")
    p.add_argument("--limit", type=int, default=None, help="score only the first N pairs")
    p.add_argument("--tile", type=int, default=None, help="checkpoint only: tile (default: as trained)")
    p.add_argument("--overlap", type=int, default=None, help="checkpoint only: overlap (default: as trained)")
    p.add_argument("--threads", type=int, default=None, help="checkpoint only: torch intra-op threads")
    p.add_argument("--record", action="store_true",
                   help="IR only: store the scores in the manifest under this precision")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Score the model, print the JSON (and with `--record`, store the scores in the manifest); exit code 0."""
    kind = model_kind(args.model)
    if args.footprints is not None:
        return run_real(args, kind)
    if len(args.data) != 1:
        raise UserError("--data names one folder in the xBD layout (several only with --footprints)")
    args.data = args.data[0]
    if args.record and kind != "ir":
        raise UserError("--record needs a model folder (it writes the manifest)")
    pairs = find_pairs(args.data)[: args.limit]
    predictor, described = PREDICTORS[kind](args.model, args)
    if args.predictions is not None:
        args.predictions.mkdir(parents=True, exist_ok=True)
    scores = evaluate(predictor, pairs, args.predictions, progress=not args.quiet, view=args.pre)
    result = {**described, "data": str(args.data), **scores}
    if args.record:
        manifest = Manifest.load(args.model)
        entry = manifest.precisions[described["precision"]]
        if args.pre == "full":
            summary = {k: result[k] for k in ("localization_f1", "damage_f1_per_class", "damage_f1", "score",
                                              "scenes", "data")}
            summary["confusion_damage"] = result["confusion"]["damage"]["counts"]
            entry.scores = summary
        else:
            entry.scores_by_pre[args.pre] = {k: result[k] for k in ("localization_f1", "damage_f1", "score",
                                                                    "scenes", "data", "parts") if k in result}
        manifest.save()
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


def run_real(args: argparse.Namespace, kind: str) -> int:
    """Real-imagery localisation of a model folder's IR against `--footprints`; print (and `--out`) the JSON."""
    from predict.localisation import evaluate as evaluate_real
    if kind != "ir":
        raise UserError("--footprints scores a model folder (the satellite's IR), not a checkpoint")
    if args.record:
        raise UserError("--record stores synthetic xView2 scores; real-imagery figures are not recorded")
    result = evaluate_real(args.model, args.precision, args.reference, args.footprints, args.data,
                           progress=not args.quiet)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0
