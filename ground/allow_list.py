"""The CURVE allow-list: which satellite keys may connect, and which id each key may speak for.

The ZAP handler admits any key in `<keys_dir>/satellites/`, but a key is a
satellite's identity only together with its file name: a key may speak only
for the id it is filed under, or one satellite could pose as another. The
folder is re-read when it changes, so a constellation scaled up while the
station runs (each new replica making its key) is admitted without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import zmq.auth

from satedge import keys
from satedge.errors import UserError
from satedge.logs import event

# Every station event keeps the one logger name it always had: readers of the log select by it.
log = logging.getLogger("ground.station")


def key_owners(allow_dir: Path) -> dict[str, str]:
    """z85 public key -> satellite id, from the allow-list's file names."""
    owners = {}
    for path in sorted(allow_dir.glob("*.key")):
        try:
            public, _ = zmq.auth.load_certificate(str(path))
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read CURVE public key {path}: {exc}") from None
        owners[public.decode("ascii")] = path.stem
    if not owners:
        event(log, "the CURVE allow-list is empty: no satellite can connect", logging.WARNING,
              allow_list=str(allow_dir))
    return owners


class AllowList:
    """The allow-list as last read; `configure` hands a changed folder to the ZAP handler."""

    def __init__(self, keys_dir: Path, configure: Callable[[Path], None]):
        self.dir = keys.allow_list_dir(keys_dir)
        self.configure = configure
        self.owners: dict[str, str] = {}
        self.stamp: int | None = None

    def refresh(self) -> None:
        """(Re)read the allow-list if its folder changed since the last read; a bad key file is a UserError."""
        stamp = self.dir.stat().st_mtime_ns if self.dir.exists() else None
        if stamp == self.stamp:
            return
        self.stamp = stamp
        self.owners = key_owners(self.dir)
        self.configure(self.dir)
        event(log, "allow-list loaded", satellites=sorted(self.owners.values()))

    def reload(self) -> None:
        """`refresh` while running: a key being written right now is read again next time, not fatal."""
        try:
            self.refresh()
        except UserError as exc:
            self.stamp = None
            event(log, "allow-list not reloaded", logging.WARNING, error=str(exc))

    def speaks_for(self, user_id: object, sat_id: str) -> bool:
        """Whether the connection's CURVE key (its ZAP User-Id) is filed under `sat_id`."""
        return isinstance(user_id, str) and self.owners.get(user_id) == sat_id
