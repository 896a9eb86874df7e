"""One daemon per spool and inbox (issue 16 row 7): the second gets a one-line error naming the holder."""

from __future__ import annotations

import os

import pytest

from onboard import lock
from satedge.errors import UserError


def test_a_second_holder_is_refused_until_the_first_releases(tmp_path):
    path = lock.spool_lock(tmp_path / "spool.sqlite")
    first = lock.Held(path, "spool x")
    with pytest.raises(UserError, match=rf"spool x is in use by another onboard daemon \(pid {os.getpid()}\)"):
        lock.Held(path, "spool x")
    first.release()
    lock.Held(path, "spool x").release()
