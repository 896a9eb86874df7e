"""`satedge sim [--config FILE] [--duration SIM_SECONDS] [--speedup X] [--out DIR]`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from satedge import config as satedge_config
from satedge.errors import UserError
from sim.config import DEFAULT_SCENARIO, SimConfig


def add_arguments(parser) -> None:
    """Options of `satedge sim`: the scenario file and overrides of its duration, speedup and run folder."""
    parser.add_argument("--config", type=Path, default=DEFAULT_SCENARIO,
                        help=f"scenario file (default: {DEFAULT_SCENARIO.name}, documented there)")
    parser.add_argument("--duration", type=float, default=None, metavar="SIM_SECONDS",
                        help="stop after this much simulated time (default: when every scene is delivered "
                             "or the drain time is over)")
    parser.add_argument("--speedup", type=float, default=None, help="simulated seconds per wall second")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: out/sim-<time>)")
    parser.add_argument("--check-config", action="store_true", help="validate and print the scenario")


def _status_line():
    tty = sys.stderr.isatty()

    def show(line: str) -> None:
        if tty:
            sys.stderr.write("\r\033[K" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
    return show


def run(args) -> int:
    """Run the scenario and its processes, print summary.md; exit code 1 unless every acquired scene arrived."""
    from sim.run import simulate

    overrides = {}
    if args.speedup is not None:
        if args.speedup <= 0:
            raise UserError(f"--speedup must be positive, got {args.speedup}")
        overrides["clock"] = {"speedup": args.speedup}
    if args.duration is not None and args.duration <= 0:
        raise UserError(f"--duration must be positive, got {args.duration}")
    config = satedge_config.load(SimConfig, args.config, overrides=overrides)
    if args.check_config:
        print(json.dumps(config.effective(), indent=2))
        return 0
    out = args.out or Path("out") / time.strftime("sim-%Y%m%d-%H%M%S")
    summary = simulate(config, out, args.duration, status=_status_line())
    sys.stderr.write("\n")
    print(Path(out, "summary.md").read_text())
    return 0 if summary["met"] else 1
