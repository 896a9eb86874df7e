"""The intake part on its own: admission counts every kind of bad frame; summaries are stored, then acked."""

from __future__ import annotations

from dataclasses import dataclass

import msgpack
import pytest

from ground.allow_list import AllowList
from ground.intake import Intake
from ground.store import command_results, counters, stored_rows
from satedge import keys
from satedge.errors import UserError
from satedge.protocol import encode
from tests.ground.parts import ORIGIN, WINDOW_S, arrival, make_parts, summary


@dataclass
class FakePart:
    """A received message part as `zmq.Frame` gives it, without a socket."""

    data: bytes
    user_id: str | None = None

    @property
    def bytes(self) -> bytes:
        return self.data

    def get(self, option: str) -> int | str:
        if option != "User-Id" or self.user_id is None:
            raise AssertionError(f"{option} asked of a message without it")
        return self.user_id


@pytest.fixture
def parts(tmp_path):
    parts = make_parts(tmp_path)
    yield parts
    parts.store.close()


def in_window(parts, sat_id: str = "sat-1", credit_s: float = 10.0) -> None:
    """`sat_id` in contact in window 1 with `credit_s` seconds' worth of credit."""
    parts.hello(sat_id, ORIGIN - 10)
    parts.windows.update(ORIGIN)
    parts.windows.grant(ORIGIN + credit_s)


def stored(parts) -> list[tuple]:
    return [(r["satellite"], r["seq"], r["win"]) for r in stored_rows(parts.store.path)]


def test_admission_drops_and_counts_every_kind_of_bad_message(parts):
    hello = encode("hello", 0.0, sat="sat-1", model="tiny", prec="int8", spooled=0, last_cmd=0)
    cases = {
        "drop_malformed": [[FakePart(b"sat-1")], [FakePart(b"\xff\xfe"), FakePart(hello)],
                           [FakePart(b"sat-1"), FakePart(b"\x00 not msgpack")],
                           [FakePart(b"sat-1"), FakePart(msgpack.packb([1, 2, 3]))]],
        "drop_version": [[FakePart(b"sat-1"), FakePart(msgpack.packb({"v": 2, "t": "hello", "ts": 0.0}))]],
        "ignored_unknown_type": [[FakePart(b"sat-1"), FakePart(encode("bogus", 0.0))]],
        "drop_identity": [[FakePart(b"sat-2"), FakePart(hello)]],   # a hello must name its routing id
    }
    for counter, messages in cases.items():
        for message in messages:
            assert parts.intake.admit(message) is None, (counter, message)
        assert parts.counters.total[counter] == len(messages), counter
    admitted = parts.intake.admit([FakePart(b"sat-1"), FakePart(hello)])
    assert admitted is not None and admitted.sat == "sat-1" and admitted.size == len(hello)
    assert admitted.msg["t"] == "hello"


def test_under_curve_a_key_speaks_only_for_its_own_id(parts, tmp_path):
    keys_dir = tmp_path / "keys"
    keys.make(keys_dir, ["sat-1", "sat-2"])
    configured = []
    allow_list = AllowList(keys_dir, configured.append)
    allow_list.refresh()
    assert configured == [keys.allow_list_dir(keys_dir)] and sorted(allow_list.owners.values()) == ["sat-1", "sat-2"]
    allow_list.refresh()   # unchanged folder: not read again
    assert len(configured) == 1
    intake = Intake(parts.windows, parts.store, parts.radio, parts.counters, allow_list)
    key_of = {sat: public for public, sat in allow_list.owners.items()}
    frame = encode("summary", 0.0, **{k: v for k, v in summary(1).items() if k not in ("v", "t", "ts")})

    assert intake.admit([FakePart(b"sat-1"), FakePart(frame, key_of["sat-1"])]) is not None
    assert intake.admit([FakePart(b"sat-1"), FakePart(frame, key_of["sat-2"])]) is None
    assert parts.counters.total["drop_identity"] == 1


def test_a_key_being_written_is_read_again_at_the_next_reload(tmp_path):
    keys_dir = tmp_path / "keys"
    keys.make(keys_dir, ["sat-1"])
    allow_list = AllowList(keys_dir, lambda folder: None)
    allow_list.refresh()
    half = keys.allow_list_dir(keys_dir) / "sat-2.key"
    half.write_text("half a key")
    with pytest.raises(UserError, match="sat-2.key"):   # at start, a bad key file stops the station
        AllowList(keys_dir, lambda folder: None).refresh()
    allow_list.reload()   # while running: logged, not fatal, and read again next time
    assert allow_list.stamp is None and sorted(allow_list.owners.values()) == ["sat-1"]
    half.unlink()
    keys.make(keys_dir, ["sat-2"])
    allow_list.reload()
    assert sorted(allow_list.owners.values()) == ["sat-1", "sat-2"]


