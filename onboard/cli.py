"""`satedge onboard [--config FILE] [--check-config]`: run (or just validate) the satellite daemon."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from onboard.config import OnboardConfig
from satedge import config, health, logs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The daemon's flags (the registry in satedge/cli.py adds the logging ones)."""
    parser.add_argument("--config", type=Path, default=None,
                        help="TOML configuration (default: built-in defaults; env SATEDGE_<SECTION>_<KEY>)")
    parser.add_argument("--check-config", action="store_true",
                        help="validate and print the effective configuration, then exit")
    health.add_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Validate the configuration, then print it, check health, or run the daemon until it stops."""
    cfg = config.load(OnboardConfig, args.config)
    assert isinstance(cfg, OnboardConfig)   # load returns an instance of the class it is given
    if args.check_config:
        print(json.dumps(cfg.effective(), indent=2))
        return 0
    if args.health:
        return health.check(cfg.spool.path, cfg.log.status_interval_s)
    logs.setup(args.log_format or cfg.log.format, args.log_level or cfg.log.level, cfg.log.file)  # flags win
    from onboard.daemon import Daemon  # heavy imports (openvino, rasterio) only when running
    return Daemon(cfg).run()
