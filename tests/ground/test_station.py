"""The station against a minimal satellite written from docs/protocol.md alone (tests/ground/minisat.py)."""

from __future__ import annotations

import time

import msgpack

from ground.store import counters, stored_rows, stored_windows
from tests.ground.minisat import MiniSat, pack, summary_body

RATE_BPS = 9600.0
WINDOW_S = 30.0


def full_windows(sat: MiniSat, window_s: float) -> dict[int, dict]:
    """Windows whose `aos` the satellite got at the window's start, with the credit granted in each."""
    windows = {}
    for m in sat.of_type("aos"):
        if m["ts"] - (m["until"] - window_s) < 1.0:
            windows[m["win"]] = {"until": m["until"], "credit": 0}
    for m in sat.of_type("credit"):
        if m["win"] in windows:
            windows[m["win"]]["credit"] += m["bytes"]
    closed = {m["win"] for m in sat.of_type("los")}
    return {w: v for w, v in windows.items() if w in closed}


def test_windows_credit_acks_duplicates_and_bad_frames(station_factory):
    station = station_factory(link={"rate_bps": RATE_BPS, "window_s": WINDOW_S})
    sat, listener = MiniSat(station.address, "sat-1"), MiniSat(station.address, "sat-2")
    try:
        # Garbage of every kind first: none of it may stop the station.
        sat.send_raw(b"\x00 not msgpack \xff")
        sat.send_raw(msgpack.packb([1, 2, 3]))
        sat.send_raw(msgpack.packb({"v": 2, "t": "summary", "ts": 0.0, "seq": 77, "prio": 0,
                                    "body": summary_body(77)}))
        sat.send_raw(pack("bogus"))
        sat.send_raw(pack("summary", seq=78, prio=0, body={"scene": "no other keys"}))

        sat.pump_until(lambda: sat.of_type("aos") and listener.of_type("aos"), 10, "AOS", others=[listener])
        frames = {seq: pack("summary", seq=seq, prio=seq % 4, body=summary_body(seq)) for seq in range(1, 9)}
        sat.downlink(frames, timeout_s=20)
        assert all(sat.ack_counts[seq] == 1 for seq in frames)
        # Telemetry is a free map: keys that a careless receiver would splat into a call must not hurt.
        hostile = pack("telemetry", sat="sat-9", level="x", msg="x", logger=None, fields={"deep": [1]})
        sat.pump_until(lambda: sat.spend(hostile), 10, "credit for telemetry", others=[listener])

        # A duplicate is acked again and not stored twice (re-sent if it met the window's end).
        resent = [0.0]

        def duplicate_acked() -> bool:
            if time.monotonic() - resent[0] > 0.5 and sat.spend(frames[1]):
                resent[0] = time.monotonic()
            return sat.ack_counts[1] >= 2

        sat.pump_until(duplicate_acked, 15, "the duplicate's ack", others=[listener])

        # Beyond credit: a frame larger than any window's credit, sent just after an AOS, is dropped.
        opened = len(sat.of_type("aos"))
        sat.pump_until(lambda: len(sat.of_type("aos")) > opened, 10, "an AOS", others=[listener])
        padded = dict(summary_body(90), pad="x" * 40_000)   # within the protocol's ranges (unknown keys pass)
        huge = pack("summary", seq=90, prio=0, body=padded)
        assert len(huge) > RATE_BPS / 8 * WINDOW_S
        sat.send_raw(huge)

        # Outside a window: sent after LOS, never acked, even once the next window opens.
        sat.pump_until(lambda: sat.window is None, 10, "LOS", others=[listener])
        sat.send_raw(pack("summary", seq=99, prio=0, body=summary_body(99)))
        opened = len(sat.of_type("aos"))
        sat.pump_until(lambda: len(sat.of_type("aos")) > opened, 10, "the next AOS", others=[listener])
        sat.pump_until(lambda: len(sat.of_type("los")) >= 4 and len(listener.of_type("los")) >= 3, 15,
                       "more windows", others=[listener])
        listener.pump(0.01)
        assert 90 not in sat.acked and 99 not in sat.acked

        # Credit per full window at the link rate, for each satellite on its own.
        for who in (sat, listener):
            windows = full_windows(who, WINDOW_S)
            assert len(windows) >= 2, who.of_type("aos")
            for win, w in windows.items():
                expected = RATE_BPS / 8 * WINDOW_S
                assert abs(w["credit"] - expected) <= 0.10 * expected, (who.id, win, w["credit"], expected)

        # Nothing granted outside a window: every credit's time lies inside its window.
        until = {m["win"]: m["until"] for m in sat.of_type("aos")}
        for m in sat.of_type("credit"):
            assert until[m["win"]] - WINDOW_S <= m["ts"] <= until[m["win"]], m
        order = [(m["t"], m.get("win")) for _, m in sat.received if m["t"] in ("aos", "credit", "los")]
        closed = set()
        for t, win in order:
            if t == "los":
                closed.add(win)
            assert not (t == "credit" and win in closed), order
        # A satellite that reconnects within a window gets that window's aos at once.
        listener.close()
        los = len(sat.of_type("los"))
        sat.pump_until(lambda: len(sat.of_type("los")) > los and sat.window is not None, 10, "a fresh window")
        again = MiniSat(station.address, "sat-2")
        try:
            again.pump_until(lambda: again.of_type("aos"), 5, "aos after reconnecting", others=[sat])
            assert again.of_type("aos")[0]["win"] == sat.window
        finally:
            again.close()
    finally:
        sat.close()
        listener.close()
    assert station.stop() == 0
    assert "station stopped" in station.log()

    stored = [(row["satellite"], row["seq"]) for row in stored_rows(station.db_path)]
    assert stored == [("sat-1", seq) for seq in range(1, 9)]
    counts = counters(station.db_path)
    duplicates = sat.ack_counts[1] - 1  # every duplicate that reached the station was acked
    assert duplicates >= 1 and counts["duplicates"] == counts["duplicates.sat-1"] == duplicates
    assert counts["drop_malformed"] >= 3 and counts["drop_version"] == 1
    assert counts["ignored_unknown_type"] == 1
    assert counts["drop_over_credit"] == 1 and counts["drop_outside_window"] >= 1
    assert len(stored_windows(station.db_path)) >= 4
    assert station.log().count(" LOS win=") >= 4  # a status line per window


def test_everything_arrives_through_a_lossy_link(station_factory):
    station = station_factory(link={"loss": 0.3, "seed": 7, "delay_s": 0.5})
    sats = [MiniSat(station.address, f"sat-{i}") for i in (1, 2)]
    frames = {seq: pack("summary", seq=seq, prio=0, body=summary_body(seq)) for seq in range(1, 16)}
    try:
        deadline = time.monotonic() + 60
        while not all(set(frames) <= s.acked for s in sats):
            assert time.monotonic() < deadline, [sorted(set(frames) - s.acked) for s in sats]
            for s in sats:
                s.step(frames)
    finally:
        for s in sats:
            s.close()
    assert station.stop() == 0
    stored = [(row["satellite"], row["seq"]) for row in stored_rows(station.db_path)]
    assert stored == [(f"sat-{i}", seq) for i in (1, 2) for seq in range(1, 16)]   # each exactly once
    counts = counters(station.db_path)
    assert counts["lost_uplink"] > 0 and counts["lost_downlink"] > 0, counts
