"""Training speed side by side: stock FP32, stock `--amp bf16`, IPEX (where a venv has it).

    python -m training.speed [--arch unet] [--steps 20] [--width 8] [--tile 256] [--batch 8]
                             [--ipex-python .venv-ipex/bin/python]

Each configuration runs in its own process (IPEX needs its own venv, torch
2.8), on the same random batch, after warm-up steps; prints steps/s and
tiles/s as a Markdown table. A CPU shared with other jobs makes these numbers
noisy: run them back to back, as here, and compare within one run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from training.model import ARCHS

REPO = Path(__file__).resolve().parents[1]


def measure(backend: str, amp: str, steps: int, width: int | None, tile: int, batch: int, threads: int | None,
            arch: str = "unet") -> dict:
    """Time `steps` optimizer steps of the model (`arch`, `width`) with the training loop's backend and loss."""
    import torch

    from training.backends import BACKENDS
    from training.losses import DamageLoss
    from training.model import build, model_config
    from training.train import optimizer_step, physical_cores

    torch.set_num_threads(threads or physical_cores())
    torch.manual_seed(0)
    chosen = BACKENDS[backend](amp)
    config = model_config(arch, width)
    model = build(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model, optimizer = chosen.prepare(model, optimizer)
    loss_fn = DamageLoss([0.3, 1, 3, 3, 2], "dice")
    x = torch.rand(batch, 6, tile, tile) * 255
    y = torch.randint(0, 5, (batch, tile, tile))

    def step():
        optimizer_step(model, loss_fn, optimizer, chosen, x, y)

    for _ in range(3):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - started
    return {**chosen.describe(), "steps_per_s": steps / seconds, "tiles_per_s": steps * batch / seconds,
            **config, "tile": tile, "batch": batch, "steps": steps}


def main(argv: list[str] | None = None) -> int:
    """Run each backend and amp in its own process (`--one`) and print one Markdown table; a failure becomes a row."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--arch", choices=ARCHS, default="unet")
    p.add_argument("--width", type=int, default=None, help="default: U-Net 8, ResNet 64")
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--ipex-python", type=Path, default=REPO / ".venv-ipex/bin/python")
    p.add_argument("--one", nargs=2, metavar=("BACKEND", "AMP"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.width is None:
        args.width = 8 if args.arch == "unet" else 64
    shape = (args.steps, args.width, args.tile, args.batch, args.threads, args.arch)
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1], *shape)))
        return 0
    runs = [(sys.executable, "stock", "none"), (sys.executable, "stock", "bf16")]
    if args.ipex_python.exists():
        runs += [(str(args.ipex_python), "stock", "none"), (str(args.ipex_python), "stock", "bf16"),
                 (str(args.ipex_python), "ipex", "none"), (str(args.ipex_python), "ipex", "bf16")]
    rows = []
    for python, backend, amp in runs:
        cmd = [python, "-m", "training.speed", "--one", backend, amp, "--steps", str(args.steps), "--width",
               str(args.width), "--tile", str(args.tile), "--batch", str(args.batch), "--arch", args.arch]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if out.returncode:
            lines = [x for x in out.stderr.strip().splitlines() if "Error" in x] or out.stderr.strip().splitlines()
            error = lines[-1] if lines else f"exit {out.returncode}"
            rows.append({"backend": backend, "amp": amp, "error": error[:90]})
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{args.arch} width {args.width}, batch {args.batch} x {args.tile}², {args.steps} timed steps after 3 "
          "warm-up\n")
    print("| backend | amp | torch | steps/s | tiles/s |\n|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['backend']} | {r['amp']} | — | error: {r['error']} | |")
        else:
            name = r["backend"] + (f" {r['ipex']}" if "ipex" in r else "")
            print(f"| {name} | {r['amp']} | {r['torch']} | {r['steps_per_s']:.3f} | {r['tiles_per_s']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
