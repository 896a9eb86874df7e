"""The benchmark's input: the default scenario's GeoTIFF scenes, and model tiles cut from them.

Every measurement sees the same pixels: the daemon reads these scenes from
its inbox, and the per-runtime rows run on tiles cut from the first of them
with the daemon's own tiling. The scenes come from the simulation's camera
(`sim.camera.prepare` on `sim/default.toml`), so they are exactly what
`satedge sim` feeds the satellite.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio

from onboard import ingest, tiling
from onboard.ingest import SCENE_ID_TAG
from satedge import config as satedge_config
from sim.config import DEFAULT_SCENARIO, CameraConfig, CameraSection, SimConfig

# --quick: a smaller strip of smaller scenes (the tiny test model has 64-pixel tiles).
QUICK_SCENARIO = {"orbits": 1, "scenes_per_orbit": 3, "scene_size": 512}
MAX_BATCH_TILES = 32
BIG_LIMIT = 1 << 40   # no scene-size limits for the benchmark's own reading


@dataclass
class SceneSet:
    """The scenes every step runs on, and the scenario and post-processing they were made with."""

    geotiffs: list[Path]         # post-event scenes, as the camera stages them
    reference: Path              # the pre-event mosaic they are read against
    scenario: dict               # what they are: the scenario's key values
    postprocess: dict            # the scenario's post-processing (min_class decides the downlink bytes)


def prepare(work: Path, quick: bool) -> SceneSet:
    """Make the default scenario's scenes (a smaller strip with --quick) under `work`."""
    from onboard.config import IngestSection
    from sim import camera

    sim_config = satedge_config.load(SimConfig, DEFAULT_SCENARIO)
    scenario = sim_config.scenario
    if quick:
        scenario = scenario.model_copy(update=QUICK_SCENARIO)
    staging, reference = work / "staging", work / "reference" / "reference.tif"
    config = CameraConfig(clock=sim_config.clock, scenario=scenario,
                          ingest=IngestSection(inbox=work / "camera-inbox", reference=reference),
                          camera=CameraSection(staging=staging, truth=work / "truth"))
    specs = camera.prepare(config, float(sim_config.clock.epoch or 0.0))
    geotiffs = [camera.staged_path(config, spec) for spec in sorted(specs, key=lambda s: s.post_time)]
    return SceneSet(geotiffs, reference, {"file": str(DEFAULT_SCENARIO.name), **scenario.model_dump(mode="json")},
                    sim_config.postprocess.model_dump(mode="json"))


def read(scene: Path, reference: Path) -> ingest.Scene:
    """Decode one scene with the daemon's reader (pre window from the reference mosaic)."""
    ref = ingest.Reference(reference)
    try:
        return ingest.Reader(ref, BIG_LIMIT, BIG_LIMIT).read(scene, arrived=0.0)
    finally:
        ref.close()


def tiles_per_scene(scene: ingest.Scene, tile: int, overlap: int) -> int:
    """How many tiles the daemon cuts from `scene` (one smaller than a tile is padded to a tile)."""
    height, width = scene.shape
    return len(tiling.grid(max(height, tile), max(width, tile), tile, overlap))


def model_tiles(scenes: SceneSet, tile: int, overlap: int, out: Path) -> Path:
    """`[32, 6, tile, tile]` u8 tiles cut from the scenes as the daemon cuts them, saved as .npy."""
    chips = []
    for path in scenes.geotiffs:
        pixels = tiling.pad_to(read(path, scenes.reference).pixels, tile)
        chips.append(tiling.cut(pixels, tiling.grid(pixels.shape[1], pixels.shape[2], tile, overlap), tile))
        if sum(len(c) for c in chips) >= MAX_BATCH_TILES:
            break
    tiles = np.concatenate(chips)
    tiles = np.resize(tiles, (MAX_BATCH_TILES, *tiles.shape[1:]))   # repeat if the scenes are small
    np.save(out, tiles)
    return out


COPY = "-copy"   # file stem and SCENE_ID suffix of the n-th copy of a scene: "<id>-copy<n>"


def original(name: str) -> str:
    """The scene id or file stem a copy was made from (itself, for an original)."""
    return name.partition(COPY)[0]


def stage_copies(scenes: SceneSet, inbox: Path, copies: int = 1) -> list[Path]:
    """Publish `copies` x the scenes into `inbox` at once: all are copied aside first, then renamed in.

    Each copy is a new acquisition (its SCENE_ID tag gets a suffix): the daemon knows scenes by their
    acquisition id and would skip the same scene published again (issue 16, row 2).
    """
    inbox.mkdir(parents=True, exist_ok=True)
    aside = []
    for copy in range(copies):
        for path in scenes.geotiffs:
            name = path.name if copy == 0 else f"{path.stem}{COPY}{copy}{path.suffix}"
            tmp = inbox / f".{name}.part"
            shutil.copyfile(path, tmp)
            if copy:
                with rasterio.open(tmp, "r+") as ds:
                    ds.update_tags(**{SCENE_ID_TAG: f"{ds.tags().get(SCENE_ID_TAG, path.stem)}{COPY}{copy}"})
            aside.append((tmp, inbox / name))
    return [tmp.replace(final) for tmp, final in aside]
