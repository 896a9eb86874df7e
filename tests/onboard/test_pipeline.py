"""`onboard.pipeline.Pipeline` in-process, built as `onboard/daemon.py` builds it.

Real parts only: OpenVINO on real IRs, real GeoTIFFs in a real inbox, a real SQLite spool. Most tests run
the tiny random-weight U-Net (tests/conftest.py), which calls every pixel of these scenes "destroyed"; the
`min_class` test needs buildings of every class, so it runs a second real IR made here by the project's own
exporter from a 1x1 convolution that classifies each pixel by its post-event red value.
"""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from onboard import ingest
from onboard.config import IngestSection, PostprocessSection
from onboard.engine import Engine
from onboard.manifest import Manifest, sha256
from onboard.pipeline import MAX_SCENES_IN_FLIGHT, Pipeline
from onboard.spool import Spool, Spooled
from onboard.telemetry import Telemetry
from satedge.clock import SimClock
from satedge.protocol import encode, post_only_rows, priority, validate_body
from tests.conftest import JOPLIN
from tests.onboard.conftest import ACQUIRED, ORIGIN, RES, texture, write_tiff

pytestmark = pytest.mark.timeout(120)

# The banded model: post-event red value -> class (0 background, 1 no damage .. 4 destroyed).
BAND = {0: 0, 1: 64, 2: 128, 3: 192, 4: 255}


def wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


