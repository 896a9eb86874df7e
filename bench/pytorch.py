"""PyTorch rows: stock eager FP32, stock `torch.compile`, and IPEX, as a user runs the model.

The model is the manifest's: its checkpoint when the model folder can find
it (the manifest's `training.checkpoint`, or a `*.pt` beside it), otherwise
the architecture rebuilt from `training.model` with random weights (speed
does not depend on weight values; the row says which). It is wrapped with the
softmax and fed u8 tiles converted to float inside the timed call, so it
computes what the IR computes. Intra-op threads = physical cores.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bench.machine import physical_cores
from bench.timing import Budget, run_windows
from onboard.manifest import Manifest

MODES = ("eager", "compile", "ipex")


def weights_source(model_dir: Path) -> str | None:
    """The checkpoint behind the model folder, if there is one to load."""
    manifest = Manifest.load(model_dir)
    recorded = manifest.training.get("checkpoint")
    candidates = ([Path(recorded), Path(model_dir) / Path(recorded).name] if recorded else []) \
        + sorted(Path(model_dir).glob("*.pt"))
    return next((str(p) for p in candidates if p.is_file()), None)


def load(model_dir: Path):
    """(model in eval mode, where its weights came from)."""
    from training.checkpoint import load_model
    from training.model import build

    checkpoint = weights_source(model_dir)
    if checkpoint:
        model, _ = load_model(checkpoint)
        return model, checkpoint
    config = Manifest.load(model_dir).training.get("model")
    if not config:
        raise ValueError(f"{model_dir}: no checkpoint and no training.model config in the manifest")
    return build(config).eval(), f"random weights, architecture {config} from the manifest"


def _prepare(mode: str, model):
    import torch

    if mode == "compile":
        return torch.compile(model)
    if mode == "ipex":
        import intel_extension_for_pytorch as ipex
        return ipex.optimize(model, dtype=torch.float32)
    return model


def measure(spec: dict, budget: Budget) -> dict:
    """Worker side: tiles/s and latency of the PyTorch model in one mode at one batch."""
    import torch

    from training.model import Probabilities

    threads = spec.get("threads") or physical_cores()
    torch.set_num_threads(threads)
    model, source = load(Path(spec["model_dir"]))
    model = _prepare(spec["mode"], Probabilities(model).eval())
    tiles = torch.from_numpy(np.load(spec["tiles"])[:spec["batch"]])
    latencies: list[float] = []

    def call():
        started = time.perf_counter()
        with torch.no_grad():
            model(tiles.float())
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    call()                                    # the first call compiles (torch.compile, IPEX)
    first_call_s = time.perf_counter() - started
    result = run_windows(call, lambda: None, latencies, spec["batch"], budget)
    result.update(first_call_s=round(first_call_s, 3), weights=source, torch=torch.__version__,
                  properties={"intra_op_threads": torch.get_num_threads(),
                              "inter_op_threads": torch.get_num_interop_threads()})
    if spec["mode"] == "ipex":
        import intel_extension_for_pytorch as ipex
        result["ipex"] = ipex.__version__
    return result


def gflop_per_tile(model_dir: Path, tile: int) -> dict:
    """GFLOP of one tile through the model (torch's FlopCounterMode: 2 FLOP per multiply-accumulate)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from training.model import Probabilities

    model, source = load(model_dir)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        Probabilities(model)(torch.zeros(1, 6, tile, tile))
    by_op = {str(op): n / 1e9 for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return {"gflop_per_tile": counter.get_total_flops() / 1e9, "by_op": by_op,
            "parameters": sum(p.numel() for p in model.parameters()), "weights": source}


# --- rows (orchestrator side) -------------------------------------------------

NAMES = {"eager": "PyTorch eager FP32", "compile": "PyTorch torch.compile FP32", "ipex": "PyTorch + IPEX FP32"}
IPEX_VENV = Path(__file__).resolve().parents[1] / ".venv-ipex"


def ipex_python() -> str | None:
    """An interpreter with IPEX: this one if it has it, else .venv-ipex's (built by training/ipex/setup.sh)."""
    import importlib.util
    import sys

    if importlib.util.find_spec("intel_extension_for_pytorch") is not None:
        return sys.executable
    candidate = IPEX_VENV / "bin" / "python"
    return str(candidate) if candidate.exists() else None


def rows(ctx) -> list[dict]:
    """Every mode (eager, compile, IPEX) at every batch, each in a worker; a row that cannot run says why."""
    from bench import worker
    from bench.plan import QUICK_SKIP, fail, new_row

    out = []
    for mode in MODES:
        python = ipex_python() if mode == "ipex" else None
        for batch in ctx.plan.batches:
            row = new_row("runtime", NAMES[mode], runtime="pytorch", precision="fp32", variant=mode,
                          executes_in="f32", hint=None, batch=batch, tile=ctx.manifest.tile, ir_mb=None,
                          score_of="fp32")
            out.append(row)
            if mode == "ipex" and python is None:
                row["status"] = "not installed (build .venv-ipex with training/ipex/setup.sh)"
                continue
            if mode == "compile" and batch not in ctx.plan.compile_batches:
                row["status"] = QUICK_SKIP + ": compiling takes tens of seconds per shape"
                continue
            ctx.progress("measuring", model=ctx.name, row=row["name"], batch=batch)
            spec = {"kind": "torch", "mode": mode, "model_dir": str(ctx.model_dir), "batch": batch,
                    "tiles": str(ctx.tiles), "budget": vars(ctx.plan.torch_budget)}
            try:
                row.update(worker.run(spec, python, timeout=ctx.plan.timeout_s))
                row["status"] = "measured"
            except Exception as exc:   # one broken row must not lose the rest of the table
                fail(row, exc)
    return out
