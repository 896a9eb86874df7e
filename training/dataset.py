"""Any folder in the xBD layout (real xBD or `satedge scenes` output) as training crops.

Pairs are matched by stem (`<disaster>_<id>`): `images/<stem>_pre_disaster.png`,
`images/<stem>_post_disaster.png`, `targets/<stem>_post_disaster_target.png`.
Targets are read unchanged (`cv2.IMREAD_UNCHANGED`, never interpolated);
values above 4 and the polygons the post label marks `un-classified` become
`IGNORE`. The train/validation split is by disaster event, so validation
never sees another tile of a training event.

Decoding a 1024² PNG triple costs more than a training step's worth of a
crop, so each scene is decoded once into a `.npy` (H, W, 7: pre RGB, post RGB,
target) and memory-mapped: a crop then reads only its own pixels.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import shapely
import torch

from satedge.errors import UserError
from training.coverage import blank_pre, no_view_mask
from training.metric import IGNORE, NUM_CLASSES

PRE, POST, TARGET = "_pre_disaster.png", "_post_disaster.png", "_post_disaster_target.png"
STEM = re.compile(r"^(?P<event>.+)_(?P<num>\d+)$")
DAMAGED = (2, 3, 4)            # the classes that are oversampled (no-damage is abundant)


@dataclass(frozen=True)
class Pair:
    """One xBD scene: pre and post images, the post target, and the post label when there is one."""

    id: str                    # the pair's stem, e.g. flood-1_00000012
    event: str                 # the disaster, e.g. flood-1
    pre: Path
    post: Path
    target: Path
    label: Path | None         # post-disaster label JSON, if present


def _image_dirs(root: Path) -> list[Path]:
    if (root / "images").is_dir():
        return [root / "images"]
    return sorted(p for p in root.glob("*/images") if p.is_dir())


def find_pairs(root: str | Path) -> list[Pair]:
    """Every complete pre/post/target triple under `root` (a split folder or a folder of splits)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"data folder {root} does not exist")
    pairs: dict[str, Pair] = {}
    for images in _image_dirs(root):
        split = images.parent
        for post in sorted(images.glob("*" + POST)):
            stem = post.name[: -len(POST)]
            match = STEM.match(stem)
            pre, target = images / (stem + PRE), split / "targets" / (stem + TARGET)
            if not match or not pre.exists() or not target.exists():
                continue
            if stem in pairs:
                raise UserError(f"pair {stem} appears twice under {root} ({pairs[stem].post.parent.parent.name} "
                                f"and {split.name}): stems must be unique, as prediction files are named by them")
            label = split / "labels" / (stem + "_post_disaster.json")
            pairs[stem] = Pair(stem, match["event"], pre, post, target, label if label.exists() else None)
    if not pairs:
        raise UserError(f"no xBD pairs (images/*{PRE}, *{POST}, targets/*{TARGET}) under {root}")
    return [pairs[k] for k in sorted(pairs)]


def split_by_event(pairs: list[Pair], val_fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, validation): whole disaster events go to one side, chosen by `seed`."""
    events = sorted({p.event for p in pairs})
    if val_fraction <= 0 or len(events) < 2:
        return list(pairs), []
    order = np.random.default_rng(seed).permutation(len(events))
    n_val = min(len(events) - 1, max(1, round(val_fraction * len(events))))
    val_events = {events[i] for i in order[:n_val]}
    return ([p for p in pairs if p.event not in val_events], [p for p in pairs if p.event in val_events])


def read_rgb(path: Path) -> np.ndarray:
    """An image file as HxWx3 uint8 RGB; a UserError if it cannot be decoded."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UserError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _polygon_xy(text: str) -> np.ndarray | None:
    """The outer ring of a label's WKT polygon in whole pixels (a multipolygon's largest part), or None."""
    try:
        geometry = shapely.from_wkt(text)
    except shapely.errors.GEOSException:
        return None
    if isinstance(geometry, shapely.MultiPolygon) and not geometry.is_empty:
        geometry = max(geometry.geoms, key=lambda part: part.area)
    if not isinstance(geometry, shapely.Polygon) or geometry.is_empty:
        return None
    return np.round(np.asarray(geometry.exterior.coords)).astype(np.int32)


def unclassified_polygons(label: Path) -> list[np.ndarray]:
    """Pixel polygons of the buildings the post label calls `un-classified`."""
    try:
        features = json.loads(label.read_text()).get("features", {}).get("xy", [])
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read label {label}: {exc}") from None
    polygons = []
    for feature in features:
        if feature.get("properties", {}).get("subtype") == "un-classified":
            xy = _polygon_xy(feature.get("wkt", ""))
            if xy is not None:
                polygons.append(xy)
    return polygons


