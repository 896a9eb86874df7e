"""Issue 16, rows 2, 7 and 13: what a clumsy operator or camera does to the inbox, against a real ground
station and a real satellite daemon (processes). Nothing is left unsaid, nothing summarised twice, no new
scene lost."""

from __future__ import annotations

import os

import pytest

from onboard.spool import spooled_count

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(300)]


def test_a_new_scene_under_a_used_name_is_summarised(pair, geo):
    """Row 2: the spool knew scenes by file name, so a new scene published under a name used before was
    deleted unprocessed. It is summarised; the very same file published again is skipped, with a log line."""
    p = pair()
    p.start_ground()
    p.start_sat()
    p.inbox.mkdir(parents=True, exist_ok=True)
    geo.scene(p.inbox, "pass", seed=1, acquired=1_800_000_000.0)
    p.wait(lambda: len(p.stored_scenes()) == 1, "the first scene")
    geo.scene(p.inbox, "pass", col=300, row=300, seed=2, acquired=1_800_000_600.0)   # the next pass, same name
    p.wait(lambda: len(p.stored_scenes()) == 2, "the new scene under the old name")
    copy = geo.scene(p.inbox, "pass", col=300, row=300, seed=2, acquired=1_800_000_600.0)   # the same, again
    p.wait(lambda: not copy.exists() and p.sat.events("scene skipped: it was summarised before"),
           "the copy skipped")
    assert len(p.stored_scenes()) == 2


def test_non_regular_inbox_entries_are_quarantined_with_a_reason(pair, geo):
    """Row 13: a folder named x.tif, a dangling symlink and a FIFO were left in the inbox with no log line.
    Each is quarantined with a reason and logged; the scene beside them is summarised."""
    p = pair()
    p.inbox.mkdir(parents=True)
    (p.inbox / "x.tif").mkdir()
    (p.inbox / "dangling.tif").symlink_to(p.tmp / "gone.tif")
    os.mkfifo(p.inbox / "pipe.tif")
    geo.scene(p.inbox, "good", seed=3)
    p.start_ground()
    p.start_sat()
    p.wait(lambda: p.stored_scenes() == ["good"] and len(p.sat.events("scene quarantined")) == 3,
           "the scene stored and three entries quarantined")
    reasons = {e["file"]: e["reason"] for e in p.sat.events("scene quarantined")}
    assert "a folder" in reasons["x.tif"] and "a FIFO" in reasons["pipe.tif"]
    assert "symbolic link" in reasons["dangling.tif"]
    quarantine = p.inbox.parent / "quarantine"
    assert {f.name for f in quarantine.glob("*.reason")} == {"x.tif.reason", "dangling.tif.reason", "pipe.tif.reason"}
    assert sorted(f.name for f in p.inbox.iterdir() if not f.name.startswith(".")) == []


def test_a_second_daemon_on_the_same_spool_and_inbox_is_refused(pair, geo):
    """Row 7: two daemons on one spool and inbox both ran (8 scenes, 16 summaries). The second exits at once
    with one line naming the first; the first summarises each scene once."""
    p = pair()
    p.start_ground()
    p.start_sat()
    second = p.start_sat(wait=False, name="second")
    assert second.proc.wait(60) == 2
    assert "is in use by another onboard daemon" in second.log() and len(second.log().strip().splitlines()) == 1
    another_inbox = p.start_sat(wait=False, name="third", spool={"path": str(p.tmp / "other.sqlite")})
    assert another_inbox.proc.wait(60) == 2 and "inbox" in another_inbox.log()
    p.inbox.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        geo.scene(p.inbox, f"s{i}", col=60 * i, row=40 * i, seed=i)
    p.wait(lambda: len(p.stored_scenes()) == 4 and spooled_count(p.spool) == 0, "the scenes delivered")
    assert sorted(p.stored_scenes()) == ["s0", "s1", "s2", "s3"]
