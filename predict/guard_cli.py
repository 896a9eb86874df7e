"""`satedge guard`: calibrate a model's out-of-distribution guard and measure its false alarms.

    satedge guard --model DIR --calibrate FOLDER [--test FOLDER] [--precision P ...] [--pre V ...] [--write]

Both folders hold *held-out* synthetic scenes in the xBD layout (`satedge
scenes` with seeds the model was not trained on; `--test` with yet another
seed). The bounds come from `--calibrate` at the first precision; the false
alarm rate is measured on `--test` at every precision, so the number printed
is not measured on the scenes that set the bounds. `--pre none half` adds
the scenes as the satellite has them outside and at the edge of its reference
(graded post-only there) to both. `--write` stores the
guard as `guard.json` beside the manifest (`onboard.guard`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from onboard import guard
from onboard.engine import Engine
from onboard.manifest import Manifest
from predict.inputs import XBD_POST, read_xbd
from satedge.errors import UserError
from satedge.vocabulary import PRECISIONS
from training.coverage import PRE_VIEWS, without_view

DEFAULT_TAIL = 0.005
DEFAULT_MARGIN = 0.25


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `satedge guard`."""
    p.add_argument("--model", type=Path, required=True, help="model folder with manifest.json")
    p.add_argument("--calibrate", type=Path, required=True, help="held-out synthetic scenes (xBD layout)")
    p.add_argument("--test", type=Path, default=None, help="other held-out scenes: false alarms are counted here")
    p.add_argument("--precision", nargs="+", default=["int8"], choices=PRECISIONS,
                   help="the first calibrates; false alarms are measured at each (default int8)")
    p.add_argument("--pre", nargs="+", default=["full"], choices=PRE_VIEWS,
                   help="pre-event views of each scene: full, none (outside the reference), half (at its edge); "
                        "calibrated on all of them, false alarms counted for each (default full)")
    p.add_argument("--tail", type=float, default=DEFAULT_TAIL, help="quantile of each side that sets a bound")
    p.add_argument("--margin", type=float, default=DEFAULT_MARGIN, help="bounds widened by this share of the span")
    p.add_argument("--write", action="store_true", help="store the guard as guard.json beside the manifest")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def post_images(folder: Path) -> list[Path]:
    """The post images of a folder in the xBD layout, sorted."""
    found = sorted((folder / "images").glob(f"*{XBD_POST}"))
    if not found:
        raise UserError(f"{folder}: no images/*{XBD_POST}")
    return found


def viewed(path: Path, view: str) -> NDArray[np.uint8]:
    """The scene's `[6, H, W]` pixels with the pre-event view `view` (training.coverage)."""
    pixels = read_xbd(path).pixels
    if view != "full":
        pre, _ = without_view(path.name[: -len(XBD_POST)], pixels[:3].transpose(1, 2, 0), view)
        pixels[:3] = pre.transpose(2, 0, 1)
    return pixels


def scene_statistics(engine: Engine, paths: list[Path], quiet: bool, view: str = "full") -> list[dict[str, float]]:
    """The guard's statistics of each scene, through the daemon's engine and head."""
    out = []
    for path in tqdm(paths, desc=f"guard {engine.precision} pre={view}", unit="scene", disable=quiet, leave=False):
        job = engine.run_scene(viewed(path, view))
        out.append(guard.statistics(job.stitcher["classes"], job.stitcher["confidence"]))
    return out


def false_alarms(g: guard.Guard, samples: list[dict[str, float]]) -> dict[str, Any]:
    """How many in-distribution scenes the guard flags, and by which statistic."""
    flagged = [g.check(s) for s in samples]
    by: dict[str, int] = {}
    for names in flagged:
        for name in names:
            by[name] = by.get(name, 0) + 1
    n = sum(1 for f in flagged if f)
    return {"scenes": len(samples), "flagged": n, "rate": round(n / len(samples), 4), "by_statistic": by}


def run(args: argparse.Namespace) -> int:
    """Calibrate, measure false alarms, optionally write guard.json; print the JSON."""
    if not 0 <= args.tail < 0.5 or args.margin < 0:
        raise UserError("--tail must be in [0, 0.5) and --margin >= 0")
    manifest = Manifest.load(args.model)
    engines = {p: Engine(manifest, p) for p in dict.fromkeys(args.precision)}
    first = next(iter(engines.values()))
    views = list(dict.fromkeys(args.pre))
    scenes = post_images(args.calibrate)
    calibration = [s for view in views for s in scene_statistics(first, scenes, args.quiet, view)]
    g = guard.Guard(bounds=guard.calibrate(calibration, args.tail, args.margin),
                    calibration={"scenes": len(scenes), "pre": views, "data": str(args.calibrate),
                                 "precision": first.precision, "tail": args.tail, "margin": args.margin,
                                 "stride": guard.STRIDE, "unsure_below": guard.UNSURE})
    result: dict[str, Any] = {"model": manifest.name, "bounds": g.bounds, "calibration": g.calibration,
                              "calibration_flagged": false_alarms(g, calibration)}
    if args.test is not None:
        tests = post_images(args.test)
        result["test"] = {"data": str(args.test)}
        for e in engines.values():
            if views == ["full"]:
                result["test"][e.precision] = false_alarms(g, scene_statistics(e, tests, args.quiet))
                continue
            result["test"][e.precision] = {view: false_alarms(g, scene_statistics(e, tests, args.quiet, view))
                                           for view in views}
        g.calibration["false_alarms"] = {k: v for k, v in result["test"].items() if k != "data"}
        g.calibration["test_data"] = str(args.test)
    if args.write:
        result["written"] = str(g.save(args.model))
    print(json.dumps(result, indent=2))
    return 0
