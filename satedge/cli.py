"""The `satedge` console script: a registry of subcommands, imported lazily.

Each subcommand lives in the package that owns the job, as a module with
`add_arguments(parser)` and `run(args) -> int`. Only the chosen module is
imported, so `satedge onboard` never pays for torch and `satedge --help` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from typing import NoReturn

from satedge import __version__, logs
from satedge.errors import UserError


@dataclass(frozen=True)
class Command:
    """A subcommand: the module that implements it, imported only when it is the one chosen."""

    module: str
    help: str


COMMANDS: dict[str, Command] = {}


def register(name: str, module: str, help: str) -> None:
    """Add a subcommand; nothing is imported until it is chosen."""
    COMMANDS[name] = Command(module, help)


# name, module (in the package that owns the job), one-line help: the whole command line.
register("scenes", "sim.scenes.cli", "generate synthetic disaster scenes (xBD layout and GeoTIFF)")
register("realism", "sim.scenes.realism", "how far generated scenes are from real ones: image and building statistics")
register("train", "training.train", "train the damage U-Net on a folder in the xBD layout")
register("sweep", "training.sweep", "learning-rate x optimizer sweep, scored by validation xView2 score")
register("evaluate", "training.evaluate",
         "xView2 score of a checkpoint or an IR on full scenes, or localisation F1 against real footprints")
register("predict", "predict.cli", "the satellite's damage assessment on your own imagery: rasters, polygons, overlay")
register("guard", "predict.guard_cli", "calibrate a model's out-of-distribution guard on held-out synthetic scenes")
register("export", "training.export", "export a checkpoint to OpenVINO IR (FP32 and FP16) with its manifest")
register("quantize", "training.quantize", "INT8 quantization of an exported model with NNCF or INC")
register("bench", "bench", "the performance table: PyTorch, OpenVINO FP32/FP16/INT8, the daemon, side by side")
register("onboard", "onboard.cli", "run the satellite daemon")
register("ground", "ground.cli", "run the ground station")
register("command", "ground.command", "queue an uplink command for the satellites")
register("report", "ground.report", "plots and GeoJSON from a ground store")
register("camera", "sim.camera", "the satellite's camera feed: stage a scenario's scenes, drop them in the inbox")
register("sim", "sim.cli", "run a whole satellite + ground simulation and write its report")
register("mission", "sim.mission_cli", "run one part of a scenario on its own host (ground, satellite, control)")
register("keys", "satedge.keys", "make CURVE key pairs for the ground station and its satellites")


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage dump) and exits 2."""

    def error(self, message: str) -> NoReturn:  # noqa: D102 - argparse hook
        self.exit(2, f"{self.prog}: error: {message}\n")


def _common_options() -> OneLineParser:
    common = OneLineParser(add_help=False)
    common.add_argument("--log-format", choices=("text", "json"), default=None,
                        help="text lines (default) or JSON lines; env SATEDGE_LOG_FORMAT")
    common.add_argument("--log-level", default=None,
                        choices=("debug", "info", "warning", "error"),
                        help="default info; env SATEDGE_LOG_LEVEL")
    return common


def _chosen(argv: list[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg
    return None


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The whole command line; only the subcommand named in `argv` imports its module."""
    parser = OneLineParser(prog="satedge", description="Onboard damage assessment for Earth-observation satellites.")
    parser.add_argument("--version", action="version", version=f"satedge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    chosen = _chosen(argv)
    common = _common_options()
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help, parents=[common])
        if name == chosen:
            module = importlib.import_module(command.module)
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; a `UserError` is one line on stderr and exit status 2, never a traceback."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    prog = f"satedge {args.command}"
    try:
        logs.setup(args.log_format, args.log_level)
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
