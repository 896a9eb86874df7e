"""py-spy on the running daemon: which of its Python threads are busy, and in what.

Used when the pipeline misses its efficiency target: py-spy samples the
daemon (attached by pid, non-blocking, active samples only) while it works
through the scenes; per thread, the share of samples it was running and its
hottest frames (innermost first). OpenVINO's own inference threads are native
and not sampled: their time is what benchmark_app measures.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench import scenes as bench_scenes
from bench.daemon import START_TIMEOUT_S, onboard_config
from bench.processes import start
from satedge.processes import Children, free_port

RATE_HZ = 100
LINE = re.compile(r"^thread \((\d+)\): ([^;]*);(.*) (\d+)$")


def executable() -> str | None:
    """py-spy beside this interpreter, else on PATH; None if not installed (the profile then says so)."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def summarise(raw: str, seconds: float, top: int = 6) -> list[dict]:
    """Per thread: share of wall time it was active, and its `top` hottest innermost frames."""
    threads: dict[str, Counter] = {}
    for line in raw.splitlines():
        match = LINE.match(line.strip())
        if not match:
            continue
        _, name, stack, count = match.groups()
        frames = stack.split(";")
        threads.setdefault(name, Counter())[frames[-1]] += int(count)
    expected = seconds * RATE_HZ
    out = []
    for name, frames in threads.items():
        total = sum(frames.values())
        out.append({"thread": name, "active_share": round(total / expected, 3),
                    "hottest": [{"frame": f, "share": round(n / total, 3)} for f, n in frames.most_common(top)]})
    return sorted(out, key=lambda t: -t["active_share"])


def profile(model_dir: Path, precision: str, scene_set: bench_scenes.SceneSet, work: Path, copies: int,
            seconds: float, timeout: float) -> dict:
    """Run the daemon over the scenes again, sampled by py-spy for `seconds` once they are published."""
    spy = executable()
    if spy is None:
        return {"status": "py-spy not installed (pip install py-spy into .venv)"}
    folder = work / f"daemon-profile-{precision}"
    config = onboard_config(folder, model_dir, precision, "THROUGHPUT", scene_set,
                            f"tcp://127.0.0.1:{free_port()}", work / "ov-cache")
    raw = folder / "py-spy.txt"
    with Children() as children:
        daemon = start(children, "onboard", config, folder)
        daemon.wait_event("onboard daemon started", timeout=START_TIMEOUT_S)
        placed = bench_scenes.stage_copies(scene_set, folder / "inbox", copies)
        time.sleep(0.5)     # past the pipeline fill: sample the steady state
        done = subprocess.run([spy, "record", "--pid", str(daemon.proc.pid), "--duration", str(round(seconds)),
                               "--rate", str(RATE_HZ), "--format", "raw", "--threads", "--nonblocking",
                               "-o", str(raw)], capture_output=True, text=True, timeout=seconds + 60)
        daemon.wait_event("scene summarised", len(placed), timeout)
    if done.returncode or not raw.exists():
        return {"status": f"py-spy failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}"}
    return {"status": "measured", "precision": precision, "seconds": round(seconds),
            "threads": summarise(raw.read_text(), round(seconds))}
