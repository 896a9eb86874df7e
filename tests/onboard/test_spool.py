"""The spool: order, acks, persistence across restarts and `kill -9`, and the policy when full."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys

import pytest

from onboard.spool import Spool
from tests.conftest import REPO


def body(scene: str, extra: int = 0) -> dict:
    return {"scene": scene, "acq": 1.0, "bbox": [0.0, 0.0, 1.0, 1.0], "model": "m", "prec": "fp32",
            "raw": 1, "n": [0, 0, 0, 0], "b": [[0, 0, 2, 1, 50]] * extra}


def test_most_urgent_first_then_oldest(tmp_path):
    spool = Spool(tmp_path / "s.sqlite")
    for scene, prio in [("a", 3), ("b", 1), ("c", 0), ("d", 1), ("e", 2)]:
        spool.add(prio, body(scene))
    assert [s.body["scene"] for s in spool.next_batch(exclude=set())] == ["c", "b", "d", "e", "a"]
    assert [s.seq for s in spool.next_batch(exclude={3, 2})] == [4, 5, 1]
    assert spool.ack([3, 2, 99]) == 2
    assert spool.stats()[0] == 3


def test_seq_state_and_scenes_survive_a_restart(tmp_path):
    spool = Spool(tmp_path / "s.sqlite")
    assert [spool.add(2, body(s), source=f"{s}.tif", identity=f"acq:{s}@1.0") for s in "abc"] == [1, 2, 3]
    spool.ack([1, 2, 3])
    spool.finish_command(7, True, "done")
    spool.set("min_class", 3)
    spool.close()
    again = Spool(tmp_path / "s.sqlite")
    assert again.add(2, body("d")) == 4                       # never reused, even after acks
    assert again.last_cmd == 7 and again.get("min_class") == 3
    assert again.done("acq:a@1.0") and not again.done("acq:zzz@1.0")
    assert again.results() == [(7, True, "done", 0)]
    again.finish_command(5, True, "late")                     # an older id never lowers last_cmd
    assert again.last_cmd == 7
    assert again.inc == spool.inc                             # the incarnation is the file's


def test_a_fresh_spool_is_a_new_incarnation(tmp_path):
    assert Spool(tmp_path / "a.sqlite").inc != Spool(tmp_path / "b.sqlite").inc


def test_command_results_are_kept_after_sending_and_per_ground_incarnation(tmp_path):
    spool = Spool(tmp_path / "s.sqlite")
    spool.finish_command(3, True, "min_class 2", inc=11)
    spool.finish_command(1, False, "bad", inc=22)             # a replaced ground store: its ids start again
    assert (spool.last_cmd_for(11), spool.last_cmd_for(22), spool.last_cmd_for(0)) == (3, 1, 0)
    assert spool.results() == [(3, True, "min_class 2", 11), (1, False, "bad", 22)]
    spool.result_sent(3, 11)
    assert spool.results() == [(1, False, "bad", 22)]
    assert spool.resend_result(3, 11) and not spool.resend_result(3, 22)   # the ground asked again
    assert (3, True, "min_class 2", 11) in spool.results()


def test_a_spool_from_before_incarnations_keeps_its_unsent_results(tmp_path):
    import sqlite3
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript("CREATE TABLE results (id INTEGER PRIMARY KEY, ok INTEGER NOT NULL, detail TEXT NOT NULL);"
                         "INSERT INTO results VALUES (4, 1, 'done');")
    assert Spool(path).results() == [(4, True, "done", 0)]


def test_full_spool_drops_damage_free_summaries_first(tmp_path):
    spool = Spool(tmp_path / "s.sqlite", max_summaries=3)
    spool.add(3, body("calm-1"))
    spool.add(0, body("destroyed-1"))
    spool.add(3, body("calm-2"))
    assert spool.add(2, body("minor-1")) is not None          # evicts calm-1 (least urgent, oldest)
    assert {s.body["scene"] for s in spool.next_batch(set())} == {"destroyed-1", "calm-2", "minor-1"}
    assert spool.add(1, body("major-1")) is not None          # evicts calm-2
    assert spool.add(3, body("calm-3")) is None               # nothing less urgent left: the newcomer goes
    assert {s.body["scene"] for s in spool.next_batch(set())} == {"destroyed-1", "minor-1", "major-1"}
    assert spool.evicted == 3


def test_byte_bound(tmp_path):
    spool = Spool(tmp_path / "s.sqlite", max_bytes=2048)
    for i in range(10):
        spool.add(3, body(f"s{i}", extra=20))
    count, size = spool.stats()
    assert size <= 2048 and 0 < count < 10 and spool.evicted == 10 - count


WRITER = """
import sys
from onboard.spool import Spool
spool = Spool(sys.argv[1])
i = 0
while True:
    i += 1
    seq = spool.add(i % 4, {"scene": f"s{i}", "acq": 1.0, "bbox": [0, 0, 1, 1], "model": "m", "prec": "fp32",
                            "raw": 1, "n": [0, 0, 0, 0], "b": []})
    print("added", seq, flush=True)
    if i % 3 == 0:
        print("acking", seq - 1, flush=True)
        spool.ack([seq - 1])
        print("acked", seq - 1, flush=True)
"""


@pytest.mark.parametrize("lines", [7, 40, 101])
def test_kill_9_mid_write_loses_nothing_and_resurrects_nothing(tmp_path, lines):
    path = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    seen = {"added": set(), "acking": set(), "acked": set()}
    printed = []
    try:
        printed = [proc.stdout.readline() for _ in range(lines)]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    # The writer runs on between our last read and the kill: everything it printed is still in the pipe.
    for line in printed + proc.stdout.read().splitlines():
        kind, seq = line.split()
        seen[kind].add(int(seq))
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    spool = Spool(path)
    present = {s.seq for s in spool.next_batch(set(), limit=10_000)}
    added, acked, acking = seen["added"], seen["acked"], seen["acking"]
    assert added - acking <= present         # committed and not acknowledged: still there
    assert not (acked & present)             # acknowledged: gone for good
    assert len(acking - acked) <= 1          # at most the ack the kill interrupted is undecided
    assert spool.add(1, body("after")) > max(added)
