"""The camera feed: the satellite's sensor, acquiring a strip of scenes per pass over the area.

`prepare` makes every scene of the scenario once, before the run: the
pre-event reference mosaic the daemon reads, the ground truth (xBD labels)
the simulation scores against, and the post-event GeoTIFFs, staged out of
the daemon's sight. `feed` then moves each one into the inbox at its
acquisition time (simulated), by rename, so the daemon never sees half a
file. Orbit k images row k of the area's grid.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform

from satedge import config as satedge_config
from satedge.clock import SimClock
from satedge.errors import UserError
from satedge.logs import event
from sim.config import CameraConfig, ScenarioSection
from sim.scenes.geo import GeoTiffWriter
from sim.scenes.scene import make_scene
from sim.scenes.spec import GSD_M, SceneSpec
from sim.scenes.xbd import XbdWriter

log = logging.getLogger("sim.camera")

PRE_EVENT_DAYS = 60


def utm_epsg(lat: float, lon: float) -> int:
    """EPSG code of the WGS84 UTM zone holding (lat, lon) in degrees: 326xx north of the equator, 327xx south."""
    zone = int((lon + 180) // 6) + 1
    return (32600 if lat >= 0 else 32700) + zone


def scenario_specs(scenario: ScenarioSection, epoch: float) -> list[SceneSpec]:
    """One event of the scenario's disaster: `orbits` strips of `scenes_per_orbit` adjacent scenes."""
    epsg = utm_epsg(scenario.lat, scenario.lon)
    (east,), (north,) = warp_transform(CRS.from_epsg(4326), CRS.from_epsg(epsg), [scenario.lon], [scenario.lat])
    side = scenario.scene_size * GSD_M
    origin = (math.floor(east - scenario.scenes_per_orbit * side / 2),
              math.floor(north + scenario.orbits * side / 2))
    specs = []
    for orbit in range(1, scenario.orbits + 1):
        for k in range(scenario.scenes_per_orbit):
            index = len(specs)
            post = datetime.fromtimestamp(scenario.acquisition_time(epoch, orbit, k), UTC)
            specs.append(SceneSpec(
                seed=scenario.seed, index=index, event=f"{scenario.disaster}-1", kind=scenario.disaster,
                event_scene=index, event_intensity=scenario.intensity, cell=(orbit - 1, k),
                size=scenario.scene_size, epsg=epsg, origin=origin,
                pre_time=(post - timedelta(days=PRE_EVENT_DAYS)).replace(microsecond=0),
                post_time=post.replace(microsecond=0), style=scenario.style))
    return specs


def staged_path(config: CameraConfig, spec: SceneSpec) -> Path:
    """Where `prepare` stages a scene's post GeoTIFF until `feed` moves it, under the same name, into the inbox."""
    return config.camera.staging / "geotiff" / f"{spec.stem}_post_disaster.tif"


def prepare(config: CameraConfig, epoch: float) -> list[SceneSpec]:
    """Make the reference mosaic, the ground truth and the staged post scenes, once.

    Done means the reference and every scene's truth exist (the last files written): staged scenes
    leave staging when they are acquired, so a restarted satellite must not stage them again.
    """
    specs = scenario_specs(config.scenario, epoch)
    reference = config.ingest.reference
    truth = config.camera.truth / "labels"
    if reference.exists() and all((truth / f"{s.stem}_post_disaster.json").exists() for s in specs):
        return specs
    try:
        for folder in (config.camera.staging, config.camera.truth, reference.parent, config.ingest.inbox):
            folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the camera's folders: {exc}") from None
    writers = [GeoTiffWriter(config.camera.staging, specs), XbdWriter(config.camera.truth, specs)]
    for i, spec in enumerate(specs, 1):
        scene = make_scene(spec)
        for writer in writers:
            writer.add(scene)
        event(log, "scene prepared", scene=spec.stem, done=f"{i}/{len(specs)}")
    for writer in writers:
        writer.close()
    shutil.move(config.camera.staging / "geotiff" / "reference.tif", reference)
    return specs


def feed(config: CameraConfig, clock: SimClock, specs: list[SceneSpec], stop=lambda: False) -> int:
    """Move each staged scene into the inbox at its acquisition time; return how many were acquired."""
    acquired = 0
    for spec in sorted(specs, key=lambda s: s.post_time):
        due = spec.post_time.timestamp()
        while clock.now() < due:
            if stop():
                return acquired
            clock.sleep_until(due, max_wall=0.5)
        source = staged_path(config, spec)
        if not source.exists():
            continue  # acquired by an earlier run of the feed
        os.replace(source, config.ingest.inbox / source.name)
        acquired += 1
        event(log, "scene acquired", scene=spec.stem, acq=due)
    return acquired


def add_arguments(parser) -> None:
    """Options of `satedge camera`: the scenario file, `--prepare` (stage only) and `--check-config`."""
    parser.add_argument("--config", type=Path, default=None, help="scenario TOML (default: built-in)")
    parser.add_argument("--prepare", action="store_true",
                        help="only make the reference mosaic, ground truth and staged scenes, then exit")
    parser.add_argument("--check-config", action="store_true", help="validate and print the configuration")


def run(args) -> int:
    """Stage the scenes once, then feed them at their acquisition times until done, SIGTERM or the run's end."""
    import json
    import signal

    config = satedge_config.load(CameraConfig, args.config)
    if args.check_config:
        print(json.dumps(config.effective(), indent=2))
        return 0
    clock = SimClock.from_config(config.clock)
    specs = prepare(config, clock.epoch)
    if args.prepare:
        print(f"{len(specs)} scenes staged; reference mosaic at {config.ingest.reference}")
        return 0
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    acquired = feed(config, clock, specs, stop=lambda: bool(stopping) or clock.run_over())
    event(log, "feed finished", acquired=acquired, scenes=len(specs))
    return 0
