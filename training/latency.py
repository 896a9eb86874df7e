"""OpenVINO latency of a model architecture per width and tile, for choosing the default model.

    python -m training.latency [--arch unet] [--widths 4 8 16] [--tiles 256 512] [--rounds 30]

Random weights (latency does not depend on their values), the exported IR
contract (u8 in, softmax out), LATENCY hint, one request. All variants are
compiled first and then timed round-robin, so a CPU shared with other jobs
slows them alike; the minimum over rounds is the least disturbed figure. Also
prints the cost of one 1024² scene with the manifest's tiling (overlap 32).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    """Compile every width x tile variant, time them round-robin, print a Markdown table of ms per tile and scene."""
    import openvino as ov
    import torch

    from onboard.tiling import grid
    from training.export import to_openvino
    from training.model import ARCHS, build, model_config

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", choices=ARCHS, default="unet")
    p.add_argument("--widths", type=int, nargs="+", default=None, help="default: U-Net 4 8 16, ResNet 64")
    p.add_argument("--tiles", type=int, nargs="+", default=[256, 512])
    p.add_argument("--depth", type=int, default=4, help="U-Net levels (unet only)")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--overlap", type=int, default=32)
    args = p.parse_args(argv)
    widths = args.widths or ([4, 8, 16] if args.arch == "unet" else [64])
    core = ov.Core()
    variants = []
    for tile in args.tiles:
        for width in widths:
            torch.manual_seed(0)
            model = build(model_config(args.arch, width, args.depth)).eval()
            compiled = core.compile_model(to_openvino(model, tile), "CPU", {"PERFORMANCE_HINT": "LATENCY"})
            x = np.random.default_rng(0).integers(0, 256, (1, 6, tile, tile), dtype=np.uint8)
            compiled(x)
            params = sum(q.numel() for q in model.parameters())
            variants.append({"width": width, "tile": tile, "params": params, "compiled": compiled, "x": x, "ms": []})
    for _ in range(args.rounds):
        for v in variants:
            started = time.perf_counter()
            v["compiled"](v["x"])
            v["ms"].append((time.perf_counter() - started) * 1000)
    print("| width | tile | parameters | ms/tile min | ms/tile median | tiles per 1024² scene | ms per scene (min) |")
    print("|---|---|---|---|---|---|---|")
    for v in variants:
        n = len(grid(1024, 1024, v["tile"], args.overlap))
        best, median = min(v["ms"]), float(np.median(v["ms"]))
        print(f"| {v['width']} | {v['tile']} | {v['params'] / 1e6:.2f} M | {best:.1f} | {median:.1f} | {n} | "
              f"{n * best:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
