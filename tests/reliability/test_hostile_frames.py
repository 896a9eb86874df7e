"""Hostile peers: every frame decoder, and the handlers behind it on both sides, fuzzed with hypothesis.

`satedge.protocol.decode` with both schemas; the ground station's receive path
(its intake, link model and windows, turned as `Station.run` turns them: identity, decode,
link, windows, credit, store, ack) with a real DEALER against its real ROUTER; the satellite's
(`Downlink._on_frame`: acks into the real spool, commands into the real
commander) in a real daemon built in-process. Random bytes, wrong types, huge
lists, deep nesting, 64-bit integers: nothing may raise, nothing may stop a
thread, and decoding must stay within a memory bound.
"""

from __future__ import annotations

import struct
import time
import tracemalloc

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ground.store import stored_summaries
from satedge import protocol as p
from tests.reliability.conftest import summary_body

FAST = dict(max_examples=200, deadline=None, derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                   HealthCheck.data_too_large])
LONG = dict(FAST, max_examples=3000)

# --- strategies -------------------------------------------------------------------

HUGE_INTS = st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, -(2**63), 0, -1])
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | HUGE_INTS
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40) | st.binary(max_size=16))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=6)
                      | st.dictionaries(st.text(max_size=8) | st.binary(max_size=4), inner, max_size=6),
                      max_leaves=40)


def _deep(depth: int, leaf=0):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def _typed(types: tuple) -> st.SearchStrategy:
    """A value of the right type for a schema key (sometimes hostile within that type)."""
    if types is p.INT:
        return st.integers(min_value=-(2**63), max_value=2**64 - 1) | HUGE_INTS
    if types is p.NUM:
        return st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    if types is p.STR:
        return st.text(max_size=60) | st.sampled_from(["set_precision", "set_min_class", "sat-1"])
    if types is p.BOOL:
        return st.booleans()
    if types is p.LIST:
        return (st.lists(st.integers(min_value=-(2**63), max_value=2**64 - 1), max_size=50)
                | st.lists(VALUES, max_size=5))
    return st.dictionaries(st.sampled_from(["precision", "cls", "x"]), SCALARS | VALUES, max_size=3)


@st.composite
def schema_frames(draw, schema: dict) -> bytes:
    """A map that is nearly a valid frame of `schema`: each key right, missing, or of a wrong type."""
    t = draw(st.sampled_from(sorted(schema)) | st.text(max_size=8))
    msg = {"v": draw(st.sampled_from([1, 1, 1, 2, True, "1"])), "t": t,
           "ts": draw(st.floats(allow_nan=True) | st.just(1.0e9))}
    for key, types in schema.get(t, {}).items():
        choice = draw(st.integers(0, 9))
        if choice < 7:
            msg[key] = draw(_typed(types))
        elif choice < 9:
            msg[key] = draw(VALUES)
    if t == "summary" and draw(st.booleans()):
        body = summary_body(draw(st.integers(1, 10**6)))
        for key in draw(st.lists(st.sampled_from(sorted(body) + ["extra"]), max_size=3)):
            body[key] = draw(VALUES | st.just(_deep(draw(st.integers(1, 500)))))
        msg["body"] = body
    for key in draw(st.lists(st.text(max_size=6), max_size=3)):
        msg[key] = draw(VALUES)
    return msgpack.packb(msg, use_bin_type=True)


def structural() -> st.SearchStrategy:
    """Frames that lie about their own structure: deep nesting, huge claimed lengths, 64-bit integers."""
    depth = st.integers(1, 5000)
    count = st.sampled_from([2**32 - 1, 2**31, 2**20, 2**19 + 1, 65536, 1000])
    return st.one_of(
        depth.map(lambda n: b"\x91" * n + b"\xc0"),                               # [[[...nil]]]
        depth.map(lambda n: b"\x81\xa1k" * n + b"\xc0"),                           # {"k": {"k": ...}}
        st.tuples(count, st.integers(1, 400)).map(lambda c: (b"\xdd" + struct.pack(">I", c[0])) * c[1]),
        st.tuples(count, st.integers(1, 400)).map(lambda c: (b"\xdf" + struct.pack(">I", c[0])) * c[1]),
        count.map(lambda c: b"\xdb" + struct.pack(">I", c) + b"x" * 10),            # str32 claiming c bytes
        count.map(lambda c: b"\xc6" + struct.pack(">I", c) + b"x" * 10),            # bin32
        st.integers(0, 2**64 - 1).map(lambda n: b"\xcf" + struct.pack(">Q", n)),
        st.binary(max_size=2048),
    )


