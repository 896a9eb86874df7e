"""Synthetic post-disaster satellite scenes in the xBD layout and as GeoTIFFs.

    generate(out, count, seed, size=1024, fmt="xbd") -> dict     # a whole run on disk
    plan(count, seed, size) -> [SceneSpec]                       # who, where, when
    make_scene(spec) -> Scene                                    # one scene's arrays, deterministic
"""

from sim.scenes.generate import FORMATS, generate
from sim.scenes.scene import Scene, make_scene
from sim.scenes.spec import KINDS, SceneSpec, plan

__all__ = ["FORMATS", "KINDS", "Scene", "SceneSpec", "generate", "make_scene", "plan"]
