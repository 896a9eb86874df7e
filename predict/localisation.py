"""`satedge evaluate --footprints`: the real-imagery localisation score of a model folder's IR.

Each GeoTIFF scene runs through `predict.run.Predictor` (the daemon's reader,
engine and post-processing), and is scored by `predict.footprints`: as a
whole, and in `parts` by what the reference covered (`with_pre`) and did not
(`post_only`, graded from the post image alone). A scene the daemon would
quarantine is listed under `skipped` with the daemon's reason, not scored.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from onboard import ingest
from predict import footprints
from predict.inputs import BadInput
from predict.run import Predictor
from satedge.errors import UserError

# What is scored: the whole scenes, the parts the reference covered, the parts graded from the post alone.
PARTS = ("all", "with_pre", "post_only")


def scenes(data: list[Path]) -> list[Path]:
    """GeoTIFFs named, or found (sorted) in the folders named."""
    found: list[Path] = []
    for path in data:
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in ingest.SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"--data {path}: no such GeoTIFF or folder")
    if not found:
        raise UserError("--data names no GeoTIFF scenes")
    return found


def evaluate(model: Path, precision: str, reference: Path | None, footprints_path: Path, data: list[Path],
             progress: bool = True) -> dict[str, Any]:
    """Pixel and per-building localisation scores over the scenes, in total and per scene."""
    paths = scenes(data)
    polygons, tree = footprints.load(footprints_path)
    predictor = Predictor(model, precision, reference)
    totals = {part: footprints.Counts() for part in PARTS}
    per_scene, skipped = [], []
    started = time.monotonic()
    try:
        for path in tqdm(paths, desc="evaluate", unit="scene", disable=not progress, leave=False):
            try:
                result = predictor.infer(predictor.read(path))
            except BadInput as bad:
                skipped.append({"scene": path.name, "reason": str(bad)})
                continue
            if result.found is None or result.labels is None or result.input.crs is None \
                    or result.input.transform is None:
                skipped.append({"scene": path.name, "reason": "not georeferenced"})
                continue
            counts = footprints.score_scene(result.classes, result.labels, result.found, result.input.crs,
                                            result.input.transform, polygons, tree, result.input.coverage)
            for part, total in totals.items():
                total.add(counts[part])
            per_scene.append({"scene": path.name, **counts["all"].scores(),
                              "coverage": round(result.input.coverage_share, 4), "ood": result.ood})
    finally:
        predictor.close()
    return {"kind": "real imagery, localisation only", "model": predictor.manifest.name,
            "precision": predictor.engine.precision, "footprints": str(footprints_path),
            "reference": str(reference) if reference else None, "scored": len(per_scene),
            **totals["all"].scores(), "parts": {part: totals[part].scores() for part in PARTS if part != "all"},
            "scenes": per_scene, "skipped": skipped, "seconds": round(time.monotonic() - started, 2)}
