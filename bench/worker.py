"""One measurement in a process of its own: `python -m bench.worker SPEC_JSON`.

A row's peak RSS is then that of a process that only loaded and ran that
model (and an OpenVINO row's process never imports torch). Prints one JSON
line: the measurement, the thread settings and `peak_rss_mb`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.timing import Budget
from satedge.processes import peak_rss_mb

REPO = Path(__file__).resolve().parents[1]

# spec["kind"] -> "module:function" measuring it (imported only in the worker that needs it)
MEASURES = {
    "openvino": "bench.ov_rows:measure",
    "torch": "bench.pytorch:measure",
    "stages": "bench.stages:measure",
    "ceiling": "bench.ceilings:measure",
}


class WorkerFailed(Exception):
    """The worker exited non-zero; the message is its last error line."""


def main(argv: list[str]) -> int:
    """Run the JSON spec `argv[0]`'s measurement; print it as one JSON line with `peak_rss_mb` and `torch_loaded`."""
    import importlib

    spec = json.loads(argv[0])
    module, function = MEASURES[spec["kind"]].split(":")
    measure = getattr(importlib.import_module(module), function)
    result = measure(spec, Budget(**spec["budget"]))
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["torch_loaded"] = "torch" in sys.modules
    print(json.dumps(result))
    return 0


def run(spec: dict, python: str | None = None, timeout: float = 900.0) -> dict:
    """Run one measurement in a fresh interpreter (`python`, default this one); its result as a dict."""
    done = subprocess.run([python or sys.executable, "-m", "bench.worker", json.dumps(spec)],
                          capture_output=True, text=True, cwd=REPO, timeout=timeout)
    if done.returncode:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise WorkerFailed(lines[-1] if lines else f"worker exited {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
