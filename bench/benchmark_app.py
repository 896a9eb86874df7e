"""OpenVINO's own `benchmark_app` on the same IR, hint and shape: the reference the daemon is held to.

`-layout [NCHW]` tells it which dimension is the batch, so its FPS counts
tiles; `-api async` always, as the daemon runs (with the LATENCY hint it
would otherwise call the synchronous API, about half as fast here). The
tiles/s recorded is also recomputed from its iteration count, batch and
duration, and both must agree. Its input is random u8 (it fills
inputs itself): OpenVINO's CPU speed does not depend on pixel values.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

PATTERNS = {
    "fps": r"Throughput:\s+([\d.]+)\s+FPS",
    "count": r"Count:\s+(\d+)\s+iterations",
    "duration_ms": r"Duration:\s+([\d.]+)\s+ms",
    "latency_median": r"Median:\s+([\d.]+\s+(?:ms|us))\b",    # "12.3 ms", or "264.1 us" when short
}


class BenchmarkAppFailed(Exception):
    """benchmark_app is missing, exited non-zero, or printed numbers that do not agree; the message says which."""


def executable() -> str:
    """The benchmark_app beside this interpreter (the openvino wheel's), else the one on PATH."""
    beside = Path(sys.executable).with_name("benchmark_app")
    found = str(beside) if beside.exists() else shutil.which("benchmark_app")
    if not found:
        raise BenchmarkAppFailed("benchmark_app not found (it comes with the openvino wheel)")
    return found


def parse(output: str, batch: int) -> dict:
    """benchmark_app's FPS, count, duration, median latency (ms), and tiles/s recomputed; raises if the rates differ."""
    values = {}
    for name, pattern in PATTERNS.items():
        match = re.search(pattern, output)
        if match is None:
            raise BenchmarkAppFailed(f"benchmark_app printed no {name}")
        values[name] = match.group(1)
    median, unit = values.pop("latency_median").split()
    values = {name: float(value) for name, value in values.items()}
    values["latency_median_ms"] = float(median) / (1000.0 if unit == "us" else 1.0)
    values["tiles_per_s"] = values["count"] * batch / (values["duration_ms"] / 1000.0)
    if abs(values["tiles_per_s"] - values["fps"]) > 0.02 * values["fps"] + 0.01:
        raise BenchmarkAppFailed(f"benchmark_app FPS {values['fps']} disagrees with count x batch / duration "
                                 f"{values['tiles_per_s']:.2f}: is the batch dimension right?")
    return values


def command(xml: Path, batch: int, tile: int, hint: str, seconds: float,
            infer_precision: str | None = None) -> list[str]:
    """benchmark_app's argv for one row: async API, static input shape, NCHW layout so that its FPS counts tiles."""
    cmd = [executable(), "-m", str(xml), "-d", "CPU", "-hint", hint.lower(), "-t", str(max(1, round(seconds))),
           "-api", "async", "-shape", f"[{batch},6,{tile},{tile}]", "-layout", "[NCHW]"]
    if infer_precision:
        cmd += ["-infer_precision", infer_precision]
    return cmd


def measure(xml: Path, batch: int, tile: int, hint: str, seconds: float,
            infer_precision: str | None = None) -> dict:
    """Run benchmark_app once (timeout 4 × `seconds` + 120 s): the parsed numbers and the command line it ran."""
    cmd = command(xml, batch, tile, hint, seconds, infer_precision)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 4 + 120)
    output = done.stdout + done.stderr
    if done.returncode:
        errors = [line for line in output.splitlines() if "ERROR" in line] or output.splitlines()[-1:]
        raise BenchmarkAppFailed(errors[0].strip() if errors else f"exit {done.returncode}")
    result = parse(output, batch)
    result["command"] = " ".join(["benchmark_app", *cmd[1:]])
    return result


# --- rows (orchestrator side) -------------------------------------------------

def row(ctx, precision: str, variant: str, hint: str, batch: int, tile: int | None = None) -> dict:
    """benchmark_app on one OpenVINO row's IR, hint, shape (tile: the manifest's by default) and precision."""
    from bench.ov_rows import LABELS, VARIANT_SUFFIX, infer_precision
    from bench.plan import QUICK_SKIP, fail, new_row

    suffix = VARIANT_SUFFIX[variant]
    result = new_row("benchmark_app", f"benchmark_app {LABELS.get(precision, precision)}{suffix}",
                     precision=precision, variant=variant, hint=hint, batch=batch, tile=tile or ctx.manifest.tile,
                     seconds=ctx.plan.benchmark_app_s)
    if hint not in ctx.plan.benchmark_app_hints:
        result["status"] = QUICK_SKIP + ": THROUGHPUT only, the daemon's reference"
        return result
    ctx.progress("measuring", row=result["name"], hint=hint, batch=batch)
    try:
        result.update(measure(ctx.manifest.ir(precision, verify=False), batch, result["tile"], hint,
                              ctx.plan.benchmark_app_s, infer_precision(precision, variant)))
        result["status"] = "measured"
    except Exception as exc:   # one broken row must not lose the rest of the table
        fail(result, exc)
    return result