def test_a_summary_is_stored_then_acked_and_a_duplicate_is_acked_but_not_stored_twice(parts):
    in_window(parts)
    parts.intake.deliver([arrival("sat-1", summary(1)), arrival("sat-1", summary(2, prio=1))], ORIGIN + 10)
    assert stored(parts) == [("sat-1", 1, 1), ("sat-1", 2, 1)]
    assert [a["seqs"] for a in parts.radio.of("ack", "sat-1")] == [[1, 2]]   # one ack for the turn

    parts.intake.deliver([arrival("sat-1", summary(1))], ORIGIN + 11)
    parts.intake.deliver([arrival("sat-1", summary(3)), arrival("sat-1", summary(3))], ORIGIN + 12)
    assert stored(parts) == [("sat-1", 1, 1), ("sat-1", 2, 1), ("sat-1", 3, 1)]
    assert [a["seqs"] for a in parts.radio.of("ack", "sat-1")] == [[1, 2], [1], [3, 3]]
    assert parts.counters.total["duplicates"] == 2 and parts.counters.total["duplicates.sat-1"] == 2
    contact = parts.windows.satellites["sat-1"].contact
    assert contact is not None and (contact.summaries, contact.duplicates, contact.frames) == (3, 2, 5)
    first = stored_rows(parts.store.path)[0]
    assert (first["seq"], first["received"], first["bytes"]) == (1, ORIGIN + 10, arrival("sat-1", summary(1)).size)
    assert first["body"] == summary(1)["body"] and first["prio"] == 0


def test_frames_outside_a_window_or_beyond_credit_are_dropped_counted_and_never_acked(parts):
    parts.hello("sat-1", ORIGIN - 10)
    parts.intake.deliver([arrival("sat-1", summary(1))], ORIGIN - 5)   # before AOS
    assert parts.counters.total["drop_outside_window"] == 1

    parts.windows.update(ORIGIN)
    parts.windows.grant(ORIGIN + 1)   # 100 bytes: less than a summary
    parts.intake.deliver([arrival("sat-1", summary(2))], ORIGIN + 1)
    assert parts.counters.total["drop_over_credit"] == 1
    parts.intake.deliver([arrival("sat-9", summary(3))], ORIGIN + 1)   # no hello in this window
    assert parts.counters.total["drop_no_hello"] == 1

    parts.windows.update(ORIGIN + WINDOW_S)   # LOS: what comes after is outside again
    parts.intake.deliver([arrival("sat-1", summary(4))], ORIGIN + WINDOW_S + 1)
    assert parts.counters.total["drop_outside_window"] == 2
    assert stored(parts) == [] and parts.radio.of("ack") == []


def test_results_and_telemetry_cost_credit_and_unknown_command_ids_are_counted(parts):
    in_window(parts)
    telemetry = {"v": 1, "t": "telemetry", "ts": 0.0, "level": "x", "msg": "x", "fields": {"deep": [1]}}
    result = {"v": 1, "t": "cmd_result", "ts": 0.0, "id": 42, "ok": True, "detail": "done"}
    parts.intake.deliver([arrival("sat-1", telemetry, size=100), arrival("sat-1", result, size=50)], ORIGIN + 10)
    contact = parts.windows.satellites["sat-1"].contact
    assert contact is not None and (contact.used, contact.frames) == (150, 2)
    assert parts.counters.total["ignored_unknown_command"] == 1
    assert command_results(parts.store.path) == []


def test_drop_counters_reach_the_store_when_flushed(parts):
    parts.intake.deliver([arrival("sat-9", summary(1))], ORIGIN - 5)
    parts.counters.flush(parts.store)
    parts.counters.flush(parts.store)   # nothing new: nothing added
    assert counters(parts.store.path) == {"drop_outside_window": 1}


def test_a_route_is_bound_to_the_key_its_hello_came_with(parts, tmp_path):
    """Issue 16 row 1: a valid key of another satellite cannot take sat-1's route, whatever routing id it picks."""
    keys_dir = tmp_path / "keys"
    keys.make(keys_dir, ["sat-1", "sat-2"])
    allow_list = AllowList(keys_dir, lambda folder: None)
    allow_list.refresh()
    key_of = {sat: public for public, sat in allow_list.owners.items()}
    intake = Intake(parts.windows, parts.store, parts.radio, parts.counters, allow_list)
    hello = encode("hello", 0.0, sat="sat-1", model="tiny", prec="int8", spooled=0, last_cmd=0)
    summary_frame = encode("summary", 0.0, **{k: v for k, v in summary(1).items() if k not in ("v", "t", "ts")})
    route = b"\x00\x01\x02\x03\x04"                          # one libzmq made: no peer can pick it
    assert intake.route("sat-1") == b"sat-1"                 # nothing bound yet
    assert intake.admit([FakePart(route), FakePart(hello, key_of["sat-1"])]).sat == "sat-1"
    assert intake.route("sat-1") == route
    assert intake.admit([FakePart(route), FakePart(summary_frame, key_of["sat-1"])]).sat == "sat-1"
    for impostor in (b"sat-1", b"\x00\x09\x09\x09\x09", route):  # sat-2's key, on any route
        assert intake.admit([FakePart(impostor), FakePart(hello, key_of["sat-2"])]) is None
        assert intake.admit([FakePart(impostor), FakePart(summary_frame, key_of["sat-2"])]) is None
    assert intake.route("sat-1") == route and parts.counters.total["drop_identity"] == 6
