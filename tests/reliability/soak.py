"""Soak: an accelerated run of thousands of scenes through the real ground and satellite processes,
sampling their resident memory and open file descriptors; run by hand, not by pytest.

    nice -n 10 .venv/bin/python -m tests.reliability.soak --scenes 2000 --out out/soak --img docs/img

The run folder is made by `sim.run.prepare` (keys, configurations, reference mosaic and a pool of
scenes, as `satedge sim` does); the ground and the onboard daemon are started as `satedge sim` starts
them. Instead of the camera, this script publishes copies of the pool's scenes into the inbox (by
rename) as fast as the daemon takes them, while the ground opens a short window every few wall
seconds. Every `--every` seconds it samples RSS and open fds of both processes into a CSV; at the
end it checks that every scene is in the ground store exactly once and prints the growth of RSS and
fds after warm-up (the first `--warmup` fraction of the scenes) as JSON, and writes a PNG plot.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

from ground import store
from onboard.spool import spooled_count
from sim import run as simrun
from sim.config import SimConfig

POOL = 8                 # distinct scenes, published again and again under new names
BACKLOG = 6              # scenes waiting in the inbox at most


def tiny_model(out: Path) -> Path:
    """The test suite's tiny random-weight U-Net (tests/conftest.py), as a real FP32/FP16 IR."""
    import torch

    from training.export import export_ir
    from training.model import UNet

    torch.manual_seed(0)
    export_ir(UNet(width=4, depth=2), out, name="tiny", tile=64, overlap=8,
              training={"command": "tests/reliability/soak.py", "seed": 0})
    return out


def scenario(model: Path, speedup: float) -> SimConfig:
    return SimConfig.model_validate({
        "clock": {"epoch": float(int(time.time())), "speedup": speedup},
        "security": {"mode": "curve"},
        "scenario": {"orbits": 1, "scenes_per_orbit": POOL, "scene_size": 256, "drain_orbits": 0},
        # A window of 400 s every 600 s (simulated): at speedup 100, 4 s open and 2 s closed.
        "link": {"period_s": 600.0, "window_s": 400.0, "offset_s": 0.0, "rate_bps": 2_000_000.0},
        "model": {"dir": str(model), "precision": "fp32"},
        "log": {"status_interval_s": 5.0},
    })


def sample(proc: psutil.Process) -> tuple[float, int]:
    return proc.memory_info().rss / 2**20, proc.num_fds()


