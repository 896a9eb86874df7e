"""`onboard/` (and `predict/`, which runs its parts) never imports torch, not even indirectly (the edge footprint)."""

import subprocess
import sys

from tests.conftest import REPO

MODULES = ["onboard", "onboard.cli", "onboard.daemon", "onboard.engine", "onboard.ingest", "onboard.pipeline",
           "onboard.postprocess", "onboard.spool", "onboard.downlink", "onboard.commands", "onboard.telemetry",
           "onboard.config", "satedge.protocol", "onboard.manifest", "onboard.tiling", "onboard.guard",
           "predict.cli", "predict.run", "predict.localisation", "predict.guard_cli"]


def test_no_onboard_module_imports_torch():
    code = ("import sys\n" + "".join(f"import {m}\n" for m in MODULES)
            + "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
            + "print(bad)\nassert 'openvino' in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
