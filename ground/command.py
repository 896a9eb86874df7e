"""`satedge command NAME VALUE [--db FILE | --config FILE] [--sat ID]`: queue an uplink command.

The store is the queue: the command is committed to the station's SQLite file
(the id comes from the store, so ids keep increasing across restarts of
either side) and the running station picks it up within a second and sends
it in the current or next window. So this runs where the store is (for a
container: `docker compose exec ground satedge command ...`); there is no
network control port to secure. `satedge command list` shows the queue and
the satellites' answers.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ground.config import GroundConfig
from ground.store import connect, queue_command
from satedge import config as satedge_config
from satedge.errors import UserError
from satedge.vocabulary import PRECISIONS


@dataclass(frozen=True)
class Uplink:
    """A CLI verb: the protocol command it queues and how its one argument becomes `args`."""

    name: str
    metavar: str
    help: str
    args: Callable[[str], dict[str, object]]


def _precision(value: str) -> dict[str, object]:
    if value not in PRECISIONS:
        raise UserError(f"unknown precision {value!r}: choose one of {', '.join(PRECISIONS)}")
    return {"precision": value}


def _min_class(value: str) -> dict[str, object]:
    try:
        cls = int(value)
    except ValueError:
        cls = 0
    if not 1 <= cls <= 4:
        raise UserError(f"set-min-class takes a class from 1 to 4, got {value!r}")
    return {"cls": cls}


UPLINKS: dict[str, Uplink] = {
    "set-precision": Uplink("set_precision", "PRECISION", f"swap the onboard model ({'|'.join(PRECISIONS)})",
                            _precision),
    "set-min-class": Uplink("set_min_class", "CLASS", "lowest damage class listed per building (1..4)", _min_class),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One sub-verb per uplink, each with the same choice of where the store is."""
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, uplink in UPLINKS.items():
        p = verbs.add_parser(verb, help=uplink.help, description=uplink.help)
        p.add_argument("value", metavar=uplink.metavar)
        p.add_argument("--sat", default=None, metavar="ID", help="only this satellite (default: every one)")
        _store_options(p)
    _store_options(verbs.add_parser("list", help="queued commands and the satellites' answers"))


def _store_options(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument("--db", type=Path, default=None, help="the station's store (SQLite file)")
    where.add_argument("--config", type=Path, default=None,
                       help="the station's TOML configuration: its store.path (default: built-in defaults)")


def _db_path(args: argparse.Namespace) -> Path:
    db: Path | None = args.db
    if db is not None:
        return db
    return satedge_config.load(GroundConfig, args.config).store.path


def queue(path: Path, verb: str, value: str, sat: str | None = None) -> str:
    """Check `value` for `verb`, commit the command to the store's queue, and say so in one line.

    The CLI and the web console both queue through here; a bad value is a `UserError`.
    """
    uplink = UPLINKS.get(verb)
    if uplink is None:
        raise UserError(f"unknown command {verb!r}: choose one of {', '.join(UPLINKS)}")
    cmd_args = uplink.args(value)
    db = connect(path)
    try:
        cmd_id = queue_command(db, uplink.name, cmd_args, sat)
    finally:
        db.close()
    return f"queued command {cmd_id}: {uplink.name} {json.dumps(cmd_args)} for {sat or 'every satellite'}"


def run(args: argparse.Namespace) -> int:
    """Queue into the store (the store is the queue: no control port to secure), or list it."""
    path = _db_path(args)
    if args.verb == "list":
        return _list(path)
    print(f"{queue(path, args.verb, args.value, args.sat)} in {path}")
    return 0


def _list(path: Path) -> int:
    db = connect(path, create=False)
    try:
        rows = db.execute(
            "SELECT c.id, c.name, c.args, c.target, r.satellite, r.sent, r.ok, r.detail FROM commands c"
            " LEFT JOIN command_results r ON r.cmd_id = c.id ORDER BY c.id, r.satellite").fetchall()
    finally:
        db.close()
    for r in rows:
        state = "not sent yet" if r["satellite"] is None else (
            f"{r['satellite']}: sent {r['sent']}x, " + ("no answer" if r["ok"] is None else
                                                      f"ok={bool(r['ok'])} {r['detail']}"))
        print(f"{r['id']:4d} {r['name']} {r['args']} -> {r['target'] or 'all'}: {state}")
    return 0