@pytest.fixture(scope="module")
def banded_model_dir(tmp_path_factory) -> Path:
    """A real IR (FP32/FP16, manifest, sha256) whose class per pixel is the post red band nearest BAND."""
    torch = pytest.importorskip("torch")
    from training.export import export_ir

    class Banded(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(6, 5, 1)
            centres = torch.tensor([float(BAND[c]) for c in range(5)])
            with torch.no_grad():   # logit_c = -(x - centre_c)^2 / 256 + x^2 / 256: argmax = the nearest centre
                self.conv.weight.zero_()
                self.conv.weight[:, 3, 0, 0] = 2 * centres / 256
                self.conv.bias.copy_(-centres ** 2 / 256)

        def forward(self, x):
            return self.conv(x)

    out = tmp_path_factory.mktemp("banded-model")
    export_ir(Banded(), out, name="banded", tile=64, overlap=8,
              training={"command": "tests/onboard/test_pipeline.py banded_model_dir", "seed": 0})
    return out


class Rig:
    """One pipeline with its inbox, spool and telemetry in a test's tmp_path."""

    def __init__(self, root: Path, engine: Engine, reference: Path, *, min_class: int = 2,
                 spool: Spool | None = None):
        self.root = root
        self.inbox = root / "inbox"
        self.inbox.mkdir(exist_ok=True)
        self.spool = spool or Spool(root / "spool.sqlite")
        self.telemetry = Telemetry()
        self.reference = ingest.Reference(reference)
        self.ingest_cfg = IngestSection(inbox=self.inbox, reference=reference, poll_s=0.02)
        reader = ingest.Reader(self.reference, self.ingest_cfg.max_side, self.ingest_cfg.max_pixels)
        clock = SimClock(epoch=ACQUIRED, start=time.time())
        self.pipeline = Pipeline(engine, reader, self.spool, self.telemetry, clock, self.ingest_cfg,
                                 PostprocessSection(), min_class=min_class)

    def out(self) -> int:
        return int(self.telemetry.values["scenes_out"])

    def summaries(self) -> list[Spooled]:
        """Everything in the spool, in seq order."""
        return sorted(self.spool.next_batch(exclude=set(), limit=10_000), key=lambda s: s.seq)

    def by_scene(self) -> dict[str, Spooled]:
        return {s.body["scene"]: s for s in self.summaries()}

    def left(self) -> set[str]:
        return {p.name for p in self.inbox.iterdir()}

    def close(self) -> None:
        if self.pipeline.threads[0].ident is not None:      # started
            self.pipeline.stop(timeout=30)
        self.reference.close()


@pytest.fixture
def rigs() -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(*args, **kwargs) -> Rig:
        rig = Rig(*args, **kwargs)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()
    for spool in {id(r.spool): r.spool for r in made}.values():
        spool.close()


@pytest.fixture(scope="module")
def tiny(tiny_model_dir) -> Manifest:
    return Manifest.load(tiny_model_dir)


def engine(manifest: Manifest, precision: str, tmp_path: Path) -> Engine:
    return Engine(manifest, precision, cache_dir=tmp_path / "ov-cache")


def scene(folder: Path, name: str, *, height: int = 256, width: int = 256, col: int = 0, row: int = 0,
          seed: int = 0, pixels: np.ndarray | None = None, acquired: float = ACQUIRED, **options) -> Path:
    """A post-event GeoTIFF at reference pixel (col, row), published by rename (`options`: GDAL's)."""
    if pixels is None:
        pixels = texture(seed, max(height, width))[:, :height, :width]
    return write_tiff(folder / f"{name}.tif", np.ascontiguousarray(pixels), west=ORIGIN[0] + col * RES,
                      north=ORIGIN[1] - row * RES, tags={"ACQUISITION_TIME": str(acquired)}, **options)


def tiles(height: int, width: int, tile: int = 64, overlap: int = 8) -> int:
    """Tiles of a scene by hand: origins every tile - overlap, plus one flush with each far edge."""
    per_axis = [len(range(0, size - tile, tile - overlap)) + 1 if size > tile else 1 for size in (height, width)]
    return per_axis[0] * per_axis[1]


def test_each_scene_is_summarised_once_with_its_precision_and_tiles(rigs, tiny, tmp_path, geo):
    rig = rigs(tmp_path, engine(tiny, "fp16", tmp_path), geo.reference)
    shapes = {"a": (256, 256, 0, 0), "b": (256, 256, 300, 200), "c": (128, 192, 600, 700), "d": (100, 70, 900, 10)}
    for i, (name, (h, w, col, row)) in enumerate(shapes.items()):
        scene(rig.inbox, name, height=h, width=w, col=col, row=row, seed=i)
    # no SCENE_ID tag: the spool knows these scenes by their files' sha256 (ingest.identity)
    digests = {name: "sha256:" + sha256(rig.inbox / f"{name}.tif") for name in shapes}
    rig.pipeline.start()
    wait_for(lambda: rig.out() == len(shapes) and not rig.left(), 20, "every scene spooled and retired")
    rig.pipeline.stop()

    assert rig.left() == set()
    summaries = rig.summaries()
    assert [s.seq for s in summaries] == [1, 2, 3, 4]                  # once each, numbered from 1
    assert {s.body["scene"] for s in summaries} == set(shapes)
    for s in summaries:
        h, w, _, _ = shapes[s.body["scene"]]
        validate_body(s.body)
        assert s.body["prec"] == "fp16" and s.body["model"] == "tiny"
        assert s.body["raw"] == h * w * 3 and s.body["acq"] == ACQUIRED
        assert s.prio == priority(s.body["n"])
        assert rig.spool.done(digests[s.body["scene"]])
    values = rig.telemetry.snapshot()
    assert values["tiles"] == sum(tiles(h, w) for h, w, _, _ in shapes.values()) == 25 + 25 + 12 + 4
    assert values["scenes_in"] == values["scenes_out"] == 4
    assert values["quarantined"] == values["scenes_skipped"] == 0
    assert rig.pipeline.in_flight == 0 and not rig.pipeline.failed


def test_a_corrupt_file_is_quarantined_with_its_reason_and_the_good_scenes_go_on(rigs, tiny, tmp_path, geo):
    rig = rigs(tmp_path, engine(tiny, "fp16", tmp_path), geo.reference)
    whole = scene(tmp_path, "whole", seed=9).read_bytes()
    (rig.inbox / ".corrupt.part").write_bytes(whole[: len(whole) // 2])      # oldest: read first
    (rig.inbox / ".corrupt.part").rename(rig.inbox / "corrupt.tif")
    scene(rig.inbox, "good-1", seed=1)
    scene(rig.inbox, "good-2", col=400, row=400, seed=2)
    rig.pipeline.start()
    wait_for(lambda: rig.out() == 2 and rig.telemetry.values["quarantined"] == 1, 20, "2 spooled, 1 quarantined")
    rig.pipeline.stop()

    quarantine = tmp_path / "quarantine"                     # the default: beside the inbox
    assert sorted(p.name for p in quarantine.iterdir()) == ["corrupt.tif", "corrupt.tif.reason"]
    assert (quarantine / "corrupt.tif").read_bytes() == whole[: len(whole) // 2]   # moved as it was
    reason = (quarantine / "corrupt.tif.reason").read_text()
    assert reason.startswith("not a readable GeoTIFF") and "file: corrupt.tif" in reason
    assert set(rig.by_scene()) == {"good-1", "good-2"}
    assert rig.left() == set() and not rig.pipeline.failed
    assert not rig.spool.done("sha256:" + sha256(quarantine / "corrupt.tif"))


def buildings_scene() -> np.ndarray:
    """Post-event pixels with one 10x10 px (25 m²) building of each class 1..4 on a class-0 background."""
    pixels = np.zeros((3, 128, 128), np.uint8)
    for cls, (y, x) in zip((1, 2, 3, 4), ((10, 10), (10, 80), (80, 10), (80, 80))):
        pixels[0, y:y + 10, x:x + 10] = BAND[cls]
    return pixels


def test_min_class_decides_which_buildings_are_listed(rigs, banded_model_dir, tmp_path, geo):
    rig = rigs(tmp_path, engine(Manifest.load(banded_model_dir), "fp32", tmp_path), geo.reference, min_class=3)
    rig.pipeline.start()
    scene(rig.inbox, "first", col=200, row=200, pixels=buildings_scene())
    wait_for(lambda: rig.out() == 1, 20, "the first scene")
    rig.pipeline.min_class = 1             # what set_min_class does, between two scenes
    # The same pixels acquired later: a new scene (the same file again would be skipped as already summarised).
    scene(rig.inbox, "second", col=200, row=200, pixels=buildings_scene(), acquired=ACQUIRED + 60)
    wait_for(lambda: rig.out() == 2, 20, "the second scene")
    rig.pipeline.min_class = 4
    scene(rig.inbox, "third", col=200, row=200, pixels=buildings_scene(), acquired=ACQUIRED + 120)
    wait_for(lambda: rig.out() == 3, 20, "the third scene")
    rig.pipeline.stop()

    bodies = {name: s.body for name, s in rig.by_scene().items()}
    for body in bodies.values():
        validate_body(body)
        assert body["n"] == [1, 1, 1, 1]                     # every building is counted whatever is listed
        assert all(row[3] == 25 and row[4] >= 90 for row in body["b"])   # 25 m², confident
    assert sorted(row[2] for row in bodies["first"]["b"]) == [3, 4]
    assert sorted(row[2] for row in bodies["second"]["b"]) == [1, 2, 3, 4]
    assert [row[2] for row in bodies["third"]["b"]] == [4]
    # The same building is listed the same way, whichever min_class listed it.
    destroyed = [next(row for row in body["b"] if row[2] == 4) for body in bodies.values()]
    assert destroyed[0] == destroyed[1] == destroyed[2]
    assert {s.prio for s in rig.summaries()} == {0}


def test_stop_finishes_scenes_in_flight_and_leaves_unstarted_ones_in_the_inbox(rigs, tiny, tmp_path, geo):
    fp16 = engine(tiny, "fp16", tmp_path)
    rig = rigs(tmp_path, fp16, geo.reference)
    names = [f"big-{i}" for i in range(6)]
    for i, name in enumerate(names):                         # 1024² (361 tiles each), oldest first
        scene(rig.inbox, name, height=1024, width=1024, seed=i)
    rig.pipeline.start()
    # In inference and nothing spooled yet (in_flight is read first: a scene leaves it only after scenes_out).
    deadline = time.monotonic() + 20
    while not (rig.pipeline.in_flight >= 1 and rig.out() == 0):
        assert rig.out() == 0, "a scene was spooled before one was seen in the engine"
        assert time.monotonic() < deadline, "no scene reached the engine"
        time.sleep(0.001)
    rig.pipeline.stop()

    assert rig.pipeline.stopped() and not any(t.is_alive() for t in rig.pipeline.threads)
    assert rig.pipeline.in_flight == 0 and not rig.pipeline.failed
    spooled, left = set(rig.by_scene()), {Path(n).stem for n in rig.left()}
    assert 1 <= len(spooled) <= MAX_SCENES_IN_FLIGHT         # what was in the engine got spooled, nothing more
    assert len(left) >= len(names) - MAX_SCENES_IN_FLIGHT
    assert spooled | left == set(names) and not spooled & left
    assert spooled == set(names[: len(spooled)])             # taken oldest first
    assert rig.out() == len(spooled) and not (tmp_path / "quarantine").exists()
    assert {s.body["scene"] for s in rig.summaries()} == spooled

    # What was left is intact and not claimed: a new pipeline on the same spool does exactly the rest.
    again = rigs(tmp_path, fp16, geo.reference, spool=rig.spool)
    again.pipeline.start()
    wait_for(lambda: again.out() == len(left), 30, "the scenes left in the inbox")
    again.pipeline.stop()
    assert again.left() == set()
    assert sorted(s.body["scene"] for s in again.summaries()) == sorted(names)   # each exactly once
    assert again.telemetry.values["scenes_skipped"] == 0


def test_a_precision_swap_between_scenes_changes_later_summaries_and_loses_none(rigs, tiny, tmp_path, geo):
    fp16 = engine(tiny, "fp16", tmp_path)
    rig = rigs(tmp_path, fp16, geo.reference)
    early = [f"early-{i}" for i in range(5)]
    for i, name in enumerate(early):
        scene(rig.inbox, name, col=100 * i, row=50 * i, seed=i)
    rig.pipeline.start()
    wait_for(lambda: rig.out() >= 1, 20, "a first scene by fp16")
    fp32 = engine(tiny, "fp32", tmp_path)                     # compiled while fp16 serves, as the commander does
    request = rig.pipeline.swap(fp32)
    assert request.done.wait(20), "the swap was never taken"
    assert rig.pipeline.engine is fp32
    late = [f"late-{i}" for i in range(2)]
    for i, name in enumerate(late):
        scene(rig.inbox, name, col=500, row=100 * i, seed=10 + i)
    wait_for(lambda: rig.out() == len(early) + len(late), 20, "every scene")
    rig.pipeline.stop()

    summaries = rig.summaries()
    assert sorted(s.body["scene"] for s in summaries) == sorted(early + late)   # none lost, none twice
    by_scene = {s.body["scene"]: s.body["prec"] for s in summaries}
    precisions = [by_scene[name] for name in early + late]                      # in the order they were read
    assert precisions[0] == "fp16" and set(precisions) == {"fp16", "fp32"}
    assert precisions == sorted(precisions, key=["fp16", "fp32"].index)        # never fp16 after fp32
    assert {by_scene[name] for name in late} == {"fp32"}
    # Every tile inferred exactly once, by the engine that made its scene's summary.
    assert fp16.tiles_done == 25 * precisions.count("fp16")
    assert fp32.tiles_done == 25 * precisions.count("fp32")
    values = rig.telemetry.snapshot()
    assert values["swaps"] == 1 and values["precision"] == "fp32" and values["tiles"] == 25 * len(summaries)
    assert rig.left() == set() and not rig.pipeline.failed


def test_a_swap_serves_at_once_while_the_old_engine_finishes_its_scene(rigs, tiny, tmp_path, geo):
    """The new engine takes the next scene while the old one still works through the scene in hand (its
    batches are made slow here: 0.1 s each), and that scene is still made by the old precision alone; then
    the old engine is freed."""
    fp16 = engine(tiny, "fp16", tmp_path)
    old_engine = weakref.ref(fp16)
    slowed: list[str] = []

    def slow_batches(*args, inner=fp16._queue_batches):
        for queued in inner(*args):
            slowed.append("batch")
            time.sleep(0.1)
            yield queued

    fp16._queue_batches = slow_batches   # type: ignore[method-assign]
    rig = rigs(tmp_path, fp16, geo.reference)
    scene(rig.inbox, "big", height=512, width=512, seed=1)           # 81 tiles: 8 s at 0.1 s a batch
    rig.pipeline.start()
    wait_for(lambda: len(slowed) >= 3, 20, "the big scene half queued")
    fp32 = engine(tiny, "fp32", tmp_path)
    request = rig.pipeline.swap(fp32)
    assert request.done.wait(5), "the swap was never taken"      # still well before the 8 s the scene takes
    assert len(slowed) < tiles(512, 512), "the swap waited for the old engine's scene"
    for i, name in enumerate(("next", "later")):
        scene(rig.inbox, name, col=300, row=300 * i, seed=2 + i)
    wait_for(lambda: rig.out() >= 1, 20, "the next scene, by the new engine")
    assert len(slowed) < tiles(512, 512), "the next scene waited for the old engine's"
    wait_for(lambda: rig.out() == 3, 30, "every scene")
    rig.pipeline.stop()

    by_scene = {s.body["scene"]: s.body for s in rig.summaries()}
    assert by_scene["big"]["prec"] == "fp16" and by_scene["next"]["prec"] == by_scene["later"]["prec"] == "fp32"
    assert fp16.tiles_done == tiles(512, 512) and fp32.tiles_done == 2 * tiles(256, 256)
    assert rig.telemetry.snapshot()["tiles"] == tiles(512, 512) + 2 * tiles(256, 256)
    assert not rig.pipeline.failed
    del fp16, slow_batches
    gc.collect()
    assert old_engine() is None, "the swapped-out engine is still alive"


def corrupt_late_rows(path: Path) -> None:
    """Overwrite the data of the file's last block of rows with garbage: its header and first rows stay good."""
    import rasterio
    with rasterio.open(path) as ds:
        rows = ds.height // ds.block_shapes[0][0] - 1
        offsets = [int(ds.get_tag_item(f"BLOCK_OFFSET_0_{rows}", "TIFF", bidx=b)) for b in (1, 2, 3)]
    with open(path, "r+b") as f:
        for offset in offsets:
            f.seek(offset)
            f.write(bytes(range(256)) * 4)


def test_a_scene_whose_file_fails_part_way_is_quarantined_once_its_first_tiles_are_done(rigs, tiny, tmp_path, geo):
    """A scene's rows are read as its tiles are queued: a file that breaks down after its first rows is found
    only then. It is quarantined with the reason, the tiles already queued are inferred and dropped, no summary
    is made from the incomplete maps, and the next scene goes on."""
    fp16 = engine(tiny, "fp16", tmp_path)
    rig = rigs(tmp_path, fp16, geo.reference)
    broken = scene(tmp_path, "broken", height=512, width=512, seed=1, compress="deflate", blockysize=64)
    corrupt_late_rows(broken)
    broken.rename(rig.inbox / broken.name)
    scene(rig.inbox, "next", col=300, row=300, seed=2)
    rig.pipeline.start()
    wait_for(lambda: rig.out() == 1 and rig.telemetry.values["quarantined"] == 1, 30, "1 spooled, 1 quarantined")
    rig.pipeline.stop()

    reason = (tmp_path / "quarantine" / "broken.tif.reason").read_text()
    assert reason.startswith("not a readable GeoTIFF (truncated or corrupt)"), reason
    assert set(rig.by_scene()) == {"next"} and rig.left() == set() and not rig.pipeline.failed
    assert tiles(256, 256) < fp16.tiles_done < tiles(256, 256) + tiles(512, 512)   # its first rows were inferred
    assert rig.telemetry.snapshot()["tiles"] == tiles(256, 256)                     # counted: the summarised only
    assert rig.pipeline.in_flight == 0


def test_scenes_are_known_by_content_not_by_file_name(rigs, tiny, tmp_path, geo):
    """Issue 16 row 2: a new scene published under a name used before was deleted unprocessed. It is
    summarised; the same content published again (under any name) is skipped, and said so."""
    rig = rigs(tmp_path, engine(tiny, "fp16", tmp_path), geo.reference)
    rig.pipeline.start()
    scene(rig.inbox, "reused", seed=1)
    wait_for(lambda: rig.out() == 1 and not rig.left(), 20, "the first scene")
    scene(rig.inbox, "reused", col=300, row=300, seed=2)             # the same name, a new scene
    wait_for(lambda: rig.out() == 2 and not rig.left(), 20, "the new scene under the old name")
    scene(rig.inbox, "copy", col=300, row=300, seed=2)               # the same content again, another name
    wait_for(lambda: rig.telemetry.values["scenes_skipped"] == 1 and not rig.left(), 20, "the copy skipped")
    assert rig.out() == 2 and len(rig.summaries()) == 2


@pytest.fixture(scope="module")
def generated_scene(tmp_path_factory) -> tuple[Path, Path]:
    """One generated 512² post scene and its reference (seed 8400: neither training's nor evaluation's)."""
    from sim.scenes.generate import generate
    out = tmp_path_factory.mktemp("generated")
    generate(out, 1, 8400, size=512, fmt="geotiff")
    return next((out / "geotiff").glob("*_post_disaster.tif")), out / "geotiff" / "reference.tif"


def _reference_part(reference: Path, out: Path, columns: int, shift_m: float = 0.0) -> Path:
    """The reference's first `columns` columns, moved east by `shift_m`: a mosaic that covers less."""
    import rasterio
    from affine import Affine
    from rasterio.windows import Window
    with rasterio.open(reference) as ds:
        window = Window(0, 0, columns, ds.height)
        transform = Affine.translation(shift_m, 0) @ ds.window_transform(window)
        profile = {**ds.profile, "width": columns, "transform": transform}
        pixels = ds.read(window=window)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(pixels)
    return out


@pytest.mark.parametrize("percent", [100, 30, 0])
def test_a_generated_scene_is_summarised_whatever_the_reference_covers(rigs, tmp_path, generated_scene, percent):
    """Issue 18: covered 100, 30 and 0 %, the scene is summarised, with its coverage and each listed
    building's basis (a building is post-only where most of it had no pre-event view)."""
    post, reference = generated_scene
    committed = Manifest.load(Path(__file__).resolve().parents[2] / "models" / "satedge-unet")
    columns = round(512 * percent / 100) or 512
    part = _reference_part(reference, tmp_path / "reference-part.tif", columns, 0.0 if percent else 10_000.0)
    rig = rigs(tmp_path, Engine(committed, "int8", cache_dir=tmp_path / "ov-cache"), part, min_class=1)
    (rig.inbox / post.name).write_bytes(post.read_bytes())
    rig.pipeline.start()
    wait_for(lambda: rig.out() == 1, 60, "the scene spooled")
    rig.pipeline.stop()

    body = rig.summaries()[0].body
    validate_body(body)
    assert body["cov"] == percent and rig.telemetry.values["quarantined"] == 0
    assert body["b"], "the committed model finds buildings in a generated scene"
    post_only = post_only_rows(body)
    if percent == 100:
        assert "po" not in body and not any(post_only)
    elif percent == 0:
        assert all(post_only)
    else:   # buildings clear of the reference's edge (10 m) are graded by the side they lie on
        edge = body["bbox"][0] + (body["bbox"][2] - body["bbox"][0]) * percent / 100
        margin = (body["bbox"][2] - body["bbox"][0]) * 10 / 256
        lon = [body["bbox"][0] + row[0] / 1e6 for row in body["b"]]
        west = [flag for x, flag in zip(lon, post_only) if x < edge - margin]
        east = [flag for x, flag in zip(lon, post_only) if x > edge + margin]
        assert west and east and not any(west) and all(east)


def _true_overlap(post: Path) -> float:
    """Percent of a post tile's footprint inside the union of the Joplin pre tiles, by geometry alone."""
    import rasterio
    import shapely
    from rasterio.warp import transform_geom
    from shapely.geometry import box, mapping, shape
    pre = []
    for path in sorted((JOPLIN / "pre").glob("*.tif")):
        with rasterio.open(path) as ds:
            pre.append(box(*ds.bounds))
            crs = ds.crs
    with rasterio.open(post) as ds:
        outline = shapely.segmentize(box(*ds.bounds), ds.res[0] * 64)
        footprint = shape(transform_geom(ds.crs, crs, mapping(outline)))
    return 100 * footprint.intersection(shapely.union_all(pre)).area / footprint.area


def test_every_real_joplin_tile_is_summarised_with_its_reference_coverage(rigs, tmp_path, joplin_reference):
    """Issue 18: the six Joplin tiles (pre-event mosaic in UTM 15N, post tiles in EPSG:4326), two of them
    covered by the mosaic, four partly: all six summarised, each coverage within 2 points of the geometry's."""
    committed = Manifest.load(Path(__file__).resolve().parents[2] / "models" / "satedge-unet")
    rig = rigs(tmp_path, Engine(committed, "int8", cache_dir=tmp_path / "ov-cache"), joplin_reference)
    posts = sorted((JOPLIN / "post").glob("*.tif"))
    for post in posts:
        (rig.inbox / post.name).write_bytes(post.read_bytes())
    rig.pipeline.start()
    wait_for(lambda: rig.out() == len(posts), 120, "every Joplin tile spooled")
    rig.pipeline.stop()

    bodies = rig.by_scene()
    assert sorted(bodies) == sorted(p.stem for p in posts) and rig.telemetry.values["quarantined"] == 0
    for post in posts:
        body = bodies[post.stem].body
        validate_body(body)
        assert abs(body["cov"] - _true_overlap(post)) <= 2, (post.name, body["cov"], _true_overlap(post))
    # What saying so costs on the link: at most 1 byte per listed building on average (issue 18's target).
    listed = sum(len(s.body["b"]) for s in bodies.values())
    assert listed > 0 and extra_bytes([s.body for s in bodies.values()]) <= listed


def extra_bytes(bodies: list[dict]) -> int:
    """Bytes the `cov` and `po` keys add to these summaries' frames."""
    def size(body: dict) -> int:
        return len(encode("summary", 0.0, seq=1, prio=0, body=body))
    return sum(size(b) - size({k: v for k, v in b.items() if k not in ("cov", "po")}) for b in bodies)