ANY_FRAME = st.one_of(st.binary(max_size=512), structural(), schema_frames(p.GROUND_TO_SAT),
                      schema_frames(p.SAT_TO_GROUND), VALUES.map(lambda v: msgpack.packb(v, use_bin_type=True)))

# --- the decoder --------------------------------------------------------------------


def _decodes_or_frame_error(frame: bytes) -> None:
    for schema in (p.GROUND_TO_SAT, p.SAT_TO_GROUND):
        try:
            msg = p.decode(frame, schema)
        except p.FrameError as exc:
            assert exc.reason in ("malformed", "version", "oversize", "range", "unknown_type"), exc
            continue
        assert isinstance(msg, dict) and msg["v"] == 1 and msg["t"] in schema
        # What passes is safe to store: integers fit SQLite, bodies are JSON.
        for key, types in schema[msg["t"]].items():
            if types is p.INT:
                assert p.INT_MIN <= msg[key] <= p.INT_MAX
        if msg["t"] == "summary":
            import json
            json.dumps(msg["body"])


@settings(**FAST)
@given(ANY_FRAME)
def test_decode_never_raises_anything_but_frame_error(frame):
    _decodes_or_frame_error(frame)


@pytest.mark.reliability
@settings(**LONG)
@given(ANY_FRAME)
def test_decode_never_raises_anything_but_frame_error_long(frame):
    _decodes_or_frame_error(frame)


# Bytes of Python allocation while decoding one frame. msgpack's C unpacker stops at 1024 levels of
# nesting (StackError) and pre-sizes each open container to at most ~80 kB whatever it claims, so the
# worst case measured is ~84 MiB, transient, for 1000 nested array headers (5 kB): bounded, not small.
DECODE_BUDGET = 128 << 20


@pytest.mark.parametrize("frame", [
    b"\xdd\xff\xff\xff\xff" * 200_000,                       # 200k nested arrays each claiming 4G items
    b"\xdd\x00\x0f\x42\x40" * 1000 + b"\x00" * 900_000,         # 1000 nested arrays of 1M items, 1 MB of data
    b"\xdf\x00\x08\x00\x00" * 1000 + b"\x00" * 900_000,         # ... maps of 512k pairs
    b"\x91" * 1_000_000,                                      # a million levels deep
    b"\xdb\xff\xff\xff\xff" + b"x" * 100,                     # a 4 GB string announced
    msgpack.packb({"v": 1, "t": "ack", "ts": 1.0, "seqs": list(range(120_000))}),
    msgpack.packb({"v": 1, "t": "summary", "ts": 1.0, "seq": 1, "prio": 0,
                   "body": dict(summary_body(1), b=[[1, 2, 3, 4, 5]] * 100_000)}),
], ids=["claims-4G", "nested-1M-arrays", "nested-512k-maps", "deep-1M", "str-4G", "ack-120k", "body-100k-rows"])
def test_decoding_a_hostile_frame_allocates_within_a_bound(frame):
    tracemalloc.start()
    try:
        for schema in (p.GROUND_TO_SAT, p.SAT_TO_GROUND):
            try:
                p.decode(frame, schema)
            except p.FrameError:
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < DECODE_BUDGET, f"{peak / 2**20:.1f} MiB for a {len(frame)} byte frame"


# --- the ground's receive path ----------------------------------------------------------


def _ground_round(ground, frames: list[bytes], multipart: bool) -> None:
    sat, now = ground.sat, ground.now()
    for frame in frames:
        sat.send_multipart([frame, frame]) if multipart else sat.send(frame)
    ground.pump()
    # Still alive and still correct: a valid summary with a fresh seq is stored and acknowledged.
    seq = ground.next_seq()
    sat.send(p.encode("summary", now, seq=seq, prio=0, body=summary_body(seq)))
    assert ground.wait_ack(seq), f"no ack for probe summary {seq}"


