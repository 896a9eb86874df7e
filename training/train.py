"""`satedge train`: a damage model (`--arch`: the U-Net, or the ResNet-encoder reference) on an xBD-layout folder.

Stock PyTorch by default; `--amp bf16` runs the forward pass under
`torch.autocast("cpu", torch.bfloat16)`; `--backend ipex` uses Intel Extension
for PyTorch (from `.venv-ipex`). Intra-op threads default to the number of
physical cores. Every epoch writes `last.pt` (and `best.pt` when the
validation xView2 score improves), `curves.csv` and `curves.png`; `run.json`
records the seed and the full command. `--resume` continues from `last.pt`.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from onboard.ingest import NO_PRE_FILL
from satedge import logs
from satedge.errors import UserError
from training import checkpoint
from training.backends import AMP_DTYPES, BACKENDS
from training.dataset import CropDataset, SceneCache, class_weights, find_pairs, split_by_event
from training.losses import REGION_TERMS, DamageLoss
from training.metric import Confusion
from training.model import ARCHS, build, model_config
from training.predict import TorchPredictor, damage_maps

log = logging.getLogger("satedge.train")
REPO = Path(__file__).resolve().parents[1]


def _adam(params, lr, wd):
    return torch.optim.Adam(params, lr=lr)


OPTIMIZERS = {
    "adam": _adam,
    "adamw": lambda params, lr, wd: torch.optim.AdamW(params, lr=lr, weight_decay=wd),
    "adadelta": lambda params, lr, wd: torch.optim.Adadelta(params, lr=lr),
    "rmsprop": lambda params, lr, wd: torch.optim.RMSprop(params, lr=lr),
    "sgd": lambda params, lr, wd: torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd),
}

class TimeCosine:
    """Warm-up for the first 5% of a wall-clock budget, then cosine down to lr/100 at its end.

    On a shared CPU the steps a budget buys are unknown in advance; a schedule
    over time still ends annealed when the budget does (`--max-minutes`).
    """

    def __init__(self, optimizer, lr: float, budget_s: float, warmup: float = 0.05):
        self.optimizer, self.lr, self.budget_s, self.warmup = optimizer, lr, budget_s, warmup
        self.offset, self.start = 0.0, time.monotonic()
        self.step()

    def elapsed(self) -> float:
        """Wall seconds of the budget spent, including those before a resume."""
        return self.offset + time.monotonic() - self.start

    def step(self) -> None:
        """Set every parameter group's learning rate for the time spent so far (called each optimizer step)."""
        f = min(self.elapsed() / self.budget_s, 1.0)
        if f < self.warmup:
            lr = self.lr * (0.1 + 0.9 * f / self.warmup)
        else:
            g = (f - self.warmup) / (1 - self.warmup)
            lr = self.lr / 100 + (self.lr - self.lr / 100) * 0.5 * (1 + math.cos(math.pi * g))
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def state_dict(self) -> dict:
        """What a resumed run needs: the budget spent so far."""
        return {"elapsed": self.elapsed()}

    def load_state_dict(self, state: dict) -> None:
        """Carry on from the budget spent when the checkpoint was written."""
        self.offset, self.start = state["elapsed"], time.monotonic()


def _time_cosine(opt, cfg, total):
    if not cfg.max_minutes:
        raise UserError("--scheduler time-cosine needs --max-minutes (the budget it anneals over)")
    return TimeCosine(opt, cfg.lr, cfg.max_minutes * 60)


# Per-step learning-rate schedules: factory(optimizer, config, total_steps) -> scheduler or None.
SCHEDULERS = {
    "constant": lambda opt, cfg, total: None,
    "cosine": lambda opt, cfg, total: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total,
                                                                                 eta_min=cfg.lr / 100),
    "onecycle": lambda opt, cfg, total: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total,
                                                                            pct_start=0.15),
    "time-cosine": _time_cosine,
}


