"""The daemon's pipeline with an out-of-distribution guard: a flagged scene says so and lists few buildings."""

from __future__ import annotations

import numpy as np
import pytest

from onboard import guard
from onboard.config import PostprocessSection
from onboard.manifest import Manifest
from satedge.protocol import validate_body
from tests.onboard.test_pipeline import (  # noqa: F401 - banded_model_dir and rigs are fixtures
    BAND,
    banded_model_dir,
    engine,
    rigs,
    scene,
    wait_for,
)

pytestmark = pytest.mark.timeout(120)


def many_buildings() -> np.ndarray:
    """Post-event pixels with 36 separate 6x6 px "destroyed" buildings."""
    pixels = np.zeros((3, 128, 128), np.uint8)
    for y in range(6):
        for x in range(6):
            pixels[0, 4 + 20 * y:10 + 20 * y, 4 + 20 * x:10 + 20 * x] = BAND[4]
    return pixels


def test_flagged_scene_carries_ood_and_is_capped(rigs, banded_model_dir, tmp_path, geo):  # noqa: F811
    rig = rigs(tmp_path, engine(Manifest.load(banded_model_dir), "fp32", tmp_path), geo.reference)
    cap = PostprocessSection().ood_max_listed
    rig.pipeline.ood_guard = guard.Guard(bounds={"building": (0.0, 0.01), "unsure": (0.0, 1.0)})
    scene(rig.inbox, "crowded", pixels=many_buildings())
    rig.pipeline.start()
    wait_for(lambda: rig.out() == 1, 20, "the scene spooled")
    rig.pipeline.stop()
    body = rig.by_scene()["crowded"].body
    validate_body(body)
    assert body["ood"] == ["building"]
    assert body["n"][3] == 36 and len(body["b"]) == cap < 36
    assert rig.telemetry.values["scenes_ood"] == 1


def test_scene_in_range_is_not_flagged(rigs, banded_model_dir, tmp_path, geo):  # noqa: F811
    rig = rigs(tmp_path, engine(Manifest.load(banded_model_dir), "fp32", tmp_path), geo.reference)
    rig.pipeline.ood_guard = guard.Guard(bounds={"building": (0.0, 0.5)})
    scene(rig.inbox, "crowded", pixels=many_buildings())
    rig.pipeline.start()
    wait_for(lambda: rig.out() == 1, 20, "the scene spooled")
    rig.pipeline.stop()
    body = rig.by_scene()["crowded"].body
    assert "ood" not in body and len(body["b"]) == 36
    assert rig.telemetry.values["scenes_ood"] == 0
