"""`satedge sweep`: learning rate x optimizer, scored by the validation xView2 score.

The reference kit's grid (learning rate 1e-3 and 1e-5 x Adam, Adadelta,
RMSprop, constant rate) plus candidates that usually train a U-Net from
scratch faster (AdamW with one-cycle or cosine schedules). Every cell trains
the same model on the same crops (same seed, shared scene cache) for the same
small budget and is scored on the same held-out validation events; results go
to `sweep.csv` and `sweep.md` in `--out`.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import replace
from pathlib import Path

from training.train import TrainConfig, train

REFERENCE = [{"optimizer": opt, "lr": lr, "scheduler": "constant"}
             for opt in ("adam", "adadelta", "rmsprop") for lr in (1e-3, 1e-5)]
EXTENDED = [
    {"optimizer": "adamw", "lr": 2e-3, "scheduler": "onecycle"},
    {"optimizer": "adamw", "lr": 1e-3, "scheduler": "cosine"},
    {"optimizer": "adamw", "lr": 5e-3, "scheduler": "onecycle"},
]
GRIDS = {"reference": REFERENCE, "extended": EXTENDED, "all": REFERENCE + EXTENDED}
COLUMNS = ["cell", "optimizer", "lr", "scheduler", "best_val_score", "best_epoch", "final_val_score",
           "final_localization_f1", "final_damage_f1", "final_train_loss", "minutes"]


def cell_name(cell: dict) -> str:
    """A cell's run folder and row name, e.g. `adamw-0.002-onecycle`."""
    return f"{cell['optimizer']}-{cell['lr']:g}-{cell['scheduler']}"


def sweep(base: TrainConfig, cells: list[dict]) -> list[dict]:
    """Train every cell under `base.out/<cell>`; one row each, best validation score first (unscored last)."""
    rows = []
    for cell in cells:
        name = cell_name(cell)
        started = time.monotonic()
        summary = train(replace(base, out=Path(base.out) / name, command=f"{base.command} # cell {name}", **cell))
        final = summary["final"] or {}
        rows.append({"cell": name, **cell, "best_val_score": summary["best_val_score"],
                     "best_epoch": summary["best_epoch"], "final_val_score": final.get("val_score"),
                     "final_localization_f1": final.get("val_localization_f1"),
                     "final_damage_f1": final.get("val_damage_f1"), "final_train_loss": final.get("train_loss"),
                     "minutes": round((time.monotonic() - started) / 60, 2)})
    return sorted(rows, key=lambda r: -(r["best_val_score"] or -1))


def write_table(out: Path, rows: list[dict], base: TrainConfig) -> None:
    """Write `sweep.csv` and `sweep.md` (the budget per cell, then the rows) into `out`."""
    with open(out / "sweep.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"Budget per cell: {base.epochs} epochs x {base.samples} crops of {base.tile}² (batch {base.batch}), "
             f"{base.arch} width {base.width or 'default'} depth {base.depth}, seed {base.seed}, "
             f"amp {base.amp or 'none'}; "
             f"scored on {base.val_scenes} full validation scenes of held-out events.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join("" if r[c] is None else f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c])
                                        for c in COLUMNS) + " |")
    (out / "sweep.md").write_text("\n".join(lines) + "\n")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`satedge train`'s options with a small default budget per cell, plus `--grid`."""
    from training.train import add_arguments as train_arguments
    train_arguments(p)
    p.add_argument("--grid", choices=sorted(GRIDS), default="all", help="which cells (default %(default)s)")
    p.set_defaults(epochs=3, samples=256, tile=128, width=8, val_scenes=6)


def run(args: argparse.Namespace) -> int:
    """Sweep the chosen grid with one scene cache for all cells, write the tables and print the rows; exit code 0."""
    from training.train import config_from_args
    base = config_from_args(args)
    base.cache = base.cache or Path(base.out) / "cache"
    Path(base.out).mkdir(parents=True, exist_ok=True)
    rows = sweep(base, GRIDS[args.grid])
    write_table(Path(base.out), rows, base)
    print(json.dumps(rows, indent=2))
    return 0