@dataclass
class TrainConfig:
    """One training run's settings: `satedge train`'s defaults come from here, and run.json records them all."""

    data: Path
    out: Path
    epochs: int = 20
    samples: int = 1024                 # random crops per epoch
    batch: int = 8
    tile: int = 256
    overlap: int = 32                   # for full-scene validation (and recorded for export)
    arch: str = "unet"                  # training.model.ARCHS
    width: int | None = None            # None: the arch's default (U-Net 16, ResNet 64)
    depth: int = 4                      # U-Net levels (the ResNet encoders have five by construction)
    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 1e-4
    scheduler: str = "onecycle"
    loss: str = "dice"                  # cross-entropy + this term
    loss_weight: float = 1.0
    oversample: float = 0.5             # share of crops centred on a damaged pixel
    photometric: float = 0.1
    pre_missing: float = 0.0            # share of crops without (part of) their pre-event view, as onboard
    rescale: float = 1.0                # crops at 1/r..r times the ground sample distance (1: as stored)
    init: Path | None = None            # start from this checkpoint's weights (fine-tuning), not from scratch
    val_fraction: float = 0.2
    val_scenes: int = 8
    seed: int = 0
    backend: str = "stock"
    amp: str | None = None              # None: the backend's default
    threads: int | None = None
    workers: int = 1
    cache: Path | None = None
    resume: bool = False
    max_minutes: float | None = None    # stop after the epoch that reaches this budget
    channels_last: bool = True          # NHWC activations: faster oneDNN convolutions on CPU
    command: str = ""
    quiet: bool = False
    extra: dict = field(default_factory=dict)


def physical_cores() -> int:
    """Physical CPU cores (hyper-threads left out), the default intra-op thread count; at least 1."""
    import psutil
    return psutil.cpu_count(logical=False) or psutil.cpu_count() or 1


def git_revision() -> str | None:
    """The repository's short commit hash for run.json, or None when git is missing or fails."""
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def seed_everything(seed: int) -> None:
    """Seed torch's and numpy's global generators (the crops have their own per-sample seeds)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2 ** 32)


def _worker_init(_):
    # Crops are numpy slicing: one thread. (Never touch cv2's thread pool here: after fork it hangs.)
    torch.set_num_threads(1)


def validate(model: torch.nn.Module, cache: SceneCache, tile: int, overlap: int, pre: bool = True) -> dict:
    """xView2 scores of `model` on the full validation scenes (tiled like the satellite does); `pre=False`:
    with no pre-event view at all, as a scene outside the onboard reference."""
    predictor = TorchPredictor(model, tile, overlap)
    confusion = Confusion()
    for array in cache.arrays:
        scene = np.asarray(array)
        before = scene[..., :3] if pre else np.full_like(scene[..., :3], NO_PRE_FILL)
        localization, damage = damage_maps(predictor.predict_scene(before, scene[..., 3:6]))
        confusion.add(scene[..., 6], localization, damage)
    return confusion.scores()


CURVE_FIELDS = ["epoch", "train_loss", "val_score", "val_localization_f1", "val_damage_f1",
                "val_f1_no_damage", "val_f1_minor", "val_f1_major", "val_f1_destroyed", "val_score_post_only",
                "lr", "steps_per_s", "tiles_per_s", "epoch_s", "val_s"]


def curve_row(epoch: int, loss: float, scores: dict | None, lr: float, steps: int, tiles: int,
              seconds: float, val_seconds: float, post_only: dict | None = None) -> dict:
    """One epoch's curves.csv row; the validation columns are left out when there was no validation."""
    row = {"epoch": epoch, "train_loss": round(loss, 5), "lr": lr, "steps_per_s": round(steps / seconds, 4),
           "tiles_per_s": round(tiles / seconds, 3), "epoch_s": round(seconds, 1), "val_s": round(val_seconds, 1)}
    if post_only:
        row["val_score_post_only"] = round(post_only["score"], 5)
    if scores:
        per = list(scores["damage_f1_per_class"].values())
        row.update(val_score=round(scores["score"], 5), val_localization_f1=round(scores["localization_f1"], 5),
                   val_damage_f1=round(scores["damage_f1"], 5), val_f1_no_damage=round(per[0], 5),
                   val_f1_minor=round(per[1], 5), val_f1_major=round(per[2], 5),
                   val_f1_destroyed=round(per[3], 5))
    return row


