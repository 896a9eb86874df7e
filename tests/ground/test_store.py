"""The ground store's command queue keys and its read-only queries (what mission control reads)."""

from __future__ import annotations

import sqlite3

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