@settings(**FAST)
@given(st.lists(ANY_FRAME, min_size=1, max_size=8), st.booleans())
def test_ground_receive_path_survives_anything(in_process_ground, frames, multipart):
    _ground_round(in_process_ground, frames, multipart)


@pytest.mark.reliability
@settings(**LONG)
@given(st.lists(ANY_FRAME, min_size=1, max_size=8), st.booleans())
def test_ground_receive_path_survives_anything_long(in_process_ground, frames, multipart):
    _ground_round(in_process_ground, frames, multipart)


def test_ground_stores_only_valid_summaries_once(in_process_ground):
    """After the fuzzing above (same module fixture): every stored row is a valid body, no seq twice."""
    _ground_round(in_process_ground, [b"\x00"], multipart=False)   # at least one probe, run alone too
    rows = stored_summaries(in_process_ground.station.store.path)
    assert rows, "the probes must have been stored"
    assert len({(r["satellite"], r["seq"]) for r in rows}) == len(rows)
    for row in rows:
        p.validate_body(row["body"])


# --- the satellite's receive path -------------------------------------------------------


def _satellite_round(sat, frames: list[bytes]) -> None:
    downlink = sat.daemon.downlink
    for frame in frames:
        downlink._on_frame(frame)
    assert sat.daemon.commander._thread.is_alive()
    assert all(t.is_alive() for t in sat.daemon.pipeline.threads)
    assert not sat.daemon.pipeline.failed
    sat.daemon.status()   # telemetry still snapshots (a hostile value in it would break the status line)


@settings(**FAST)
@given(st.lists(ANY_FRAME, min_size=1, max_size=8))
def test_satellite_receive_path_survives_anything(in_process_satellite, frames):
    _satellite_round(in_process_satellite, frames)


@pytest.mark.reliability
@settings(**LONG)
@given(st.lists(ANY_FRAME, min_size=1, max_size=8))
def test_satellite_receive_path_survives_anything_long(in_process_satellite, frames):
    _satellite_round(in_process_satellite, frames)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 12), min_size=1, max_size=12), st.lists(st.integers(1, 4), min_size=12, max_size=12))
def test_replayed_and_reordered_command_ids_are_not_executed(commanding_satellite, ids, classes):
    """Whatever order ids arrive in (replays, re-orderings, bursts), executions strictly increase and
    every command is answered; an id not above the last executed one is answered 'duplicate'."""
    sat = commanding_satellite
    base = sat.daemon.spool.last_cmd
    done_before = len(sat.executed())
    for i in ids:
        sat.daemon.downlink._on_frame(p.encode("cmd", 1.0, id=base + i, name="set_min_class",
                                               args={"cls": classes[i - 1]}))
    wanted = {base + i for i in ids}

    def answered() -> set[int]:
        done = {e["id"] for e in sat.executed()[done_before:]}
        return done | {cid for cid, _, detail, _ in sat.daemon.commander.replies if detail == "duplicate"}

    deadline = time.monotonic() + 20
    while not wanted <= answered():
        assert time.monotonic() < deadline, f"commands not answered: {sorted(wanted - answered())}"
        time.sleep(0.01)
    order = [e["id"] for e in sat.executed()[done_before:]]
    assert order == sorted(set(order)), f"executed out of order or twice: {order} from {ids}"
    assert order and order[0] == base + ids[0]
    assert set(order) <= {base + i for i in ids}
    # Every id that was not executed was answered as a duplicate, never silently dropped.
    answered = {cid for cid, ok, detail, _ in sat.daemon.commander.replies if detail == "duplicate"}
    assert {base + i for i in ids} - set(order) <= answered
    assert sat.daemon.spool.get("min_class") == classes[order[-1] - base - 1]
    sat.daemon.commander.replies.clear()


@pytest.mark.parametrize("args, says", [
    ({"precision": "fp64"}, "precision must be one of"),
    ({"precision": ["fp32"]}, "precision must be one of"),
    ({"precision": "x" * 100_000}, "precision must be one of"),
    ({}, "precision must be one of"),
    ({"precision": "int8-inc"}, "int8-inc"),          # not in this model's manifest
])
def test_set_precision_arguments_are_validated(commanding_satellite, args, says):
    _command_fails(commanding_satellite, "set_precision", args, says)