def growth(rows: list[dict], key: str, warmup: int) -> dict:
    """Median of the samples just after warm-up against the median of the last tenth of the run."""
    after = [r for r in rows if r["stored"] >= warmup]
    if len(after) < 10:
        return {"baseline": None, "final": None, "growth_pct": None}
    tenth = max(3, len(after) // 10)
    baseline = sorted(r[key] for r in after[:tenth])[tenth // 2]
    final = sorted(r[key] for r in after[-tenth:])[tenth // 2]
    return {"baseline": round(baseline, 1), "final": round(final, 1),
            "growth_pct": round(100 * (final - baseline) / baseline, 2) if baseline else None}


def plot(rows: list[dict], warmup: int, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["stored"] for r in rows]
    fig, (mem, fds) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for who, color in (("ground", "tab:blue"), ("sat", "tab:orange")):
        mem.plot(x, [r[f"{who}_rss_mb"] for r in rows], color=color, label=f"{who} RSS")
        fds.plot(x, [r[f"{who}_fds"] for r in rows], color=color, label=f"{who} open fds")
    for ax in (mem, fds):
        ax.axvline(warmup, color="grey", linestyle="--", linewidth=1)
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
    mem.set_ylabel("RSS (MiB)")
    mem.set_ylim(bottom=0)
    fds.set_ylabel("open file descriptors")
    fds.set_ylim(bottom=0)
    fds.set_xlabel("scenes stored at the ground (dashed: end of warm-up)")
    mem.set_title("Soak: resident memory and open fds of both processes")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the run")
    parser.add_argument("--img", type=Path, default=None, help="also copy the plot and the CSV here (docs/img)")
    parser.add_argument("--every", type=float, default=2.0, help="wall seconds between samples")
    parser.add_argument("--warmup", type=float, default=0.2, help="fraction of the scenes that is warm-up")
    parser.add_argument("--speedup", type=float, default=100.0)
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=False)
    model = tiny_model(Path(tempfile.mkdtemp(prefix="soak-model-")))
    os.environ["SATEDGE_INGEST_POLL_S"] = "0.05"
    run = simrun.prepare(scenario(model, args.speedup), args.out / "run")
    sat = run.satellites[0]
    pool = sorted((sat.dir / "staging" / "geotiff").glob("*_post_disaster.tif"))
    assert len(pool) == POOL, pool
    inbox = sat.dir / "inbox"
    simrun.spawn(run, "ground", "ground", run.out / "ground" / "ground.toml")
    simrun.spawn(run, f"{sat.id}-onboard", "onboard", sat.dir / "onboard.toml")
    ground, onboard = (psutil.Process(p.pid) for p in run.processes)

    rows: list[dict] = []
    fed = 0
    started = time.monotonic()
    next_sample = started
    csv_path = args.out / "soak.csv"
    fields = ["wall_s", "fed", "stored", "spooled", "ground_rss_mb", "ground_fds", "sat_rss_mb", "sat_fds"]
    try:
        with open(csv_path, "w", newline="") as sink:
            writer = csv.DictWriter(sink, fieldnames=fields)
            writer.writeheader()
            while True:
                dead = [p.name for p in run.processes if not p.alive()]
                if dead:
                    raise SystemExit(f"process {dead} died; see {run.out / 'logs'}")
                waiting = sum(1 for _ in inbox.glob("*.tif"))
                while fed < args.scenes and waiting < BACKLOG:
                    tmp = inbox / f".soak-{fed:05d}.part"
                    shutil.copyfile(pool[fed % POOL], tmp)
                    os.replace(tmp, inbox / f"soak-{fed:05d}.tif")
                    fed += 1
                    waiting += 1
                now = time.monotonic()
                if now >= next_sample:
                    stored = store.stored_count(run.store)
                    g_rss, g_fds = sample(ground)
                    s_rss, s_fds = sample(onboard)
                    row = dict(wall_s=round(now - started, 1), fed=fed, stored=stored,
                               spooled=spooled_count(sat.spool),
                               ground_rss_mb=round(g_rss, 1), ground_fds=g_fds, sat_rss_mb=round(s_rss, 1),
                               sat_fds=s_fds)
                    rows.append(row)
                    writer.writerow(row)
                    sink.flush()
                    print(json.dumps(row), flush=True)
                    next_sample = now + args.every
                    if stored >= args.scenes:
                        break
                time.sleep(0.05)
    finally:
        codes = simrun.stop(run)

    warmup = int(args.scenes * args.warmup)
    seqs = [row["seq"] for row in store.stored_rows(run.store)]
    result = {
        "scenes": args.scenes,
        "wall_s": round(time.monotonic() - started, 1),
        "stored": len(seqs),
        "distinct_seqs": len(set(seqs)),
        "max_seq": max(seqs, default=0),
        "duplicates_dropped": store.counters(run.store).get("duplicates", 0),
        "left_in_spool": spooled_count(sat.spool),
        "windows": len(store.stored_windows(run.store)),
        "exit_codes": codes,
        "samples": len(rows),
        "warmup_scenes": warmup,
        "ground_rss": growth(rows, "ground_rss_mb", warmup),
        "sat_rss": growth(rows, "sat_rss_mb", warmup),
        "ground_fds": growth(rows, "ground_fds", warmup),
        "sat_fds": growth(rows, "sat_fds", warmup),
    }
    plot(rows, warmup, args.out / "soak.png")
    if args.img is not None:
        args.img.mkdir(parents=True, exist_ok=True)
        for name in ("soak.png", "soak.csv"):
            shutil.copyfile(args.out / name, args.img / name)
    (args.out / "soak.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    ok = (result["stored"] == result["distinct_seqs"] == result["max_seq"] == args.scenes
          and all((result[k]["growth_pct"] or 0) < 10 for k in ("ground_rss", "sat_rss")))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
