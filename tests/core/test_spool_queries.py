"""The spool's read-only queries (what tests and mission control read of a spool another process owns)."""

from __future__ import annotations

import time

import pytest

from onboard.spool import Spool, spooled_bodies, spooled_count, spooled_sources, state
from satedge.errors import UserError


def body(scene: str) -> dict:
    return {"scene": scene, "acq": 1.0, "bbox": [0.0, 0.0, 1.0, 1.0], "model": "m", "prec": "fp32",
            "raw": 1, "n": [0, 0, 0, 1], "b": [[0, 0, 4, 1, 50]]}


def test_no_spool_yet_is_nothing_not_an_error(tmp_path):
    path = tmp_path / "missing.sqlite"
    assert (spooled_count(path), spooled_sources(path), spooled_bodies(path), state(path, "last_cmd")) == \
        (0, set(), [], None)
    empty = tmp_path / "empty.sqlite"
    empty.touch()   # created, schema not committed yet
    assert (spooled_sources(empty), spooled_bodies(empty), state(empty, "last_cmd")) == (set(), [], None)
    assert not path.exists()


def test_queries_see_what_the_spool_committed(tmp_path):
    path = tmp_path / "s.sqlite"
    spool = Spool(path)
    try:
        seqs = [spool.add(prio, body(scene), source=f"{scene}.tif") for scene, prio in [("a", 3), ("b", 0), ("c", 1)]]
        spool.add(2, body("d"))   # no source file (a test's summary)
        assert seqs == [1, 2, 3]
        assert spooled_count(path) == 4
        assert [b["scene"] for b in spooled_bodies(path)] == ["a", "b", "c", "d"]   # oldest first, not by prio
        assert spooled_bodies(path)[0] == body("a")
        assert spooled_sources(path) == {"a.tif", "b.tif", "c.tif"}

        spool.ack([1, 2])
        assert [b["scene"] for b in spooled_bodies(path)] == ["c", "d"]
        assert spooled_sources(path) == {"a.tif", "b.tif", "c.tif"}   # acked scenes stay known: never summarised again

        assert state(path, "last_cmd") is None
        spool.finish_command(7, True, "done")
        spool.set("precision", "fp16")
        assert state(path, "last_cmd") == 7 and state(path, "next_seq") == 5
        assert state(path, "precision") == "fp16"
    finally:
        spool.close()


def test_queries_see_only_what_is_committed_while_the_daemon_writes(tmp_path):
    path = tmp_path / "s.sqlite"
    spool = Spool(path)
    try:
        spool.add(0, body("a"), source="a.tif")
        with spool._transaction():   # the daemon in the middle of spooling a summary
            spool.db.execute("INSERT INTO sources (name, seq) VALUES ('b.tif', 2)")
            started = time.monotonic()
            assert spooled_sources(path) == {"a.tif"} and [b["scene"] for b in spooled_bodies(path)] == ["a"]
            assert time.monotonic() - started < 5.0   # beside the writer (WAL), not after a busy timeout
        assert spooled_sources(path) == {"a.tif", "b.tif"}
    finally:
        spool.close()


def test_a_file_that_is_not_a_spool_is_a_user_error(tmp_path):
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"not a database, " * 512)
    for query in (spooled_sources, spooled_bodies, lambda p: state(p, "last_cmd")):
        with pytest.raises(UserError, match="cannot read spool"):
            query(path)
