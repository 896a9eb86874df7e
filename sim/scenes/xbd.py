"""The xBD layout: images/, labels/ and targets/ with the file names and JSON keys of the real set."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import shapely

from sim.scenes import geo
from sim.scenes.scene import Scene, subtype

# Level 1, Huffman only: the images are noisy, so LZ matching buys little and costs a third of the time.
PNG = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY]
SENSOR = "SATEDGE-SYNTH"


def wkt(points: np.ndarray, digits: int) -> str:
    """A closed WKT POLYGON of `points` with `digits` decimals, as xBD's labels write them."""
    return shapely.to_wkt(shapely.Polygon(points), rounding_precision=digits, trim=False)


def _uuid(*parts: str) -> str:
    h = hashlib.sha1("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _metadata(scene: Scene, phase: str) -> dict:
    spec = scene.spec
    acq = scene.post_acquisition if phase == "post" else scene.pre_acquisition
    when = spec.post_time if phase == "post" else spec.pre_time
    return {
        "sensor": SENSOR, "provider_asset_type": SENSOR, "gsd": spec.transform[0],
        "capture_date": geo.iso(when), "off_nadir_angle": round(acq.off_nadir, 2),
        "pan_resolution": spec.transform[0], "sun_azimuth": round(acq.sun_azimuth, 2),
        "sun_elevation": round(acq.sun_elevation, 2), "target_azimuth": round(acq.target_azimuth, 2),
        "disaster": spec.event, "disaster_type": spec.disaster_type,
        "catalog_id": hashlib.sha1(f"{spec.seed}/{spec.event}/{phase}".encode()).hexdigest()[:16],
        "original_width": spec.size, "original_height": spec.size, "width": spec.size, "height": spec.size,
        "id": _uuid(str(spec.seed), spec.stem, phase), "img_name": f"{spec.stem}_{phase}_disaster.png",
        "crs": f"EPSG:{spec.epsg}", "transform": list(spec.transform),
    }


def lnglat_outlines(scene: Scene) -> list[np.ndarray]:
    """Every footprint in lon/lat, converted in one call (PROJ set-up costs more than the points)."""
    if not scene.buildings:
        return []
    outlines = [b.outline.astype(np.float64) for b in scene.buildings]
    ll = geo.lnglat(scene.spec, np.concatenate(outlines))
    return np.split(ll, np.cumsum([len(o) for o in outlines])[:-1])


def label(scene: Scene, phase: str, lnglat: list[np.ndarray] | None = None) -> dict:
    """The label JSON of one image; pre features carry no subtype, as in xBD."""
    lnglat = lnglat_outlines(scene) if lnglat is None else lnglat
    lnglat_features, xy_features = [], []
    for b, ll in zip(scene.buildings, lnglat):
        props = {"feature_type": "building", "uid": b.uid}
        if phase == "post":
            props["subtype"] = subtype(b)
        lnglat_features.append({"properties": dict(props), "wkt": wkt(ll, 9)})
        xy_features.append({"properties": dict(props), "wkt": wkt(b.outline, 2)})
    return {"features": {"lng_lat": lnglat_features, "xy": xy_features}, "metadata": _metadata(scene, phase)}


class XbdWriter:
    """Writes each scene as one xBD pair: two images, two labels, two targets."""

    def __init__(self, out: Path, specs):
        self.dirs = {name: out / name for name in ("images", "labels", "targets")}
        for d in self.dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        self.files: list[str] = []

    def add(self, scene: Scene) -> None:
        """Write the scene's pre and post PNGs, target PNGs and label JSONs under images/, targets/ and labels/."""
        stem = scene.spec.stem
        lnglat = lnglat_outlines(scene)
        for phase, image, target in (("pre", scene.pre, scene.target_pre), ("post", scene.post, scene.target_post)):
            name = f"{stem}_{phase}_disaster"
            cv2.imwrite(str(self.dirs["images"] / f"{name}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), PNG)
            cv2.imwrite(str(self.dirs["targets"] / f"{name}_target.png"), target, PNG)
            (self.dirs["labels"] / f"{name}.json").write_text(json.dumps(label(scene, phase, lnglat)))
        self.files.append(stem)

    def close(self) -> dict:
        """The count the generation summary reports (`pairs`)."""
        return {"pairs": len(self.files)}

    def abort(self) -> None:
        """Nothing to undo: the pairs already written stay, as nothing is staged in temporary files."""
        pass
