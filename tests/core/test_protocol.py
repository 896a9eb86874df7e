"""docs/protocol.md in code: round trips, and every kind of bad frame is a FrameError."""

import msgpack
import pytest

from satedge import protocol as p


def body(**over):
    b = {"scene": "flood-1_00000001", "acq": 1.7e9, "bbox": [10.0, 60.0, 10.01, 60.01],
         "model": "m", "prec": "int8", "raw": 6291456, "n": [3, 1, 0, 1],
         "b": [[120, 340, 4, 95, 88], [10, 20, 2, 60, 51]]}
    b.update(over)
    return b


def test_round_trip_every_type():
    frames = [
        (p.GROUND_TO_SAT, p.encode("aos", 1.0, win=1, until=2.0)),
        (p.GROUND_TO_SAT, p.encode("credit", 1.0, win=1, bytes=1200)),
        (p.GROUND_TO_SAT, p.encode("los", 1.0, win=1)),
        (p.GROUND_TO_SAT, p.encode("ack", 1.0, seqs=[1, 2])),
        (p.GROUND_TO_SAT, p.encode("cmd", 1.0, id=3, name="set_precision", args={"precision": "fp32"})),
        (p.SAT_TO_GROUND, p.encode("hello", 1.0, sat="sat-1", model="m", prec="int8", spooled=0, last_cmd=0)),
        (p.SAT_TO_GROUND, p.encode("summary", 1.0, seq=1, prio=0, body=body())),
        (p.SAT_TO_GROUND, p.encode("cmd_result", 1.0, id=3, ok=True, detail="")),
        (p.SAT_TO_GROUND, p.encode("telemetry", 1.0, scenes_in=3)),
    ]
    for accept, frame in frames:
        msg = p.decode(frame, accept)
        assert msg["v"] == 1 and isinstance(msg["t"], str)


@pytest.mark.parametrize("frame, reason", [
    (b"", "malformed"),
    (b"\xc1", "malformed"),
    (msgpack.packb([1, 2]), "malformed"),
    (msgpack.packb({"t": "ack"}), "malformed"),
    (msgpack.packb({"v": 2, "t": "ack", "ts": 1.0, "seqs": []}), "version"),
    (msgpack.packb({"v": True, "t": "ack", "ts": 1.0, "seqs": []}), "version"),
    (msgpack.packb({"v": 1, "t": "ack", "ts": "x", "seqs": []}), "malformed"),
    (msgpack.packb({"v": 1, "t": "ack", "ts": 1.0, "seqs": ["1"]}), "malformed"),
    (msgpack.packb({"v": 1, "t": "credit", "ts": 1.0, "win": 1, "bytes": True}), "malformed"),
    (msgpack.packb({"v": 1, "t": "credit", "ts": float("nan"), "win": 1, "bytes": 3}), "malformed"),
    (msgpack.packb({"v": 1, "t": 5, "ts": 1.0}), "malformed"),
    (msgpack.packb({1: 1}), "malformed"),
    (b"\x92" * 100000, "malformed"),
    (b"\x00" * (p.MAX_FRAME_BYTES + 1), "oversize"),
])
def test_bad_frames_are_frame_errors(frame, reason):
    with pytest.raises(p.FrameError) as err:
        p.decode(frame, p.GROUND_TO_SAT)
    assert err.value.reason == reason


def test_unknown_type_is_distinguished():
    with pytest.raises(p.UnknownType):
        p.decode(p.encode("party", 1.0), p.GROUND_TO_SAT)
    with pytest.raises(p.UnknownType):  # a ground frame type arriving at the ground
        p.decode(p.encode("ack", 1.0, seqs=[]), p.SAT_TO_GROUND)


@pytest.mark.parametrize("bad", [
    {"bbox": [1, 2, 3]}, {"n": [1, 2, 3, -1]}, {"b": [[1, 2, 5, 10, 10]]}, {"b": [[1, 2, 3, 70000, 10]]},
    {"b": [[1, 2, 3, 10, 101]]}, {"b": [[1.5, 2, 3, 10, 10]]}, {"raw": "x"}, {"scene": None},
])
def test_summary_bodies_are_validated(bad):
    with pytest.raises(p.FrameError):
        p.decode(p.encode("summary", 1.0, seq=1, prio=0, body=body(**bad)), p.SAT_TO_GROUND)


def test_priority_follows_the_worst_class():
    assert p.priority([5, 0, 0, 1]) == 0
    assert p.priority([5, 3, 1, 0]) == 1
    assert p.priority([5, 3, 0, 0]) == 2
    assert p.priority([5, 0, 0, 0]) == 3


@pytest.mark.parametrize("flags", [[], [True], [False, True, False], [True] * 8, [False] * 9 + [True], [True] * 1000])
def test_post_only_bitmap_round_trips(flags):
    b = body(b=[[1, 2, 3, 40, 90]] * len(flags))
    if any(flags):
        b["po"] = p.post_only_bitmap(flags)
    p.validate_body(b)
    assert p.post_only_rows(b) == flags


def test_post_only_bitmap_costs_a_sixth_of_a_byte_per_building():
    assert len(p.post_only_bitmap([True] * 1000)) == 168


@pytest.mark.parametrize("po", ["!!!!", p.post_only_bitmap([True] * 9),
                                p.post_only_bitmap([False, False, True]), 5])
def test_a_post_only_bitmap_that_does_not_fit_b_is_malformed(po):
    with pytest.raises(p.FrameError) as err:
        p.validate_body(body(b=[[1, 2, 3, 40, 90]] * 2, po=po))
    assert err.value.reason == "malformed"


@pytest.mark.parametrize("cov", [-1, 101, 1.5, True, "50"])
def test_coverage_outside_0_to_100_is_refused(cov):
    with pytest.raises(p.FrameError):
        p.validate_body(body(cov=cov))


def test_coverage_in_range_passes():
    for cov in (0, 42, 100):
        p.validate_body(body(cov=cov))
