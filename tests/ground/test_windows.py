"""The windows part on its own: windows open and close on the schedule, credit follows the link rate."""

from __future__ import annotations

import logging

import pytest

from ground.store import pass_totals, stored_windows
from ground.windows import REPLY_HELLO_WALL_S, credit_interval
from tests.ground.parts import ORIGIN, RATE_BPS, WINDOW_S, make_parts

BYTES_PER_S = RATE_BPS / 8


@pytest.fixture
def parts(tmp_path):
    parts = make_parts(tmp_path)
    yield parts
    parts.store.close()


def granted(parts, sat_id: str = "sat-1", win: int | None = None) -> int:
    return sum(int(c["bytes"]) for c in parts.radio.of("credit", sat_id) if win is None or c["win"] == win)


def test_a_window_opens_on_schedule_with_aos_and_closes_with_los(parts, caplog):
    caplog.set_level(logging.INFO, logger="ground.station")
    parts.hello("sat-1", ORIGIN - 10)
    assert parts.windows.update(ORIGIN - 1) is None and parts.windows.window is None
    assert parts.radio.of("aos") == []

    parts.windows.update(ORIGIN)
    assert parts.windows.window is not None and parts.windows.window.id == 1
    assert [(a["sat"], a["win"], a["until"]) for a in parts.radio.of("aos")] == [("sat-1", 1, ORIGIN + WINDOW_S)]
    assert stored_windows(parts.store.path) == [(1, ORIGIN, ORIGIN + WINDOW_S)]

    closed = parts.windows.update(ORIGIN + WINDOW_S)
    assert closed is not None and closed.id == 1 and parts.windows.window is None
    assert [(m["sat"], m["win"]) for m in parts.radio.of("los")] == [("sat-1", 1)]
    los = [r for r in caplog.records if r.getMessage() == "LOS"]
    assert len(los) == 1 and los[0].fields["win"] == 1 and los[0].fields["satellites"] == 1


def test_credit_follows_the_link_rate_from_the_contact_start(parts):
    parts.hello("sat-1", ORIGIN - 10)
    parts.windows.update(ORIGIN)
    parts.windows.grant(ORIGIN)
    assert granted(parts) == 0   # nothing earned yet
    for t in (1.5, 2.0, 10.25, 30.0):
        parts.windows.grant(ORIGIN + t)
        assert granted(parts) == int(BYTES_PER_S * t)
    parts.windows.grant(ORIGIN + 30.0)   # nothing new earned: no frame at all
    assert len(parts.radio.of("credit")) == 4
    assert all(c["win"] == 1 for c in parts.radio.of("credit"))

    # A satellite that joins mid-window earns from its own contact start, not the window's.
    parts.hello("sat-2", ORIGIN + 20.0)
    parts.windows.grant(ORIGIN + 30.0)
    assert granted(parts, "sat-2") == int(BYTES_PER_S * 10.0)


def test_credit_is_never_granted_outside_a_window(parts):
    parts.hello("sat-1", ORIGIN - 10)
    parts.windows.grant(ORIGIN - 5)
    assert parts.radio.of("credit") == []
    parts.windows.update(ORIGIN)
    parts.windows.grant(ORIGIN + 10)
    parts.windows.update(ORIGIN + WINDOW_S)   # LOS: unspent credit expires with the contact
    for t in (ORIGIN + WINDOW_S, ORIGIN + 60.0, ORIGIN + 99.0):
        parts.windows.grant(t)
    assert [c["now"] for c in parts.radio.of("credit")] == [ORIGIN + 10]
    # The next window starts afresh.
    parts.windows.update(ORIGIN + 100.0)
    parts.windows.grant(ORIGIN + 105.0)
    assert granted(parts, win=2) == int(BYTES_PER_S * 5.0)


def test_the_pass_totals_go_to_the_store_at_los(parts):
    parts.hello("sat-1", ORIGIN - 10)
    parts.windows.update(ORIGIN)
    parts.windows.grant(ORIGIN + 10)
    assert parts.windows.charge("sat-1", 300) is not None
    parts.windows.update(ORIGIN + WINDOW_S)
    assert pass_totals(parts.store.path) == [{"win": 1, "satellite": "sat-1", "bytes_granted": 1000,
                                              "bytes_received": 300, "frames": 1, "summaries": 0, "duplicates": 0}]


def test_frames_outside_a_window_or_beyond_credit_are_dropped_and_counted(parts):
    parts.hello("sat-1", ORIGIN - 10)
    assert parts.windows.charge("sat-1", 10) is None
    assert parts.counters.total["drop_outside_window"] == 1

    parts.windows.update(ORIGIN)
    parts.windows.grant(ORIGIN + 1)   # 100 bytes
    assert parts.windows.charge("sat-9", 10) is None   # never said hello
    assert parts.counters.total["drop_no_hello"] == 1
    contact = parts.windows.charge("sat-1", 60)
    assert contact is not None and (contact.used, contact.frames) == (60, 1)
    assert parts.windows.charge("sat-1", 41) is None
    assert parts.counters.total["drop_over_credit"] == 1
    assert parts.windows.charge("sat-1", 40) is not None   # exactly what is left
    assert (contact.used, contact.frames) == (100, 2)


def test_a_hello_in_a_window_gets_its_aos_unless_it_answers_one(parts):
    parts.windows.update(ORIGIN)
    parts.wall.t = 100.0
    parts.hello("sat-1", ORIGIN + 5)   # joins mid-window: its aos at once
    assert len(parts.radio.of("aos", "sat-1")) == 1
    parts.wall.t += REPLY_HELLO_WALL_S / 2
    parts.hello("sat-1", ORIGIN + 5.5)   # the answer to that aos: nothing more
    assert len(parts.radio.of("aos", "sat-1")) == 1
    parts.wall.t += 5.0
    parts.hello("sat-1", ORIGIN + 10)   # a reconnect: the window's aos again, same contact
    aos = parts.radio.of("aos", "sat-1")
    assert len(aos) == 2 and aos[-1]["win"] == 1
    contact = parts.windows.satellites["sat-1"].contact
    assert contact is not None and contact.opened == ORIGIN + 5


def test_a_satellite_whose_connection_is_gone_is_forgotten_with_its_totals_written(parts, caplog):
    caplog.set_level(logging.INFO, logger="ground.station")
    parts.hello("sat-1", ORIGIN - 10)
    parts.windows.update(ORIGIN)
    parts.windows.grant(ORIGIN + 2)
    parts.windows.gone.add("sat-1")
    parts.windows.forget_gone()
    assert parts.windows.satellites == {} and parts.windows.gone == set()
    assert [(p["satellite"], p["bytes_granted"]) for p in pass_totals(parts.store.path)] == [("sat-1", 200)]
    assert any(r.getMessage() == "satellite left" for r in caplog.records)
    parts.windows.grant(ORIGIN + 5)
    assert granted(parts) == 200


def test_credit_frames_are_at_most_a_hundred_per_wall_second():
    assert credit_interval(1.0, speedup=1.0) == 1.0
    assert credit_interval(1.0, speedup=600.0) == 6.0