def read_target(pair: Pair) -> np.ndarray:
    """The post target as uint8 0..4, with stray values and un-classified buildings as IGNORE."""
    target = cv2.imread(str(pair.target), cv2.IMREAD_UNCHANGED)
    if target is None:
        raise UserError(f"cannot read target {pair.target}")
    if target.ndim == 3:            # some copies store the mask as identical colour channels
        target = target[..., 0]
    target = target.astype(np.uint8, copy=True)
    target[target > NUM_CLASSES - 1] = IGNORE
    if pair.label is not None:
        polygons = unclassified_polygons(pair.label)
        if polygons:
            cv2.fillPoly(target, polygons, IGNORE)
    return target


def read_scene(pair: Pair) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pre RGB, post RGB, target), checked to have the same height and width."""
    pre, post, target = read_rgb(pair.pre), read_rgb(pair.post), read_target(pair)
    if not (pre.shape[:2] == post.shape[:2] == target.shape[:2]):
        raise UserError(f"{pair.id}: pre {pre.shape[:2]}, post {post.shape[:2]} and target "
                        f"{target.shape[:2]} differ in size")
    return pre, post, target


class SceneCache:
    """Decoded scenes as memory-mapped `(H, W, 7)` uint8 arrays, plus per-class pixel statistics."""

    SAMPLES_PER_CLASS = 512     # remembered pixel positions per damaged class, for oversampling

    def __init__(self, pairs: list[Pair], folder: str | Path):
        self.pairs = list(pairs)
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.arrays: list[np.ndarray] = []
        self.counts = np.zeros((len(self.pairs), NUM_CLASSES), dtype=np.int64)
        self.positions: list[dict[int, np.ndarray]] = []
        for i, pair in enumerate(self.pairs):
            array, stats = self._load(pair)
            self.arrays.append(array)
            self.counts[i] = stats["counts"]
            self.positions.append({int(c): np.asarray(v, dtype=np.int32).reshape(-1, 2)
                                   for c, v in stats["positions"].items()})

    def _key(self, pair: Pair) -> str:
        parts = [f"{p}:{p.stat().st_mtime_ns}:{p.stat().st_size}"
                 for p in (pair.pre, pair.post, pair.target, pair.label) if p is not None]
        return hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]

    def _load(self, pair: Pair) -> tuple[np.ndarray, dict]:
        base = self.folder / f"{pair.id}-{self._key(pair)}"
        npy, meta = base.with_suffix(".npy"), base.with_suffix(".json")
        if not (npy.exists() and meta.exists()):
            pre, post, target = read_scene(pair)
            stack = np.concatenate([pre, post, target[..., None]], axis=2)
            tmp = base.with_suffix(".tmp.npy")
            np.save(tmp, stack)
            tmp.replace(npy)
            rng = np.random.default_rng(0)
            positions = {}
            for c in DAMAGED:
                ys, xs = np.nonzero(target == c)
                if len(ys):
                    pick = rng.choice(len(ys), min(len(ys), self.SAMPLES_PER_CLASS), replace=False)
                    positions[c] = np.stack([ys[pick], xs[pick]], axis=1).tolist()
            counts = np.bincount(target[target != IGNORE].ravel(), minlength=NUM_CLASSES)[:NUM_CLASSES]
            meta.write_text(json.dumps({"counts": counts.tolist(), "positions": positions}))
        return np.load(npy, mmap_mode="r"), json.loads(meta.read_text())

    def class_frequencies(self) -> np.ndarray:
        """Share of each class 0..4 among the non-IGNORE pixels of all scenes (all zero when there are none)."""
        total = self.counts.sum(axis=0).astype(np.float64)
        return total / max(total.sum(), 1)


def class_weights(frequencies: np.ndarray, power: float = 0.5, cap: float = 10.0) -> list[float]:
    """Inverse-frequency^power weights, scaled so no-damage weighs 1 and capped for absent classes."""
    freq = np.maximum(frequencies, 1e-6)
    w = freq ** -power
    w = w / w[1] if frequencies[1] > 0 else w / w.min()
    return np.minimum(w, cap).round(4).tolist()


def crop(array: np.ndarray, y: int, x: int, tile: int) -> np.ndarray:
    """A `tile`² window at (y, x), padded (reflect; target IGNORE) where the scene is smaller."""
    h, w = array.shape[:2]
    window = np.array(array[y:y + tile, x:x + tile])   # a copy, never the read-only map
    if window.shape[0] < tile or window.shape[1] < tile:
        pad = ((0, tile - window.shape[0]), (0, tile - window.shape[1]))
        image = np.pad(window[..., :6], pad + ((0, 0),), mode="reflect")
        target = np.pad(window[..., 6], pad, constant_values=IGNORE)
        window = np.concatenate([image, target[..., None]], axis=2)
    return window


def augment(window: np.ndarray, rng: np.random.Generator, photometric: float) -> np.ndarray:
    """Same flip and 90° rotation for pre, post and target; brightness/contrast per image."""
    window = np.rot90(window, rng.integers(4))
    if rng.random() < 0.5:
        window = window[:, ::-1]
    window = window.copy()          # C-contiguous and writable
    if photometric > 0:
        for sl in (slice(0, 3), slice(3, 6)):
            gain = 1 + rng.uniform(-photometric, photometric)
            bias = rng.uniform(-photometric, photometric) * 64
            image = window[..., sl].astype(np.float32) * gain + bias
            window[..., sl] = np.clip(image, 0, 255).astype(np.uint8)
    return window


class CropDataset(torch.utils.data.Dataset):
    """`samples` random `tile`² crops per epoch; with probability `oversample` centred on a damaged pixel.

    With probability `pre_missing` a crop loses its pre-event view as onboard where the reference does not
    reach (`onboard.ingest.NO_PRE_FILL`): half of those wholly, half on one side of a random line (10-90 %),
    so one model grades with and without a pre image. Each sample's randomness comes from (seed, epoch,
    index), so a resumed run sees the same crops as an uninterrupted one, whatever the worker count.
    """

    def __init__(self, cache: SceneCache, tile: int, samples: int, seed: int, oversample: float = 0.5,
                 augmented: bool = True, photometric: float = 0.1, pre_missing: float = 0.0,
                 rescale: float = 1.0):
        self.cache, self.tile, self.samples, self.seed = cache, tile, samples, seed
        self.oversample, self.augmented, self.photometric = oversample, augmented, photometric
        self.pre_missing, self.rescale = pre_missing, rescale
        self.epoch = 0
        self.damaged = [i for i, pos in enumerate(cache.positions) if pos]

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose crops are drawn; call it before iterating the loader for that epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.samples

    def window(self, rng: np.random.Generator) -> np.ndarray:
        """One unaugmented `tile`² (H, W, 7) crop: near a damaged pixel with probability `oversample`, else anywhere.

        With `rescale` r > 1 the crop covers `tile` times a factor drawn log-uniformly in [1/r, r] and is
        resized to `tile` (targets by nearest neighbour): the same ground at other sample distances.
        """
        size = self.tile
        if self.rescale > 1:
            size = max(16, round(self.tile * float(np.exp(rng.uniform(-1, 1) * np.log(self.rescale)))))
        if self.damaged and rng.random() < self.oversample:
            scene = self.damaged[rng.integers(len(self.damaged))]
            positions = self.cache.positions[scene]
            cls = list(positions)[rng.integers(len(positions))]
            cy, cx = positions[cls][rng.integers(len(positions[cls]))]
            array = self.cache.arrays[scene]
            h, w = array.shape[:2]
            jitter = rng.integers(-size // 3, size // 3 + 1, size=2)
            y = int(np.clip(cy - size // 2 + jitter[0], 0, max(h - size, 0)))
            x = int(np.clip(cx - size // 2 + jitter[1], 0, max(w - size, 0)))
        else:
            array = self.cache.arrays[rng.integers(len(self.cache.arrays))]
            h, w = array.shape[:2]
            y, x = rng.integers(max(h - size, 0) + 1), rng.integers(max(w - size, 0) + 1)
        window = crop(array, y, x, size)
        if size == self.tile:
            return window
        smooth = cv2.INTER_AREA if size > self.tile else cv2.INTER_LINEAR
        pre, post = (cv2.resize(np.ascontiguousarray(window[..., part]), (self.tile, self.tile), interpolation=smooth)
                     for part in (slice(0, 3), slice(3, 6)))           # OpenCV resizes up to 4 channels at once
        target = cv2.resize(np.ascontiguousarray(window[..., 6]), (self.tile, self.tile),
                            interpolation=cv2.INTER_NEAREST)
        return np.concatenate([pre, post, target[..., None]], axis=2)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        window = self.window(rng)
        if self.augmented:
            window = augment(window, rng, self.photometric)
        if rng.random() < self.pre_missing:   # after the jitter: the fill is exact onboard
            share = 1.0 if rng.random() < 0.5 else rng.uniform(0.1, 0.9)
            window = blank_pre(window, no_view_mask(self.tile, self.tile, rng, share))
        image = torch.from_numpy(np.ascontiguousarray(window[..., :6].transpose(2, 0, 1))).float()
        target = torch.from_numpy(window[..., 6].astype(np.int64))
        return image, target


def calibration_tiles(pairs: list[Pair], tile: int, count: int, seed: int) -> np.ndarray:
    """`count` u8 `[6, tile, tile]` crops (no augmentation) from `pairs`, for INT8 calibration."""
    if not pairs:
        raise UserError("no training pairs to calibrate on")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(pairs), size=min(count, len(pairs)), replace=False)
    per_scene = -(-count // len(chosen))
    tiles = []
    for i in chosen:
        pre, post, target = read_scene(pairs[i])
        stack = np.concatenate([pre, post, target[..., None]], axis=2)
        h, w = stack.shape[:2]
        for _ in range(per_scene):
            y, x = rng.integers(max(h - tile, 0) + 1), rng.integers(max(w - tile, 0) + 1)
            tiles.append(crop(stack, y, x, tile)[..., :6].transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(tiles[:count]))
