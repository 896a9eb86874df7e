"""One daemon per spool and per inbox: an OS lock (flock) held for the daemon's life.

Two daemons on one spool and inbox would each summarise every scene (issue 16, row 7). The lock is the
kernel's, so it is released however the holder ends, kill -9 included: no stale lock file to clean up.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from satedge.errors import UserError


class Held:
    """An exclusive lock on `path`, taken at construction; `release` (or the process's end) gives it back."""

    def __init__(self, path: Path, what: str):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UserError(f"cannot lock {what} ({path}): {exc.strerror}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(self.fd)
            raise UserError(f"{what} is in use by another onboard daemon (pid {holder}): "
                            f"one daemon per spool and inbox") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        """Give the lock back (at shutdown)."""
        os.close(self.fd)


def spool_lock(spool: Path) -> Path:
    """Beside the spool's SQLite file, like its heartbeat."""
    return Path(str(spool) + ".lock")


def inbox_lock(inbox: Path) -> Path:
    """Beside the inbox (where its quarantine goes by default), hidden: the inbox holds only scenes."""
    return inbox.parent / f".{inbox.name}.onboard.lock"
