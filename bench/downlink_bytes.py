"""What the downlink costs: bytes per summary and per listed building, against raw and JPEG imagery.

Read from a ground store (the frames as they arrived: `bytes` is the
encoded frame on the link, `raw` the imagery it stands for). The JPEG
reference is each scene's post-event image encoded by OpenCV at quality 90,
what a satellite would otherwise downlink.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from bench import scenes as bench_scenes
from ground.store import stored_rows

JPEG_QUALITY = 90


def jpeg_bytes(scene: bench_scenes.ingest.Scene) -> int:
    """Bytes of the scene's post-event image as JPEG at quality 90: what would go down instead of a summary."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(scene.post), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f"OpenCV could not JPEG-encode {scene.id}")
    return int(encoded.size)


def measure(store: Path, scene_set: bench_scenes.SceneSet) -> dict:
    """Bytes per summary and per listed building in `store`, vs raw and JPEG; fixed + marginal bytes if counts vary."""
    rows = stored_rows(store)
    if not rows:
        raise ValueError(f"no summaries in {store}")
    decoded = [bench_scenes.read(path, scene_set.reference) for path in scene_set.geotiffs]
    jpeg = {scene.id: jpeg_bytes(scene) for scene in decoded}       # per original; a copy's is the same
    frame = np.array([r["bytes"] for r in rows], dtype=float)
    raw = sum(r["body"]["raw"] for r in rows)
    listed = np.array([len(r["body"]["b"]) for r in rows], dtype=float)
    buildings = sum(sum(r["body"]["n"]) for r in rows)
    jpeg_total = sum(jpeg[bench_scenes.original(r["body"]["scene"])] for r in rows)
    result = {
        "summaries": len(rows), "summary_bytes": int(frame.sum()), "bytes_per_summary": float(frame.mean()),
        "listed_buildings": int(listed.sum()), "buildings_counted": int(buildings),
        "bytes_per_listed_building": float(frame.sum() / listed.sum()) if listed.sum() else None,
        "raw_bytes": int(raw), "raw_per_summary_byte": float(raw / frame.sum()),
        "jpeg_q90_bytes": int(jpeg_total), "jpeg_per_summary_byte": float(jpeg_total / frame.sum()),
    }
    if len(set(listed)) > 1:   # fixed cost per summary + marginal cost per listed building (least squares)
        slope, intercept = np.polyfit(listed, frame, 1)
        result.update(marginal_bytes_per_building=float(slope), fixed_bytes_per_summary=float(intercept))
    return result


# --- rows (orchestrator side) -------------------------------------------------

def rows(ctx) -> list[dict]:
    """The one downlink row, read from the swap run's ground store (not measured if that run failed)."""
    from bench.plan import fail, new_row

    row = new_row("downlink", "downlink bytes, default scenario", scenario=ctx.scenes.scenario,
                  postprocess=ctx.scenes.postprocess)
    store = ctx.sections.get("ground_store")
    if store is None:
        row["status"] = "not measured: the swap run (which fills the ground store) failed"
        return [row]
    try:
        row.update(measure(Path(store), ctx.scenes))
        row["status"] = "measured"
    except Exception as exc:   # one broken step must not lose the rest of the table
        fail(row, exc)
    return [row]
