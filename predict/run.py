"""The satellite's path for one input: read (and warp the reference), infer, find buildings, guard."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from onboard import guard, postprocess
from onboard.config import PostprocessSection
from onboard.engine import Engine
from onboard.manifest import Manifest
from predict.inputs import GeoTiffReader, Input, kind, read_xbd


@dataclass
class Result:
    """One input's maps and what the daemon would make of them (buildings only for a georeferenced input)."""

    input: Input
    classes: NDArray[np.uint8]
    confidence: NDArray[Any]
    stats: dict[str, float]
    ood: list[str]
    found: postprocess.Buildings | None = None
    labels: NDArray[np.int32] | None = None


class Predictor:
    """A compiled model (the daemon's engine and head), its guard, and the reference for GeoTIFF inputs."""

    def __init__(self, model_dir: Path, precision: str, reference: Path | None,
                 post: PostprocessSection | None = None, cache_dir: Path | None = None):
        self.manifest = Manifest.load(model_dir)
        self.engine = Engine(self.manifest, precision, cache_dir=cache_dir)
        self.guard = guard.load(model_dir)
        self.post = post or PostprocessSection()
        self.tiffs = GeoTiffReader(reference)

    def read(self, path: Path) -> Input:
        """Decode one input (a `BadInput` says why it cannot be)."""
        return read_xbd(path) if kind(path) == "xbd" else self.tiffs.read(path)

    def infer(self, item: Input) -> Result:
        """Classes and confidence per pixel, the guard's verdict, and for a GeoTIFF the buildings."""
        job = self.engine.run_scene(item.pixels)
        classes, confidence = job.stitcher["classes"], job.stitcher["confidence"]
        stats = guard.statistics(classes, confidence)
        ood = self.guard.check(stats) if self.guard is not None else []
        result = Result(item, classes, confidence, stats, ood)
        if item.crs is not None and item.transform is not None:
            result.found, result.labels = postprocess.instances(classes, confidence, item.crs, item.transform,
                                                                self.post.split_m, self.post.min_area_m2,
                                                                item.coverage)
        return result

    def close(self) -> None:
        """Finish queued work and close the reference."""
        self.engine.drain()
        self.tiffs.close()