@pytest.mark.parametrize("args, says", [
    ({"cls": 0}, "1..4"), ({"cls": 5}, "1..4"), ({"cls": True}, "1..4"), ({"cls": "3"}, "1..4"),
    ({"cls": 2.0}, "1..4"), ({"cls": _deep(500)}, "1..4"), ({"cls": 2**63 - 1}, "1..4"), ({}, "1..4"),
])
def test_set_min_class_arguments_are_validated(commanding_satellite, args, says):
    _command_fails(commanding_satellite, "set_min_class", args, says)


def _command_fails(sat, name: str, args: dict, says: str) -> None:
    cmd_id = sat.daemon.spool.last_cmd + 1
    before = sat.daemon.spool.get("min_class", -1)
    sat.daemon.downlink._on_frame(p.encode("cmd", 1.0, id=cmd_id, name=name, args=args))
    deadline = time.monotonic() + 20
    while not any(r[0] == cmd_id for r in sat.daemon.spool.results()):
        assert time.monotonic() < deadline and sat.daemon.commander._thread.is_alive()
        time.sleep(0.01)
    _, ok, detail, _ = next(r for r in sat.daemon.spool.results() if r[0] == cmd_id)
    assert ok is False and says in detail, detail
    # The answer is short whatever was sent: it costs credit, and must fit a window.
    assert len(detail) < 200, len(detail)
    assert sat.daemon.spool.get("min_class", -1) == before
    assert sat.daemon.spool.last_cmd == cmd_id


def test_huge_ack_lists_and_64_bit_seqs_do_not_hurt_the_spool(in_process_satellite):
    sat = in_process_satellite
    seq = sat.daemon.spool.add(0, summary_body(1))
    sat.daemon.downlink._on_frame(p.encode("ack", 1.0, seqs=list(range(10**9, 10**9 + 100_000))))
    sat.daemon.downlink._on_frame(msgpack.packb({"v": 1, "t": "ack", "ts": 1.0, "seqs": [2**64 - 1, seq]}))
    assert sat.daemon.spool.stats()[0] >= 1          # the out-of-range frame was dropped as a whole
    sat.daemon.downlink._on_frame(p.encode("ack", 1.0, seqs=[2**63 - 1, seq]))
    assert seq in {s.seq for s in sat.daemon.spool.next_batch(set(), limit=10_000)}   # never sent: not acked
    sat.daemon.downlink.sent.add(seq)                 # as the link thread does when it sends it
    sat.daemon.downlink._on_frame(p.encode("ack", 1.0, seqs=[2**63 - 1, seq], inc=sat.daemon.spool.inc + 1))
    assert seq in {s.seq for s in sat.daemon.spool.next_batch(set(), limit=10_000)}   # another spool's ack
    sat.daemon.downlink._on_frame(p.encode("ack", 1.0, seqs=[2**63 - 1, seq]))
    assert seq not in {s.seq for s in sat.daemon.spool.next_batch(set(), limit=10_000)}
    assert sat.daemon.telemetry.values["frames_dropped"] >= 1


def test_a_command_whose_args_are_not_a_map_is_answered(commanding_satellite):
    """Issue 16 row 10, the satellite's side: such a `cmd` was dropped as malformed, so never answered."""
    _command_fails(commanding_satellite, "set_min_class", [1, 2], "args must be a map")


def test_a_command_id_near_2_63_does_not_make_later_commands_duplicates(commanding_satellite):
    """Issue 16, also seen: id 2**63-1 executed would make every later id a "duplicate". It is refused."""
    sat = commanding_satellite
    last = sat.daemon.spool.last_cmd
    sat.daemon.downlink._on_frame(p.encode("cmd", 1.0, id=2**63 - 1, name="set_min_class", args={"cls": 2}))
    cmd_id, ok, detail, _ = sat.daemon.commander.replies[-1]
    assert (cmd_id, ok) == (2**63 - 1, False) and "refused" in detail
    assert sat.daemon.spool.last_cmd == last
    _command_fails(sat, "set_min_class", {"cls": 9}, "1..4")   # the next id still runs (and is answered)
    sat.daemon.commander.replies.clear()
