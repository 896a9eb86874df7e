"""Issue 16, row 8: the spool on a full disk (a real, small tmpfs), with a real daemon and ground station.
The daemon used to exit with a traceback after quarantining the good scene in hand with an empty reason.
It stops with one clear line, the scene stays in the inbox, and once there is room it is delivered."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(300)]


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs (needs root, as in CI's container); skipped with the reason where it cannot be mounted."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write until the file system says it is full."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def test_a_full_spool_disk_stops_the_daemon_in_one_line_and_loses_no_scene(pair, geo, small_disk):
    p = pair(onboard={"spool": {"path": str(small_disk / "spool.sqlite")}})
    p.spool = small_disk / "spool.sqlite"
    p.start_ground()
    p.start_sat()
    filler = fill(small_disk)
    p.inbox.mkdir(parents=True, exist_ok=True)
    geo.scene(p.inbox, "good", seed=4)
    assert p.sat.proc.wait(120) == 1
    log = p.sat.log()
    stops = p.sat.events("stopping: the spool cannot be written; the scene stays in the inbox")
    assert len(stops) == 1 and "full" in stops[0]["error"] and stops[0]["file"] == "good.tif", log[-2000:]
    assert "Traceback" not in log, log[-3000:]
    assert (p.inbox / "good.tif").is_file()
    assert not (p.inbox.parent / "quarantine").exists() or not list((p.inbox.parent / "quarantine").iterdir())
    filler.unlink()
    p.start_sat()
    p.wait(lambda: p.stored_scenes() == ["good"] and p.spooled() == 0, "the scene delivered once there is room")


def test_a_full_store_disk_stops_the_ground_in_one_line_and_loses_no_summary(pair, geo, small_disk):
    """The ground's half: its store on a full disk. It stops with one line; what it acknowledged is in the store,
    the rest waits in the satellite's spool and is delivered once there is room."""
    p = pair(ground={"store": {"path": str(small_disk / "ground.sqlite")}})
    p.store = small_disk / "ground.sqlite"
    p.start_ground()
    p.start_sat()
    p.inbox.mkdir(parents=True, exist_ok=True)
    geo.scene(p.inbox, "first", seed=5)
    p.wait(lambda: p.stored_scenes() == ["first"] and p.spooled() == 0, "the first scene stored")
    filler = fill(small_disk)
    geo.scene(p.inbox, "second", col=300, row=300, seed=6)
    assert p.ground.proc.wait(120) == 2
    lines = p.ground.log().strip().splitlines()
    assert "cannot be written" in lines[-1] and "Traceback" not in p.ground.log(), lines[-5:]
    assert p.spooled() == 1                      # not acknowledged, so still the satellite's
    filler.unlink()
    p.start_ground()
    p.wait(lambda: sorted(p.stored_scenes()) == ["first", "second"] and p.spooled() == 0, "the second stored")
