"""`generate()`: plan a run, draw each scene once, hand it to every writer the format asks for."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from satedge.errors import UserError
from satedge.logs import event
from sim.scenes.geo import GeoTiffWriter
from sim.scenes.scene import make_scene
from sim.scenes.spec import DEFAULT_DIFFICULTY, DEFAULT_STYLE, GSD_LIMITS, PREFIX_PATTERN, STYLES, plan
from sim.scenes.xbd import XbdWriter

log = logging.getLogger("sim.scenes")

FORMATS: dict[str, tuple[type, ...]] = {
    "xbd": (XbdWriter,),
    "geotiff": (GeoTiffWriter,),
    "both": (XbdWriter, GeoTiffWriter),
}
SIZE_MULTIPLE = 32
SIZE_RANGE = (64, 4096)
MAX_COUNT = 1_000_000


def check(count: int, size: int, fmt: str, difficulty: float, style: str = DEFAULT_STYLE,
          gsd: float | None = None, prefix: str = "") -> None:
    """Reject impossible requests in one line, before anything is written."""
    if count < 1 or count > MAX_COUNT:
        raise UserError(f"--count must be between 1 and {MAX_COUNT}, got {count}")
    if size % SIZE_MULTIPLE or not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]:
        raise UserError(f"--size must be a multiple of {SIZE_MULTIPLE} between {SIZE_RANGE[0]} and "
                        f"{SIZE_RANGE[1]}, got {size}")
    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not 0.0 <= difficulty <= 1.0:
        raise UserError(f"--difficulty must be between 0 and 1, got {difficulty}")
    if style not in STYLES:
        raise UserError(f"--style must be one of {', '.join(STYLES)}, got {style!r}")
    if gsd is not None and style == DEFAULT_STYLE:
        raise UserError(f"--gsd applies to --style realistic; the {DEFAULT_STYLE} style is always 0.5 m")
    if gsd is not None and not GSD_LIMITS[0] <= gsd <= GSD_LIMITS[1]:
        raise UserError(f"--gsd must be between {GSD_LIMITS[0]} and {GSD_LIMITS[1]} m, got {gsd}")
    if style != DEFAULT_STYLE and fmt != "xbd" and gsd is None:
        raise UserError(f"--style {style} --format {fmt} needs --gsd: its events have different GSDs unless "
                        "one is fixed, and the reference mosaic holds one")
    if not re.fullmatch(PREFIX_PATTERN, prefix):
        raise UserError(f"--prefix may hold up to 64 letters, digits, '.' and '-', got {prefix!r}")


def _prepare(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".satedge-write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to --out {out}: {exc.strerror or exc}") from None


def generate(out, count: int, seed: int, size: int = 1024, fmt: str = "xbd",
             difficulty: float = DEFAULT_DIFFICULTY, progress: Callable[[int, int], None] | None = None,
             style: str = DEFAULT_STYLE, gsd: float | None = None, prefix: str = "") -> dict:
    """Write `count` scenes to `out` in the chosen format and style; return what was written and how fast."""
    check(count, size, fmt, difficulty, style, gsd, prefix)
    out = Path(out)
    _prepare(out)
    specs = plan(count, seed, size, difficulty, style, gsd, prefix)
    writers = [cls(out, specs) for cls in FORMATS[fmt]]
    classes: Counter[str] = Counter()
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        for i, spec in enumerate(specs):
            scene = make_scene(spec)
            classes.update(scene.subtypes)
            for w in writers:
                w.add(scene)
            if progress:
                progress(i + 1, count)
    except BaseException:
        for w in writers:
            w.abort()
        raise
    summary: dict = {}
    for w in writers:
        summary.update(w.close())
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    events = Counter(s.event for s in specs)
    result = {"out": str(out), "count": count, "seed": seed, "size": size, "format": fmt,
              "difficulty": difficulty, "style": style, "gsd_m": sorted({s.gsd for s in specs}),
              "events": dict(events), "classes": dict(sorted(classes.items())),
              "stems": [s.stem for s in specs], "seconds": round(seconds, 3), "cpu_seconds": round(cpu_seconds, 3),
              "scenes_per_s": round(count / seconds, 3) if seconds > 0 else None, **summary}
    event(log, "scenes written", out=str(out), count=count, events=len(events), seconds=round(seconds, 2))
    return result
