"""`satedge ground [--config FILE] [--check-config]`: run the ground station until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path
from types import FrameType

from ground.config import GroundConfig
from satedge import config as satedge_config
from satedge import health, logs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`satedge ground`'s options: the file, and the two ways to look without running."""
    parser.add_argument("--config", type=Path, default=None, help="TOML file (default: built-in defaults)")
    parser.add_argument("--check-config", action="store_true",
                        help="validate and print the effective configuration, then exit")
    health.add_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Run the station until SIGTERM/SIGINT, which stop it cleanly (exit 0: the window's totals are written)."""
    cfg = satedge_config.load(GroundConfig, args.config)
    if args.check_config:
        print(json.dumps(cfg.effective(), indent=2))
        return 0
    if args.health:
        return health.check(cfg.store.path, cfg.log.status_interval_s)
    logs.setup(args.log_format or cfg.log.format, args.log_level or cfg.log.level, cfg.log.file)  # flags win
    from ground.station import Station

    station = Station(cfg)

    def stop(signum: int, frame: FrameType | None) -> None:
        station.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    station.run()
    return 0
