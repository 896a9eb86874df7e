"""Pictures for the docs: one scene (pre | post | colour-coded target), or close-ups per damage grade.

    python -m sim.scenes.preview --out docs/img/scenes.png [--seed S] [--index I] [--crop 512]
    python -m sim.scenes.preview --out docs/img/grades.png --grades [--seed S]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from sim.scenes.scene import make_scene
from sim.scenes.spec import DEFAULT_STYLE, STYLES, plan

# The xView2 colours: no-damage green, minor yellow, major orange, destroyed red (RGB).
CLASS_COLOURS = np.array([(0, 0, 0), (70, 172, 0), (253, 197, 0), (253, 140, 0), (220, 0, 0)], np.uint8)
LEGEND = ("no-damage", "minor", "major", "destroyed")


def _crop_origin(target: np.ndarray, crop: int) -> tuple[int, int]:
    """The crop window holding the most damaged-building pixels (search on a coarse grid)."""
    size = target.shape[0]
    if crop >= size:
        return 0, 0
    damaged = (target >= 2).astype(np.float32)
    best, origin = -1.0, (0, 0)
    for y in range(0, size - crop + 1, 64):
        for x in range(0, size - crop + 1, 64):
            score = float(damaged[y:y + crop, x:x + crop].sum())
            if score > best:
                best, origin = score, (y, x)
    return origin


def picture(seed: int, index: int, count: int, crop: int, size: int = 1024, style: str = DEFAULT_STYLE) -> np.ndarray:
    """One RGB image, pre | post | target in xView2 colours, cropped where damage is densest, titled."""
    scene = make_scene(plan(count, seed, size, style=style)[index])
    y, x = _crop_origin(scene.target_post, crop)
    window = (slice(y, y + crop), slice(x, x + crop))
    panels = [scene.pre[window], scene.post[window], CLASS_COLOURS[scene.target_post[window]]]
    gap = np.full((crop, 6, 3), 255, np.uint8)
    row = np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1)
    bar = np.full((28, row.shape[1], 3), 255, np.uint8)
    titles = [f"pre  ({scene.spec.stem})", f"post ({scene.spec.kind})", "post target"]
    for i, title in enumerate(titles):
        cv2.putText(bar, title, (i * (crop + 6) + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    legend = np.full((28, row.shape[1], 3), 255, np.uint8)
    for i, name in enumerate(LEGEND):
        x0 = 2 * (crop + 6) + 6 + i * (crop // 4)
        cv2.rectangle(legend, (x0, 8), (x0 + 14, 22), CLASS_COLOURS[i + 1].tolist(), -1)
        cv2.putText(legend, name, (x0 + 18, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, row, legend], axis=0)


def grades(seed: int, count: int, per_grade: int = 8, half: int = 28, style: str = DEFAULT_STYLE) -> np.ndarray:
    """A grid of building close-ups, one row per grade: pre above post, 2x enlarged."""
    rows: dict[int, list[np.ndarray]] = {c: [] for c in range(1, 5)}
    for spec in plan(count, seed, 512, style=style):
        scene = make_scene(spec)
        for b in scene.buildings:
            x, y = b.centroid.astype(int)
            if b.unclassified or len(rows[b.damage]) >= per_grade or not half <= min(x, y) <= max(x, y) < 512 - half:
                continue
            window = (slice(y - half, y + half), slice(x - half, x + half))
            pair = np.concatenate([scene.pre[window], scene.post[window]], axis=0)
            rows[b.damage].append(np.pad(pair, ((3, 3), (3, 3), (0, 0)), constant_values=255))
        if all(len(r) >= per_grade for r in rows.values()):
            break
    grid = []
    for c in range(1, 5):
        strip = cv2.resize(np.concatenate(rows[c], axis=1), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        label = np.full((strip.shape[0], 90, 3), 255, np.uint8)
        cv2.putText(label, LEGEND[c - 1], (4, strip.shape[0] // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
        grid.append(np.concatenate([label, strip], axis=1))
    return np.concatenate(grid, axis=0)


def main(argv: list[str] | None = None) -> None:
    """Write the scene picture, or with `--grades` the close-ups per grade, to `--out` as PNG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", type=int, default=0, help="scene of the run to show")
    parser.add_argument("--count", type=int, default=64, help="size of the run the scene belongs to")
    parser.add_argument("--crop", type=int, default=512)
    parser.add_argument("--grades", action="store_true", help="close-ups of buildings, one row per grade")
    parser.add_argument("--style", default=DEFAULT_STYLE, choices=STYLES)
    args = parser.parse_args(argv)
    image = (grades(args.seed, args.count, style=args.style) if args.grades
             else picture(args.seed, args.index, args.count, args.crop, style=args.style))
    cv2.imwrite(args.out, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])


if __name__ == "__main__":
    main()
