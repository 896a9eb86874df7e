"""`satedge scenes`: write synthetic disaster scenes (xBD layout, GeoTIFFs, or both)."""

from __future__ import annotations

import argparse
import sys
import time

from sim.scenes.generate import FORMATS, SIZE_MULTIPLE
from sim.scenes.spec import DEFAULT_DIFFICULTY, DEFAULT_STYLE, GSD_LIMITS, GSD_RANGE, STYLES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `satedge scenes`: output folder, count, seed, scene size, format, difficulty and style."""
    parser.add_argument("--out", required=True, help="output folder (images/, labels/, targets/, geotiff/)")
    parser.add_argument("--count", type=int, default=32, help="number of pre/post scene pairs (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default 0)")
    parser.add_argument("--size", type=int, default=1024,
                        help=f"scene edge in pixels (0.5 m each in the classic style), a multiple of {SIZE_MULTIPLE} "
                             "(default 1024)")
    parser.add_argument("--format", default="xbd", choices=sorted(FORMATS),
                        help="xbd (PNG pairs, labels, targets), geotiff (post GeoTIFFs + reference "
                             "mosaic) or both (default xbd)")
    parser.add_argument("--difficulty", type=float, default=DEFAULT_DIFFICULTY,
                        help=f"0..1: overlap of neighbouring damage grades and faintness of the cues "
                             f"(default {DEFAULT_DIFFICULTY})")
    parser.add_argument("--style", default=DEFAULT_STYLE, choices=STYLES,
                        help=f"classic (clean, 0.5 m: what the committed model was trained on) or realistic "
                             f"(sensor noise, blur, JPEG, texture, irregular buildings, lean, trees over roofs, "
                             f"tarps, debris; one GSD per event in {GSD_RANGE[0]}-{GSD_RANGE[1]} m) "
                             f"(default {DEFAULT_STYLE})")
    parser.add_argument("--gsd", type=float, default=None,
                        help=f"realistic style: one GSD for the whole run, {GSD_LIMITS[0]}-{GSD_LIMITS[1]} m "
                             f"(rounded to the 0.5 m drawing grid); needed with --format geotiff|both")
    parser.add_argument("--prefix", default="",
                        help="start of every event name and file stem (e.g. realistic-), so runs of other seeds "
                             "or styles can share one training folder; names only, the pixels are the same")


class _Progress:
    """One status line on stderr every few seconds (long runs show progress)."""

    def __init__(self, every_s: float = 5.0):
        self.every_s = every_s
        self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.every_s or done == total:
            self.last = now
            print(f"scenes: {done}/{total}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Generate the scenes and print the building classes drawn and the generation rate; exit code 0."""
    from sim.scenes.generate import generate

    result = generate(args.out, args.count, args.seed, size=args.size, fmt=args.format,
                      difficulty=args.difficulty, progress=_Progress(), style=args.style,
                      gsd=args.gsd, prefix=args.prefix)
    classes = ", ".join(f"{k} {v}" for k, v in result["classes"].items()) or "none"
    print(f"buildings: {classes}")
    per_cpu = result["count"] / max(result["cpu_seconds"], 1e-9)
    print(f"wrote {result['count']} scenes of {len(result['events'])} events to {result['out']} "
          f"in {result['seconds']:.1f} s ({per_cpu:.2f} scenes per CPU-second): "
          f"{result['scenes_per_s']:.2f} scenes/s")
    return 0
