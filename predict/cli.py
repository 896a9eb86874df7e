"""`satedge predict`: the satellite's damage assessment on your own imagery, as files you can look at.

    satedge predict --model DIR [--precision P] [--reference FILE] --out DIR INPUT...

Per input: `<stem>_classes.tif` (GeoTIFF input: u8, 0 background, 1-4 grade,
on the post scene's grid) or `<stem>_classes.png` (xBD input),
`<stem>.geojson` (building polygons in WGS84 with grade, confidence and area;
GeoTIFF input) and `<stem>_overlay.png`. A bad input is one line on stderr
and leaves nothing in `--out`; the others go on, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from onboard.guard import GUARD_FILE
from predict import outputs
from predict.inputs import BadInput
from predict.run import Predictor, Result
from satedge.errors import UserError
from satedge.vocabulary import PRECISIONS


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `satedge predict`."""
    p.add_argument("--model", type=Path, required=True,
                   help="model folder with manifest.json (e.g. models/satedge-unet)")
    p.add_argument("--precision", default="int8", choices=PRECISIONS, help="IR precision (default int8, as onboard)")
    p.add_argument("--reference", type=Path, default=None,
                   help="pre-event GeoTIFF or mosaic for GeoTIFF inputs (any CRS and resolution: warped to each "
                        "post scene's grid)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT",
                   help="post-event GeoTIFF, or xBD *_post_disaster.png with its *_pre_disaster.png beside it")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def write(result: Result, out: Path) -> list[Path]:
    """Every output file of one input, all or nothing."""
    item = result.input
    staged = outputs.Staged(out)
    notes = [f"OUT OF DISTRIBUTION: {', '.join(result.ood)}"] if result.ood else []
    if item.coverage_share < 1:
        notes.append(f"no pre-event view on {100 * (1 - item.coverage_share):.0f} %: graded post-only there")
    note = "; ".join(notes)
    try:
        if item.crs is not None and item.transform is not None:
            assert result.found is not None and result.labels is not None
            outputs.write_classes_tif(staged.path(f"{item.stem}_classes.tif"), result.classes, item.crs,
                                      item.transform)
            features = outputs.polygons(result.labels, result.found, item.crs, item.transform)
            outputs.write_geojson(staged.path(f"{item.stem}.geojson"), features,
                                  {"scene": item.stem, "ood": result.ood,
                                   "coverage": round(item.coverage_share, 4),
                                   "stats": {k: round(v, 4) for k, v in result.stats.items()}})
        else:
            outputs.write_png(staged.path(f"{item.stem}_classes.png"), result.classes)
        outputs.write_png(staged.path(f"{item.stem}_overlay.png"), outputs.overlay(item.post, result.classes, note))
        return staged.commit()
    except BaseException:
        staged.discard()
        raise


def run(args: argparse.Namespace) -> int:
    """Predict every input; 0 if all were written, 1 if any input was bad (each said in one line)."""
    predictor = Predictor(args.model, args.precision, args.reference)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        predictor.close()
        raise UserError(f"cannot create --out {args.out}: {exc.strerror}") from None
    if predictor.guard is None:
        print(f"satedge predict: note: {args.model} has no {GUARD_FILE}: scenes are not checked for being "
              "out of distribution", file=sys.stderr)
    failed = 0
    try:
        for path in tqdm(args.inputs, desc="predict", unit="scene", disable=args.quiet):
            try:
                result = predictor.infer(predictor.read(path))
                write(result, args.out)
            except (BadInput, OSError) as exc:
                failed += 1
                tqdm.write(f"satedge predict: error: {path}: {exc}", file=sys.stderr)
                continue
            if result.ood:
                tqdm.write(f"satedge predict: {path.name}: out of distribution ({', '.join(result.ood)})",
                           file=sys.stderr)
    finally:
        predictor.close()
    return 1 if failed else 0