def write_curves(out: Path, history: list[dict]) -> None:
    """Rewrite curves.csv and curves.png from the whole history (after every epoch)."""
    with open(out / "curves.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, CURVE_FIELDS)
        writer.writeheader()
        writer.writerows(history)
    plot_curves(history, out / "curves.png")


def plot_curves(history: list[dict], path: Path) -> None:
    """Training loss and validation scores per epoch, side by side, saved to `path`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], marker="o")
    ax_loss.set(xlabel="epoch", ylabel="training loss (CE + region term)", title="loss")
    for key, label in (("val_score", "xView2 score"), ("val_score_post_only", "score, no pre image"),
                       ("val_localization_f1", "loc F1"),
                       ("val_damage_f1", "damage F1"), ("val_f1_minor", "F1 minor"),
                       ("val_f1_major", "F1 major")):
        values = [h.get(key) for h in history]
        if any(v is not None for v in values):
            ax_score.plot(epochs, [np.nan if v is None else v for v in values], marker=".", label=label)
    ax_score.set(xlabel="epoch", ylabel="score on the validation events", ylim=(0, 1), title="validation")
    ax_score.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def optimizer_step(model, criterion, optimizer, backend, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """One training step (forward under the backend's autocast, loss, backward, update); `training.speed`
    times this same step."""
    with backend.autocast():
        logits = model(images)
    loss = criterion(logits, targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def train(cfg: TrainConfig) -> dict:
    """Train per `cfg`; returns a summary (best validation scores, paths)."""
    if cfg.optimizer not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {cfg.optimizer!r} (have: {', '.join(OPTIMIZERS)})")
    if cfg.scheduler not in SCHEDULERS:
        raise UserError(f"unknown scheduler {cfg.scheduler!r} (have: {', '.join(SCHEDULERS)})")
    if cfg.arch not in ARCHS:
        raise UserError(f"unknown architecture {cfg.arch!r} (have: {', '.join(ARCHS)})")
    try:
        config = model_config(cfg.arch, cfg.width, cfg.depth)
    except ValueError as exc:
        raise UserError(f"--arch {cfg.arch} --width {cfg.width}: {exc}") from None
    seed_everything(cfg.seed)            # before the model is built: its initial weights follow the seed
    model = build(config)
    if cfg.tile % 2 ** model.depth:
        raise UserError(f"--tile {cfg.tile} must be a multiple of 2^depth = {2 ** model.depth}")
    backend = BACKENDS[cfg.backend](cfg.amp)
    threads = cfg.threads or physical_cores()
    torch.set_num_threads(threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    pairs = find_pairs(cfg.data)
    train_pairs, val_pairs = split_by_event(pairs, cfg.val_fraction, cfg.seed)
    val_pairs = val_pairs[:: max(1, math.ceil(len(val_pairs) / cfg.val_scenes))][: cfg.val_scenes] \
        if cfg.val_scenes else []
    cache_dir = Path(cfg.cache) if cfg.cache else out / "cache"
    train_cache = SceneCache(train_pairs, cache_dir)
    val_cache = SceneCache(val_pairs, cache_dir)
    weights = class_weights(train_cache.class_frequencies())
    dataset = CropDataset(train_cache, cfg.tile, cfg.samples, cfg.seed, cfg.oversample,
                          photometric=cfg.photometric, pre_missing=cfg.pre_missing, rescale=cfg.rescale)
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.batch, num_workers=cfg.workers,
                                         drop_last=True, worker_init_fn=_worker_init if cfg.workers else None)
    steps_per_epoch = len(loader)
    if steps_per_epoch == 0:
        raise UserError(f"--samples {cfg.samples} is smaller than --batch {cfg.batch}")

    if cfg.init is not None:
        start = checkpoint.load(cfg.init)
        if start["model_config"] != model.config():
            raise UserError(f"--init: {cfg.init} is a {start['model_config']} model, not {model.config()}")
        model.load_state_dict(start["model"])
    optimizer = OPTIMIZERS[cfg.optimizer](model.parameters(), cfg.lr, cfg.weight_decay)
    scheduler = SCHEDULERS[cfg.scheduler](optimizer, cfg, cfg.epochs * steps_per_epoch)
    criterion = DamageLoss(weights, cfg.loss, cfg.loss_weight)
    record = {
        "command": cfg.command, "seed": cfg.seed, "data": str(cfg.data), "epochs": cfg.epochs,
        "git": git_revision(), "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "tile": cfg.tile, "overlap": cfg.overlap, "threads": threads, **backend.describe(),
        "class_weights": weights, "class_frequencies": train_cache.class_frequencies().round(6).tolist(),
        "train_events": sorted({p.event for p in train_pairs}), "val_events": sorted({p.event for p in val_pairs}),
        "train_pairs": len(train_pairs), "val_pairs_scored": len(val_pairs), "val_fraction": cfg.val_fraction,
    }
    history: list[dict] = []
    start_epoch, best, prior_s = 1, -1.0, 0.0
    last = out / "last.pt"
    if cfg.resume:
        if not last.exists():
            raise UserError(f"--resume: no {last} to resume from")
        state = checkpoint.load(last)
        if state["model_config"] != model.config():
            raise UserError(f"--resume: {last} is a {state['model_config']} model, not {model.config()}")
        planned = state["training"]["epochs"]
        if scheduler is not None and not isinstance(scheduler, TimeCosine) and planned != cfg.epochs:
            raise UserError(f"--resume: the {cfg.scheduler} schedule was planned for {planned} epochs; "
                            f"resume with --epochs {planned}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler"):
            scheduler.load_state_dict(state["scheduler"])
        history, best = state["history"], state["best_score"]
        start_epoch, prior_s = state["epoch"] + 1, state.get("elapsed_s", 0.0)
        torch.set_rng_state(state["torch_rng"])
    model.train()
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    model, optimizer = backend.prepare(model, optimizer)
    (out / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    logs.event(log, "training", pairs=len(pairs), train=len(train_pairs), val_scored=len(val_pairs),
               backend=backend.name, amp=backend.amp, threads=threads, steps_per_epoch=steps_per_epoch)

    started = time.monotonic()
    for epoch in range(start_epoch, cfg.epochs + 1):
        dataset.set_epoch(epoch)
        model.train()
        t0, total, seen = time.monotonic(), 0.0, 0
        bar = tqdm(loader, desc=f"epoch {epoch}/{cfg.epochs}", unit="step", leave=False,
                   disable=cfg.quiet, dynamic_ncols=True)
        for step, (images, targets) in enumerate(bar, 1):
            loss = optimizer_step(model, criterion, optimizer, backend,
                                  images.contiguous(memory_format=memory_format), targets)
            if scheduler is not None:
                scheduler.step()
            total += loss.item()
            seen += len(images)
            bar.set_postfix(loss=f"{total / step:.4f}", tiles_s=f"{seen / (time.monotonic() - t0):.1f}")
        bar.close()
        seconds = time.monotonic() - t0
        v0 = time.monotonic()
        scores = validate(model, val_cache, cfg.tile, cfg.overlap) if val_cache.arrays else None
        post_only = validate(model, val_cache, cfg.tile, cfg.overlap, pre=False) \
            if val_cache.arrays and cfg.pre_missing > 0 else None
        val_seconds = time.monotonic() - v0
        row = curve_row(epoch, total / steps_per_epoch, scores, optimizer.param_groups[0]["lr"],
                        steps_per_epoch, seen, seconds, val_seconds, post_only)
        history.append(row)
        # trained for both: the best epoch is the best on average with and without the pre image
        score = (scores["score"] + post_only["score"]) / 2 if scores and post_only \
            else scores["score"] if scores else -float(row["train_loss"])
        improved = score > best
        best = max(best, score)
        state = dict(model=model.state_dict(), model_config=model.config(), optimizer=optimizer.state_dict(),
                     scheduler=scheduler.state_dict() if scheduler is not None else None, epoch=epoch,
                     history=history, best_score=best, training=record, scores=scores,
                     torch_rng=torch.get_rng_state(), elapsed_s=prior_s + time.monotonic() - started)
        checkpoint.save(last, **state)
        if improved:
            checkpoint.save(out / "best.pt", **state)
        write_curves(out, history)
        logs.event(log, "epoch", **{k: v for k, v in row.items() if v is not None}, best=improved)
        if cfg.max_minutes and (prior_s + time.monotonic() - started) / 60 >= cfg.max_minutes \
                and epoch < cfg.epochs:
            logs.event(log, "time budget reached", minutes=cfg.max_minutes, epoch=epoch)
            break
    best_row = max(history, key=lambda h: h.get("val_score") or -1) if history else {}
    return {"out": str(out), "best": str(out / "best.pt"), "last": str(last), "epochs_run": len(history),
            "best_epoch": best_row.get("epoch"), "best_val_score": best_row.get("val_score"),
            "final": history[-1] if history else None}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `satedge train` (`satedge sweep` reuses them); defaults come from TrainConfig."""
    d = TrainConfig(data=Path(), out=Path())
    p.add_argument("--data", type=Path, required=True, help="folder in the xBD layout (a split or a folder of splits)")
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, curves, run.json")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--samples", type=int, default=d.samples, help="random crops per epoch (default %(default)s)")
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--tile", type=int, default=d.tile, help="crop and model input size (default %(default)s)")
    p.add_argument("--overlap", type=int, default=d.overlap, help="tile overlap for full-scene validation")
    p.add_argument("--arch", choices=ARCHS, default=d.arch,
                   help="unet: the small plain U-Net; resnet18-unet / resnet34-unet: the reference model, a "
                        "shared (siamese) ResNet encoder for pre and post and a U-Net decoder (default %(default)s)")
    p.add_argument("--width", type=int, default=d.width,
                   help="channels of the first level (default: U-Net 16, ResNet 64 as torchvision's)")
    p.add_argument("--depth", type=int, default=d.depth, help="U-Net levels (unet only)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=d.optimizer)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--scheduler", choices=sorted(SCHEDULERS), default=d.scheduler)
    p.add_argument("--loss", choices=sorted(REGION_TERMS), default=d.loss, help="added to weighted cross-entropy")
    p.add_argument("--loss-weight", type=float, default=d.loss_weight)
    p.add_argument("--oversample", type=float, default=d.oversample,
                   help="share of crops centred on a minor/major/destroyed pixel")
    p.add_argument("--pre-missing", type=float, default=d.pre_missing,
                   help="share of crops whose pre image is blanked, wholly or on one side of a line, as where the "
                        "onboard reference does not reach (default %(default)s)")
    p.add_argument("--rescale", type=float, default=d.rescale,
                   help="crops resized from 1/R..R times the tile's ground extent: a range of sample distances "
                        "(default %(default)s: off)")
    p.add_argument("--init", type=Path, default=None,
                   help="start from this checkpoint's weights (fine-tune); the model must be the same shape")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction, help="share of disaster events held out")
    p.add_argument("--val-scenes", type=int, default=d.val_scenes, help="validation scenes scored per epoch")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--backend", choices=sorted(BACKENDS), default=d.backend)
    p.add_argument("--amp", choices=sorted(AMP_DTYPES), default=None,
                   help="autocast dtype (stock default none; ipex default bf16 where the CPU has it)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: physical cores)")
    p.add_argument("--workers", type=int, default=d.workers, help="data-loader processes")
    p.add_argument("--cache", type=Path, default=None, help="decoded-scene cache (default OUT/cache)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that reaches this")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                   help="keep NCHW activations (channels-last is faster on CPU)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """A TrainConfig from parsed arguments (others ignored), recording the full command line."""
    fields = TrainConfig.__dataclass_fields__
    values = {k: v for k, v in vars(args).items() if k in fields and k != "command"}  # args.command: subcommand
    return TrainConfig(**values, command=shlex.join(["satedge", *sys.argv[1:]]))


def run(args: argparse.Namespace) -> int:
    """Train and print the summary as JSON; exit code 0."""
    summary = train(config_from_args(args))
    print(json.dumps(summary, indent=2))
    return 0
