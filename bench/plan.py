"""What one bench run measures and for how long (full or --quick), and what every step shares."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from bench.scenes import SceneSet
from bench.timing import Budget
from onboard.manifest import Manifest
from satedge.logs import event

log = logging.getLogger("satedge.bench")

QUICK_SKIP = "skipped (--quick)"


@dataclass(frozen=True)
class Plan:
    """Which rows a run measures and how long each is timed; `full()` and `quick_plan()` are the two used."""

    quick: bool
    batches: tuple[int, ...]
    torch_budget: Budget
    openvino_budget: Budget
    compile_batches: tuple[int, ...]       # torch.compile recompiles per shape: tens of seconds each
    plugin_default_batches: tuple[int, ...]    # rows compiled with the plugin's own precision choice
    benchmark_app_s: float                 # benchmark_app -t takes whole seconds
    benchmark_app_hints: tuple[str, ...]
    daemon_copies: int                     # times the scenario's scenes go through each daemon run
    daemon_all_precisions: bool
    extra_tiles: tuple[int, ...] = ()      # OpenVINO rows at batch 1 on other tile sizes too (the IR reshaped)
    timeout_s: float = 900.0

    @classmethod
    def full(cls) -> Plan:
        """Every batch (1 to 32), both hints everywhere, each daemon run on the scenes four times over."""
        return cls(quick=False, batches=(1, 8, 16, 32), torch_budget=Budget(1.5, 3, 3.0, 2),
                   openvino_budget=Budget(0.5, 3, 1.5, 3), compile_batches=(1, 8, 16, 32),
                   plugin_default_batches=(1,), benchmark_app_s=3, benchmark_app_hints=("THROUGHPUT", "LATENCY"),
                   daemon_copies=4,
                   daemon_all_precisions=True, extra_tiles=(256, 512))

    @classmethod
    def quick_plan(cls) -> Plan:
        """--quick: batch 1, short windows, no torch.compile or plugin-default rows, benchmark_app THROUGHPUT only."""
        return cls(quick=True, batches=(1,), torch_budget=Budget(0.3, 2, 0.7, 2),
                   openvino_budget=Budget(0.3, 2, 0.5, 2), compile_batches=(), plugin_default_batches=(),
                   benchmark_app_s=2, benchmark_app_hints=("THROUGHPUT",), daemon_copies=1,
                   daemon_all_precisions=False,
                   timeout_s=120.0)

    def describe(self) -> dict:
        """The plan as results.json records it (`plan`); the report's timing line is written from it."""
        return {"quick": self.quick, "batches": list(self.batches),
                "torch": vars(self.torch_budget), "openvino": vars(self.openvino_budget),
                "torch_compile_batches": list(self.compile_batches),
                "plugin_default_batches": list(self.plugin_default_batches),
                "benchmark_app_seconds": self.benchmark_app_s, "daemon_scene_copies": self.daemon_copies,
                "extra_tiles": list(self.extra_tiles)}


@dataclass
class Context:
    """What the steps share: the model, the input, the plan, and the numbers found so far."""

    model_dir: Path
    manifest: Manifest
    plan: Plan
    work: Path
    scenes: SceneSet | None = None
    tiles: Path | None = None
    gflop_per_tile: float | None = None
    tiles_at: dict[int, Path] = field(default_factory=dict)       # tile size -> u8 tiles of that size (.npy)
    gflop_at: dict[int, float] = field(default_factory=dict)      # tile size -> GFLOP per tile
    rows: list[dict] = field(default_factory=list)
    sections: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The model's name (its manifest's): what its rows are labelled with when several models are benched."""
        return self.manifest.name

    @property
    def reference(self) -> bool:
        """A reference-class model (ResNet encoder), not the small plain U-Net: its own targets apply."""
        return (self.manifest.training.get("model") or {}).get("arch", "unet") != "unet"

    def tile_sizes(self) -> list[int]:
        """The model's own tile first, then the plan's other tile sizes (multiples of its 2^depth only)."""
        multiple = 32 if self.reference else 2 ** int((self.manifest.training.get("model") or {}).get("depth", 0))
        extra = [t for t in self.plan.extra_tiles if t != self.manifest.tile and t % multiple == 0]
        return [self.manifest.tile, *extra]

    def for_model(self, model_dir: Path, manifest: Manifest) -> Context:
        """A context for another model on the same plan, work folder and scenes; its rows are its own."""
        return Context(model_dir=model_dir, manifest=manifest, plan=self.plan, work=self.work, scenes=self.scenes)

    @property
    def default_int8(self) -> str:
        """The IR that `int8` resolves to in the manifest: the precision the daemon starts in."""
        return self.manifest.resolve("int8")

    def precisions(self) -> list[str]:
        """The manifest's IRs in the order of the table."""
        order = ["fp32", "fp16", "int8-nncf", "int8-inc"]
        return [p for p in order if p in self.manifest.precisions] + \
               sorted(p for p in self.manifest.precisions if p not in order)

    def progress(self, msg: str, **fields) -> None:
        """One structured event on the `satedge.bench` log, so a long run shows which row it is on."""
        event(log, msg, **fields)

    def find(self, **match) -> dict | None:
        """The first measured row whose fields equal `match`."""
        for row in self.rows:
            if row.get("status") == "measured" and all(row.get(k) == v for k, v in match.items()):
                return row
        return None


def new_row(kind: str, name: str, **fields) -> dict:
    """A row of the table; `status` is "measured" once its numbers are filled in, else says why not."""
    return {"kind": kind, "name": name, "status": "pending", **fields}


def fail(row: dict, exc: Exception) -> dict:
    """Set `row`'s status to the exception's first line (its type if it has no message); returns the row."""
    row["status"] = f"failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return row


HELD_OUT_KEYS = ("score", "localization_f1", "damage_f1", "scenes")


def held_out(manifest: Manifest, precision: str) -> dict | None:
    """The held-out xView2 numbers `satedge evaluate --record` stored for `precision` (the headline ones)."""
    entry = manifest.precisions.get(precision)
    scores = entry.scores if entry else {}
    return {k: scores[k] for k in HELD_OUT_KEYS if k in scores} or None
