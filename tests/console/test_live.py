"""`ground.console.live.Publisher`: what the operations view is told of satellites, windows and credit."""

from __future__ import annotations

from ground.console.live import Publisher
from tests.ground.parts import make_parts


def test_snapshot_follows_windows_contacts_and_departures(tmp_path):
    parts = make_parts(tmp_path)
    publisher = Publisher()
    before = publisher.snapshot(parts.windows, parts.counters.total, 900.0)
    assert before["window"] is None and before["next_window"]["start"] == 1000.0 and before["satellites"] == []

    parts.hello("sat-1", 990.0)
    parts.windows.update(1000.0)                     # AOS of window 1
    parts.windows.grant(1002.0)                      # 100 bytes per second for 2 s
    parts.windows.charge("sat-1", 50)
    during = publisher.snapshot(parts.windows, parts.counters.total, 1002.0)
    assert during["window"]["id"] == 1 and during["next_window"] is None
    [sat] = during["satellites"]
    assert sat["id"] == "sat-1" and sat["connected"] and sat["prec"] == "int8"
    assert sat["contact"] == {"win": 1, "granted": 200, "used": 50, "credit": 150, "frames": 1, "summaries": 0}

    parts.windows.gone.add("sat-1")
    parts.windows.forget_gone()                      # its connection dropped
    after = publisher.snapshot(parts.windows, parts.counters.total, 1003.0)
    assert after["satellites"] == [dict(sat, connected=False, contact=None)]


def test_tick_publishes_at_most_once_per_interval(tmp_path):
    parts = make_parts(tmp_path)
    publisher = Publisher(interval_s=3600.0)
    publisher.tick(parts.windows, parts.counters.total, 900.0)
    first = publisher.latest
    publisher.tick(parts.windows, parts.counters.total, 1000.0)
    assert publisher.latest is first and first is not None and first["sim_time"] == 900.0
