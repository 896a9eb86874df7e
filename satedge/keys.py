"""CURVE keys: where they live, how they are made, how sockets use them.

Layout of `security.keys_dir` (made by `satedge keys`):

    ground.key, ground.key_secret         the ground station's pair
    satellites/<sat-id>.key               each satellite's public key: the ground's allow-list
    satellites/<sat-id>.key_secret        each satellite's pair (only its own goes to a satellite)
    claims/<sat-id>.lock                  held by the replica running as that id (`satedge keys --claim`)

The ground is the CURVE server and accepts only the public keys in
`satellites/`; a satellite pins `ground.key` as its server key.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import zmq
import zmq.auth

if TYPE_CHECKING:
    from zmq.auth.thread import ThreadAuthenticator

from satedge.errors import UserError
from satedge.logs import event

log = logging.getLogger("satedge.keys")

GROUND = "ground"
SATELLITES = "satellites"
SAT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")   # as `satellite.id` (onboard/config.py): a file name, no path


def make(out: Path, satellites: list[str], overwrite: bool = False) -> list[Path]:
    """Create the ground pair and one pair per satellite id; keep existing pairs unless told."""
    out = Path(out)
    for sat in satellites:
        if not SAT_ID.match(sat):
            raise UserError(f"satellite id {sat!r} must be 1-64 letters, digits, '.', '_' or '-'")
    try:
        (out / SATELLITES).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out}: {exc.strerror}") from None
    made = []
    for folder, name in [(out, GROUND)] + [(out / SATELLITES, sat) for sat in satellites]:
        public = folder / f"{name}.key"
        if public.exists() and not overwrite:
            continue
        zmq.auth.create_certificates(str(folder), name)
        made.append(public)
    return made


def claim(keys_dir: Path, limit: int = 1000) -> tuple[str, int]:
    """The lowest satellite id nobody holds, with its key pair: `(id, fd of its held lock)`.

    Replicas of one service share `keys_dir`; each holds an exclusive lock on
    `claims/<id>.lock` for as long as it runs (the kernel drops it when the
    process dies). So a restarted or re-created replica takes a free id back,
    with that id's keys and files, and no two running replicas share one. The
    ground re-reads its allow-list, so a new replica's key is admitted while
    the ground runs.
    """
    claims = Path(keys_dir) / "claims"
    try:
        claims.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {claims}: {exc.strerror}") from None
    for i in range(1, limit + 1):
        sat = f"sat-{i}"
        fd = os.open(claims / f"{sat}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        make(keys_dir, [sat])
        return sat, fd
    raise UserError(f"all {limit} satellite ids in {claims} are held")


def _load(path: Path, secret: bool) -> tuple[bytes, bytes | None]:
    try:
        return zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        kind = "secret" if secret else "public"
        raise UserError(f"cannot read CURVE {kind} key {path}: {exc}") from None


def _load_pair(path: Path) -> tuple[bytes, bytes]:
    public, secret = _load(path, True)
    if secret is None:
        raise UserError(f"cannot read CURVE secret key {path}: the file holds no secret key")
    return public, secret


def ground_secret(keys_dir: Path) -> tuple[bytes, bytes]:
    """The ground's (public, secret) pair: only the station's own host holds it."""
    return _load_pair(Path(keys_dir) / f"{GROUND}.key_secret")


def ground_public(keys_dir: Path) -> bytes:
    """The key every satellite pins as its server key."""
    return _load(Path(keys_dir) / f"{GROUND}.key", False)[0]


def satellite_secret(keys_dir: Path, sat_id: str) -> tuple[bytes, bytes]:
    """A satellite's own (public, secret) pair: the only one that goes on board."""
    return _load_pair(Path(keys_dir) / SATELLITES / f"{sat_id}.key_secret")


def allow_list_dir(keys_dir: Path) -> Path:
    """The folder of satellite public keys the ground admits."""
    return Path(keys_dir) / SATELLITES


def secure_client(socket: zmq.Socket[bytes], keys_dir: Path, sat_id: str) -> None:
    """Make `socket` a CURVE client that trusts only the ground's key."""
    public, secret = satellite_secret(keys_dir, sat_id)
    socket.curve_publickey = public
    socket.curve_secretkey = secret
    socket.curve_serverkey = ground_public(keys_dir)


def start_authenticator(context: zmq.Context[zmq.Socket[bytes]], keys_dir: Path) -> ThreadAuthenticator:
    """ZAP handler that admits only the satellites whose public keys are in the allow-list."""
    from zmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(context, log=logging.getLogger("satedge.zap"))
    auth.start()
    auth.configure_curve(domain="*", location=str(allow_list_dir(keys_dir)))
    return auth


def secure_server(socket: zmq.Socket[bytes], keys_dir: Path) -> None:
    """Make `socket` the CURVE server with the ground's pair (the allow-list is `start_authenticator`'s)."""
    public, secret = ground_secret(keys_dir)
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_server = True


# ---- `satedge keys` -------------------------------------------------------

def _run_claimed(keys_dir: Path, command: list[str]) -> int:
    """Replace this process with `command`, which inherits the claimed id's lock."""
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UserError("--claim needs the command to run while the id is held")
    if shutil.which(command[0]) is None:
        raise UserError(f"cannot run {command[0]}: not an executable file or on PATH")
    sat, fd = claim(keys_dir)
    os.set_inheritable(fd, True)
    event(log, "satellite id claimed", sat=sat, command=command[0])
    try:
        os.execvpe(command[0], command, {**os.environ, "SATEDGE_SATELLITE_ID": sat})
    except OSError as exc:
        raise UserError(f"cannot run {command[0]}: {exc.strerror}") from None
    return 1  # not reached: exec replaced the process


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`satedge keys`: make pairs, or claim a free id and run a command under it."""
    parser.add_argument("--out", type=Path, required=True, help="folder to write the keys to")
    parser.add_argument("--satellites", nargs="+", default=["sat-1"], metavar="ID",
                        help="satellite ids to make pairs for (default: sat-1)")
    parser.add_argument("--count", type=int, default=None,
                        help="instead of --satellites: make sat-1 .. sat-N")
    parser.add_argument("--overwrite", action="store_true", help="replace existing pairs")
    parser.add_argument("--claim", nargs=argparse.REMAINDER, metavar="COMMAND", default=None,
                        help="hold the lowest free satellite id (making its pair) and run COMMAND with it "
                             "in SATEDGE_SATELLITE_ID; the id is free again when COMMAND ends")


def run(args: argparse.Namespace) -> int:
    """Make the pairs asked for, keeping existing ones (a satellite's identity outlives a re-run)."""
    if args.claim is not None:
        return _run_claimed(args.out, args.claim)
    satellites = args.satellites
    if args.count is not None:
        if args.count < 1:
            raise UserError(f"--count must be at least 1, got {args.count}")
        satellites = [f"sat-{i}" for i in range(1, args.count + 1)]
    made = make(args.out, satellites, overwrite=args.overwrite)
    print(f"{len(made)} key pairs written to {args.out} (ground + {', '.join(satellites)})")
    return 0
