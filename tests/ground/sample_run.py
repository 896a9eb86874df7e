"""A real run for the docs: the station as a subprocess, one test satellite, a few passes, then the report.

    .venv/bin/python -m tests.ground.sample_run --out docs/img

The satellite (tests/ground/minisat.py) acquires synthetic scenes in simulated
time, queues their summaries by priority (docs/protocol.md: lowest first, then
oldest), sends within credit and resends until acked; midway a
`set-precision fp32` command is queued through the CLI and answered.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from ground.report import write_report
from tests.conftest import run_cli
from tests.ground.conftest import StationProcess, write_config
from tests.ground.minisat import MiniSat, pack

SPEEDUP = 600.0
PERIOD_S, WINDOW_S, RATE_BPS = 5400.0, 480.0, 32.0


def scene_summary(rng: random.Random, i: int, acq: float) -> tuple[int, dict]:
    lon0, lat0 = 30.40 + 0.012 * (i % 8), 50.40 + 0.012 * (i // 8)
    worst = rng.choice([1, 2, 2, 3, 3, 4])  # how hard the disaster hit this scene
    classes = rng.choices([1, 2, 3, 4][:worst], weights=[8, 3, 2, 1][:worst], k=rng.randint(10, 70))
    rows = [[rng.randint(0, 12000), rng.randint(0, 12000), c, rng.randint(40, 900), rng.randint(55, 99)]
            for c in classes if c >= 2]
    n = [classes.count(c) for c in (1, 2, 3, 4)]
    prio = 0 if n[3] else 1 if n[2] else 2 if n[1] else 3
    return prio, {"scene": f"flood-{i:03d}", "acq": acq, "bbox": [lon0, lat0, lon0 + 0.012, lat0 + 0.012],
                  "model": "unet-w16", "prec": "int8", "raw": 2 * 1024 * 1024 * 3, "n": n, "b": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--periods", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(3)
    work = Path(tempfile.mkdtemp(prefix="ground-sample-"))
    now = time.time()
    sim = lambda: now + (time.time() - now) * SPEEDUP  # noqa: E731  the run's shared clock
    config = write_config(work / "ground.toml", {
        "clock": {"epoch": now, "start": now, "speedup": SPEEDUP},
        "security": {"mode": "none"},
        "station": {"bind": "tcp://127.0.0.1:7791"},
        "link": {"period_s": PERIOD_S, "window_s": WINDOW_S, "offset_s": 1800.0, "rate_bps": RATE_BPS,
                 "cmd_retry_s": 120.0},
        "store": {"path": "ground.sqlite"}, "log": {"status_interval_s": 600.0}})
    station = StationProcess(config, work / "ground.log").start()
    sat = MiniSat("tcp://127.0.0.1:7791", "sat-1")
    try:
        spool: dict[int, tuple[int, float, bytes]] = {}  # seq -> (prio, acq, frame)
        next_acq, seq, commanded = now + 300.0, 0, False
        end = now + args.periods * PERIOD_S + 1800.0 + WINDOW_S
        while sim() < end:
            if sim() >= next_acq:  # a scene every ~10 minutes of simulated time
                seq += 1
                prio, body = scene_summary(rng, seq, next_acq)
                spool[seq] = (prio, next_acq, pack("summary", seq=seq, prio=prio, body=body))
                next_acq += rng.uniform(300.0, 900.0)
            if not commanded and sim() > now + PERIOD_S + 2400.0:
                run_cli("command", "set-precision", "fp32", "--db", str(work / "ground.sqlite"))
                commanded = True
            sat.commands = [c for c in sat.commands  # answered as soon as credit allows
                            if not sat.spend(pack("cmd_result", id=c["id"], ok=True,
                                                  detail=f"{c['args']['precision']} serving"))]
            order = sorted((p, a, s) for s, (p, a, _) in spool.items() if s not in sat.acked)
            sat.step({s: spool[s][2] for _, _, s in order[:5]}, resend_after_s=0.2)
    finally:
        sat.close()
        station.stop()
    report = write_report(work / "ground.sqlite", work / "report")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in report["plots"]:
        shutil.copy(work / "report" / name, args.out / name)
    shutil.copy(work / "report" / "report.json", args.out / "sample-report.json")
    print(f"{report['summaries']} of {seq} summaries received; bytes {report['bytes']}; "
          f"latency {report['latency_s']}; work dir {work}")


if __name__ == "__main__":
    main()
