"""The ground store's command queue keys and its read-only queries (what mission control reads)."""

from __future__ import annotations

import sqlite3
import time

from ground import store
from tests.ground.minisat import summary_body


def test_a_keyed_command_is_queued_once_and_ids_stay_dense(tmp_path):
    db = store.connect(tmp_path / "g.sqlite")
    assert store.queue_command(db, "set_precision", {"precision": "fp32"}, key="step.0") == 1
    assert store.queue_command(db, "set_precision", {"precision": "fp32"}, key="step.0") is None
    assert store.queue_command(db, "set_precision", {"precision": "fp16"}) == 2      # by hand: no key
    assert store.queue_command(db, "set_precision", {"precision": "int8"}, key="step.1") == 3
    db.close()


def test_a_store_made_before_command_keys_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE commands (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, "
                "args TEXT NOT NULL, target TEXT, queued REAL NOT NULL)")
    old.execute("INSERT INTO commands (name, args, queued) VALUES ('set_min_class', '{\"cls\": 3}', 0)")
    old.commit()
    old.close()
    db = store.connect(path)
    assert store.queue_command(db, "set_precision", {"precision": "fp32"}, key="step.0") == 2
    db.close()


def test_read_only_queries_see_what_the_station_committed(tmp_path):
    path = tmp_path / "g.sqlite"
    assert (store.delivered_scenes(path), store.unanswered_commands(path), store.stored_summaries(path)) == \
        (0, 0, [])                                            # no store yet: nothing, not an error
    writer = store.Store(path)
    rows = [{"satellite": "sat-1", "seq": seq, "prio": 0, "body": summary_body(seq), "received": 10.0 + seq,
             "win": 1, "bytes": 100} for seq in (1, 2)]
    assert writer.add_summaries(rows + rows[:1]) == [True, True, False]
    cmd = store.queue_command(writer.db, "set_precision", {"precision": "fp32"})
    assert store.unanswered_commands(path) == 1
    writer.command_result(cmd, "sat-1", True, "serving fp32", 20.0)
    assert store.unanswered_commands(path) == 0
    assert store.delivered_scenes(path) == 2
    assert [s["seq"] for s in store.stored_summaries(path)] == [1, 2]
    writer.close()


def test_read_only_queries_of_windows_passes_counters_and_command_results(tmp_path):
    path = tmp_path / "g.sqlite"
    assert (store.stored_count(path), store.stored_rows(path), store.stored_windows(path), store.pass_totals(path),
            store.counters(path), store.command_results(path)) == (0, [], [], [], {}, [])   # no store yet
    writer = store.Store(path)
    rows = [{"satellite": sat, "seq": seq, "prio": seq % 2, "body": summary_body(seq), "received": 10.0 + seq,
             "win": 1, "bytes": 100 + seq} for sat, seq in [("sat-2", 1), ("sat-1", 2), ("sat-1", 1)]]
    writer.add_summaries(rows)
    assert store.stored_count(path) == 3
    assert store.stored_rows(path) == [rows[2], rows[1], rows[0]]   # as written, by satellite then seq

    writer.window(2, 1100.0, 1150.0)
    writer.window(1, 1000.0, 1050.0)
    writer.window(1, 1000.0, 1050.0)                                 # a restarted station records it again
    assert store.stored_windows(path) == [(1, 1000.0, 1050.0), (2, 1100.0, 1150.0)]

    writer.add_pass(1, "sat-1", bytes_granted=500, bytes_received=300, frames=3, summaries=2)
    writer.add_pass(1, "sat-1", bytes_granted=100, duplicates=1)     # after a restart: added to
    assert store.pass_totals(path) == [{"win": 1, "satellite": "sat-1", "bytes_granted": 600,
                                        "bytes_received": 300, "frames": 3, "summaries": 2, "duplicates": 1}]

    writer.add_counters({"drop_malformed": 2, "duplicates": 1})
    writer.add_counters({"drop_malformed": 1})
    assert store.counters(path) == {"drop_malformed": 3, "duplicates": 1}

    first = store.queue_command(writer.db, "set_min_class", {"cls": 3})
    second = store.queue_command(writer.db, "set_precision", {"precision": "fp16"})
    writer.command_sent(second, "sat-1", 1001.0)
    writer.command_sent(first, "sat-2", 1002.0)
    writer.command_sent(first, "sat-2", 1020.0)
    writer.command_result(first, "sat-2", False, "no such class", 1021.0)
    assert store.command_results(path) == [
        {"cmd_id": first, "satellite": "sat-2", "sent": 2, "first_sent": 1002.0, "ok": False,
         "detail": "no such class", "answered": 1021.0},
        {"cmd_id": second, "satellite": "sat-1", "sent": 1, "first_sent": 1001.0, "ok": None, "detail": None,
         "answered": None}]
    writer.close()


def test_read_only_queries_see_only_what_is_committed_and_do_not_wait_for_a_writer(tmp_path):
    path = tmp_path / "g.sqlite"
    writer = store.Store(path)
    writer.add_counters({"x": 1})
    other = store.connect(path)
    other.execute("BEGIN IMMEDIATE")   # a writer in the middle of its transaction
    other.execute("INSERT INTO counters (name, value) VALUES ('y', 5)")
    started = time.monotonic()
    assert store.counters(path) == {"x": 1} and store.stored_count(path) == 0
    assert time.monotonic() - started < 5.0   # read beside the writer (WAL), not after its busy timeout
    other.commit()
    assert store.counters(path) == {"x": 1, "y": 5}
    other.close()
    writer.close()
