"""The store survives kill -9 of the station; the command queue survives a restart."""

from __future__ import annotations

from ground.store import command_results, stored_rows
from tests.conftest import run_cli
from tests.ground.minisat import MiniSat, pack, summary_body


def test_nothing_acked_is_lost_when_the_station_is_killed(station_factory):
    station = station_factory(link={"rate_bps": 96000.0})
    sat = MiniSat(station.address, "sat-1")
    frames = {seq: pack("summary", seq=seq, prio=1, body=summary_body(seq)) for seq in range(1, 301)}
    try:
        sat.pump_until(lambda: (sat.step(frames, resend_after_s=1.0), len(sat.acked) >= 30)[1], 20,
                       "the first acks")
        station.kill9()  # mid-run: frames in flight, credit unspent
        acked_before_kill = set(sat.acked)
        stored = {row["seq"] for row in stored_rows(station.db_path)}
        assert acked_before_kill <= stored, sorted(acked_before_kill - stored)
        assert len(stored) < len(frames), "the kill came too late to be mid-run"

        station.start()
        sat.downlink(frames, timeout_s=60, resend_after_s=1.0)
    finally:
        sat.close()
    assert station.stop() == 0
    assert [(row["satellite"], row["seq"]) for row in stored_rows(station.db_path)] == [
        ("sat-1", seq) for seq in range(1, 301)]   # every one, once


def test_commands_are_resent_until_answered_across_a_restart(station_factory):
    station = station_factory(start=False, link={"cmd_retry_s": 5.0})
    queued = run_cli("command", "set-precision", "fp32", "--config", str(station.config))
    assert queued.returncode == 0, queued.stderr
    assert "queued command 1" in queued.stdout
    station.start()
    sat = MiniSat(station.address, "sat-1")
    try:
        # The first station sends command 1 and, unanswered, sends it again.
        sat.pump_until(lambda: len(sat.commands) >= 2, 20, "command 1 twice")
        assert {(c["id"], c["name"]) for c in sat.commands} == {(1, "set_precision")}
        assert sat.commands[0]["args"] == {"precision": "fp32"}
        assert station.stop() == 0

        # The restarted station still owes command 1 to sat-1.
        before = len(sat.commands)
        station.start()
        sat.pump_until(lambda: len(sat.commands) > before, 20, "command 1 after the restart")
        assert sat.commands[-1]["id"] == 1
        answer_until_recorded(sat, station, 1, "fp32 serving")

        # Queued while the station runs: sent in a window, answered, recorded.
        queued = run_cli("command", "set-min-class", "3", "--db", str(station.db_path))
        assert "queued command 2" in queued.stdout, queued.stdout + queued.stderr
        sat.pump_until(lambda: any(c["id"] == 2 for c in sat.commands), 20, "command 2")
        assert [c for c in sat.commands if c["id"] == 2][0]["args"] == {"cls": 3}
        answer_until_recorded(sat, station, 2, "min class 3")

        # Answered commands are not sent again, in this window or the next.
        sent_1 = sum(c["id"] == 1 for c in sat.commands)
        los = len(sat.of_type("los"))
        sat.pump_until(lambda: len(sat.of_type("los")) >= los + 2, 20, "two more windows")
        assert sum(c["id"] == 1 for c in sat.commands) == sent_1
    finally:
        sat.close()
    assert station.stop() == 0
    assert result(station, 1) == (True, "fp32 serving")
    listing = run_cli("command", "list", "--db", str(station.db_path))
    assert "ok=True fp32 serving" in listing.stdout and "ok=True min class 3" in listing.stdout, listing.stdout


def answer_until_recorded(sat: MiniSat, station, cmd_id: int, detail: str, timeout_s: float = 20) -> None:
    """Answer command `cmd_id` each time it arrives, as a satellite does, until the store has the result.

    A cmd_result costs credit like any frame, and one sent as the window closes
    is dropped: the station's re-send is what makes the answer arrive.
    """
    frame = pack("cmd_result", id=cmd_id, ok=True, detail=detail)
    answered = 0

    def recorded() -> bool:
        nonlocal answered
        asked = sum(c["id"] == cmd_id for c in sat.commands)
        if asked > answered and sat.spend(frame):
            answered = asked
        return result(station, cmd_id) == (True, detail)

    sat.pump_until(recorded, timeout_s, f"command {cmd_id}'s result in the store")


def result(station, cmd_id: int):
    rows = [(r["ok"], r["detail"]) for r in command_results(station.db_path) if r["cmd_id"] == cmd_id]
    return rows[0] if rows else None
