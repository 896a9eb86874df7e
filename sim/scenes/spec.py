"""The plan of a run: which scene belongs to which event, where on Earth, and when.

Everything a scene needs to be drawn is in its `SceneSpec`: `plan(count, seed)`
gives the same specs every time, and `make_scene(spec)` draws the same pixels
from them, so a scene can be re-made on its own (the camera feed does this) and
comes out identical to the one `generate()` wrote. The drawing itself depends on
(seed, index) only; the event a scene belongs to and its grid cell depend on
the run's `count` too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

GSD_M = 0.5
KINDS = ("flood", "wildfire", "earthquake", "hurricane")
# xBD's `disaster_type` vocabulary for each of our event kinds.
DISASTER_TYPE = {"flood": "flooding", "wildfire": "fire", "earthquake": "earthquake", "hurricane": "wind"}
EVENT_SIZE = (4, 30)            # scenes per event, so training can split by event
SCENE_INTERVAL_S = 2.0          # consecutive scenes of one pass are acquired this far apart
DEFAULT_DIFFICULTY = 0.35
# Drawing styles: `classic` is the original world (0.5 m, clean, what the committed model was trained on);
# `realistic` adds what real imagery has (sensor noise, blur and compression, texture everywhere, larger
# irregular buildings, lean, trees over roofs, tarps, debris fields) at a range of GSDs (sim/scenes/realistic.py).
STYLES = ("classic", "realistic")
DEFAULT_STYLE = "classic"
GSD_RANGE = (0.3, 0.8)          # metres per pixel of realistic-style events, one GSD per event (one sensor pass)
GSD_LIMITS = (0.25, 1.0)        # a fixed realistic-style GSD (`--gsd`) may be chosen in this range
PREFIX_PATTERN = r"[A-Za-z0-9.-]{0,64}"   # an event-name prefix: no "_" (it ends the event in a stem), no "/"


@dataclass(frozen=True)
class SceneSpec:
    """Everything needed to draw a scene and to name, place and date it; `make_scene` depends on nothing else."""

    seed: int
    index: int                  # position in the run; also the 8-digit xBD id
    event: str                  # e.g. "flood-2"
    kind: str                   # one of KINDS
    event_scene: int            # position within its event
    event_intensity: float      # mean fraction of damaged buildings in this event
    cell: tuple[int, int]       # (row, col) of the scene on the run's ground grid
    size: int
    epsg: int                   # projected CRS (UTM, WGS84 north)
    origin: tuple[float, float]  # easting, northing of the grid's top-left corner
    pre_time: datetime
    post_time: datetime
    difficulty: float = DEFAULT_DIFFICULTY
    style: str = DEFAULT_STYLE
    gsd: float = GSD_M          # metres per pixel

    @property
    def stem(self) -> str:
        """`<event>_<8-digit index>`: the file-name stem of the scene's images, labels, targets and GeoTIFF."""
        return f"{self.event}_{self.index:08d}"

    @property
    def disaster_type(self) -> str:
        """xBD's `disaster_type` word for this scene's kind (flood is `flooding`, wildfire `fire`)."""
        return DISASTER_TYPE[self.kind]

    @property
    def transform(self) -> tuple[float, float, float, float, float, float]:
        """GDAL/affine coefficients (a, b, c, d, e, f): x = a*col + c, y = e*row + f."""
        row, col = self.cell
        left = self.origin[0] + col * self.size * self.gsd
        top = self.origin[1] - row * self.size * self.gsd
        return (self.gsd, 0.0, left, 0.0, -self.gsd, top)


def event_sizes(count: int, rng: np.random.Generator) -> list[int]:
    """Split `count` scenes into events of EVENT_SIZE scenes (the last one absorbs a remainder)."""
    sizes: list[int] = []
    left = count
    while left > 0:
        n = min(int(rng.integers(EVENT_SIZE[0], EVENT_SIZE[1] + 1)), left)
        if 0 < left - n < EVENT_SIZE[0]:
            n = left
        sizes.append(n)
        left -= n
    return sizes


def grid_columns(count: int) -> int:
    """Columns of the run's ground grid, ceil(sqrt(count)) and at least 1, so the grid is near square."""
    return max(1, math.ceil(math.sqrt(count)))


def drawable_gsd(gsd: float, size: int) -> float:
    """`gsd` rounded so that `size` pixels at it span a whole number of the 0.5 m drawing grid's pixels
    (the realistic style draws on that grid and resamples, so labels scale exactly)."""
    return GSD_M * round(size * gsd / GSD_M) / size


def event_gsd(seed: int, event: int, size: int) -> float:
    """A realistic-style event's GSD, drawn from GSD_RANGE (`drawable_gsd`)."""
    return drawable_gsd(float(np.random.default_rng([seed, event, 0x65D]).uniform(*GSD_RANGE)), size)


def plan(count: int, seed: int, size: int = 1024, difficulty: float = DEFAULT_DIFFICULTY,
         style: str = DEFAULT_STYLE, gsd: float | None = None, prefix: str = "") -> list[SceneSpec]:
    """The specs of a run of `count` scenes, spread over events of 4-30 scenes, kinds in rotation.

    In the realistic style each event has its own GSD (`event_gsd`), so a run spans GSD_RANGE, unless
    `gsd` fixes one for the whole run (a reference mosaic needs one). `prefix` starts every event name
    (and so every file stem): runs of other seeds or styles can then share a training folder, where
    stems must be unique and events must not merge. It changes names only, never pixels."""
    rng = np.random.default_rng([seed, 0xE7E7])
    zone = int(rng.integers(10, 57))
    origin = (float(rng.integers(300, 600)) * 1000.0, float(rng.integers(2800, 5200)) * 1000.0)
    first_event = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 300)))
    kinds = list(rng.permutation(KINDS))
    cols = grid_columns(count)
    specs: list[SceneSpec] = []
    counters = dict.fromkeys(KINDS, 0)
    for e, n in enumerate(event_sizes(count, rng)):
        kind = str(kinds[e % len(kinds)])
        counters[kind] += 1
        event = f"{prefix}{kind}-{counters[kind]}"
        intensity = float(rng.uniform(0.12, 0.42))
        passes = first_event + timedelta(days=3 * e, hours=float(rng.uniform(9.5, 11.5)))
        pre = passes - timedelta(days=int(rng.integers(20, 400)), hours=float(rng.uniform(-1, 1)))
        if style == DEFAULT_STYLE:
            event_m = GSD_M
        else:
            event_m = event_gsd(seed, e, size) if gsd is None else drawable_gsd(gsd, size)
        for k in range(n):
            i = len(specs)
            post_time = passes + timedelta(seconds=SCENE_INTERVAL_S * k)
            specs.append(SceneSpec(seed=seed, index=i, event=event, kind=kind, event_scene=k,
                                   event_intensity=intensity, cell=(i // cols, i % cols), size=size,
                                   epsg=32600 + zone, origin=origin,
                                   pre_time=pre.replace(microsecond=0),
                                   post_time=post_time.replace(microsecond=0), difficulty=difficulty,
                                   style=style, gsd=event_m))
    return specs
