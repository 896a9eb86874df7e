"""Scene generation speed, drawing only (no files): `python -m sim.scenes.bench [--count N] [--size S] [--style]`.

OpenCV is held to one thread so the number means "one core". Prints wall-clock
and CPU-time rates (on a shared machine the CPU-time rate is the steadier one),
and the class balance of the polygons it drew.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import cv2

from sim.scenes.scene import make_scene
from sim.scenes.spec import DEFAULT_STYLE, STYLES, plan


def main(argv: list[str] | None = None) -> None:
    """Draw `--count` scenes after a warm-up and print scenes/s (wall and per CPU-second) and the class balance."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--style", default=DEFAULT_STYLE, choices=STYLES)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    specs = plan(args.count, args.seed, args.size, style=args.style)
    make_scene(specs[0])                     # warm-up (imports, allocator)
    subtypes: Counter[str] = Counter()
    wall, cpu = time.perf_counter(), time.process_time()
    for spec in specs:
        subtypes.update(make_scene(spec).subtypes)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{args.count} {args.style} scenes of {args.size}x{args.size}: {args.count / wall:.2f} scenes/s wall, "
          f"{args.count / cpu:.2f} scenes/s per CPU-second (one thread)")
    total = sum(subtypes.values()) or 1
    events = Counter(s.kind for s in {(s.event, s.kind): s for s in specs}.values())
    print(f"{len({s.event for s in specs})} events ({', '.join(f'{k} {v}' for k, v in sorted(events.items()))}), "
          f"{total} polygons: " + ", ".join(f"{k} {v} ({100 * v / total:.1f}%)" for k, v in sorted(subtypes.items())))


if __name__ == "__main__":
    main()
