"""The satedge downlink protocol, version 1 (docs/protocol.md): encoding, validation, limits.

The satellite owns this format; the ground imports this module and nothing
else of `onboard`. Every frame is one msgpack map with `v`, `t`, `ts`.
`decode` never raises anything but `FrameError`, and bounds what a hostile
peer can make it allocate: msgpack's own length limits are set, so a frame
cannot claim more items than its bytes could hold.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from typing import Any

import msgpack

from satedge.vocabulary import PRECISIONS

VERSION = 1

# Integers on the wire are what SQLite (both sides' stores) can hold: signed 64 bits.
INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1
# A summary body is at most this deep (it is stored as JSON; the body itself is 3 levels deep).
MAX_BODY_DEPTH = 16

# Largest frame either side accepts. A summary of a scene with thousands of
# damaged buildings is tens of kilobytes; nothing legitimate comes near this.
MAX_FRAME_BYTES = 1 << 20

# Message types and the keys each must carry, with their Python types.
Types = tuple[type, ...]
Schema = dict[str, dict[str, Types]]
# A decoded frame: a msgpack map whose keys `decode` checked against the schema (values are msgpack's).
Message = dict[str, Any]

INT: Types = (int,)
NUM: Types = (int, float)
STR: Types = (str,)
BOOL: Types = (bool,)
LIST: Types = (list,)
MAP: Types = (dict,)
ANY: Types = (object,)

GROUND_TO_SAT: Schema = {
    "aos": {"win": INT, "until": NUM},
    "credit": {"win": INT, "bytes": INT},
    "los": {"win": INT},
    "ack": {"seqs": LIST},
    "cmd": {"id": INT, "name": STR, "args": ANY},   # args not a map: answered ok=false, not dropped unanswered
}
SAT_TO_GROUND: Schema = {
    "hello": {"sat": STR, "model": STR, "prec": STR, "spooled": INT, "last_cmd": INT},
    "summary": {"seq": INT, "prio": INT, "body": MAP},
    "cmd_result": {"id": INT, "ok": BOOL, "detail": STR},
    "telemetry": {},
}

# Keys a frame may carry (checked when present): the incarnation ids of docs/protocol.md, "Reliability".
OPTIONAL: Schema = {"hello": {"inc": INT}, "ack": {"inc": INT}, "cmd": {"inc": INT}, "cmd_result": {"inc": INT}}

BODY_KEYS: dict[str, Types] = {
    "scene": STR, "acq": NUM, "bbox": LIST, "model": STR, "prec": STR,
    "raw": INT, "n": LIST, "b": LIST,
}

MIN_CLASS_DEFAULT = 2

# Optional body key `ood`: the out-of-distribution guard's flag (onboard/guard.py), present only on a flagged
# scene, as the names of the statistics that were out of range.
OOD_KEY = "ood"
OOD_MAX_NAMES = 8
OOD_MAX_NAME_LEN = 16

# Optional body keys `cov` and `po` (docs/protocol.md, "Reference coverage"): how much of the scene the pre-event
# reference covered, and which listed buildings were graded from the post image alone.
COVERAGE_KEY = "cov"      # int 0..100: percent of the scene's pixels with a pre-event view
POST_ONLY_KEY = "po"      # str: base64 of a bitmap over the rows of `b`, bit i (LSB first) = row i is post-only

# Ranges of a summary's fields (docs/protocol.md, "Summary body"): what is outside is dropped, never stored.
ACQ_MIN, ACQ_MAX = 0.0, 253402300799.0   # Unix seconds from 1970 to the end of year 9999 (what ISO 8601 shows)
MAX_SCENE_ID = 256                         # characters; the satellite cuts a longer SCENE_ID tag to this
MAX_NAME = 64                              # characters of a model name
# Buildings a summary lists at most (the most damaged first; `cut` counts the rest): with the scene id bounded
# too, a summary frame stays under ~17 kB, so one window of any sane link carries it (a larger one would
# wait for credit forever and, sent in order, hold up every summary behind it).
MAX_LISTED = 1000


class FrameError(ValueError):
    """A frame that must be dropped and counted; `reason` is a short counter name."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class UnknownType(FrameError):
    """A well-formed v1 frame of a type this side does not know: ignored and counted."""


def encode(t: str, ts: float, **keys: Any) -> bytes:
    """One frame: a msgpack map with `v`, `t`, `ts` and the type's keys."""
    frame: bytes = msgpack.packb({"v": VERSION, "t": t, "ts": float(ts), **keys}, use_bin_type=True)
    return frame


def _is(value: Any, types: Types) -> bool:
    # bool is an int in Python; an int field must not accept True.
    if types is INT or types is NUM:
        if isinstance(value, bool) or not isinstance(value, types):
            return False
        if isinstance(value, float):
            return math.isfinite(value)
        return isinstance(value, int) and INT_MIN <= value <= INT_MAX
    return isinstance(value, types)


def decode(frame: bytes, accept: Schema) -> Message:
    """Parse and validate one frame against the types this side accepts.

    Raises `FrameError` (malformed: drop and count) or `UnknownType` (a v1
    frame of another type: ignore and count). Never anything else.
    """
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        raise FrameError("malformed", "not bytes")
    if len(frame) > MAX_FRAME_BYTES:
        raise FrameError("oversize", f"{len(frame)} bytes")
    try:
        msg = msgpack.unpackb(
            frame, raw=False, strict_map_key=True, use_list=True,
            max_str_len=MAX_FRAME_BYTES,
            max_bin_len=MAX_FRAME_BYTES, max_array_len=MAX_FRAME_BYTES,
            max_map_len=MAX_FRAME_BYTES // 2, max_ext_len=0,
        )
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError, TypeError,
            UnicodeDecodeError, OverflowError, RecursionError) as exc:
        raise FrameError("malformed", type(exc).__name__) from None
    if not isinstance(msg, dict):
        raise FrameError("malformed", "not a map")
    if "v" not in msg or "t" not in msg:
        raise FrameError("malformed", "missing v or t")
    if msg["v"] != VERSION or isinstance(msg["v"], bool):
        raise FrameError("version", f"v={msg['v']!r}")
    t = msg["t"]
    if not isinstance(t, str):
        raise FrameError("malformed", "t is not a string")
    if not _is(msg.get("ts"), NUM):
        raise FrameError("malformed", "ts missing or not a number")
    schema = accept.get(t)
    if schema is None:
        raise UnknownType("unknown_type", t[:32])
    for key, types in schema.items():
        if key not in msg or not _is(msg[key], types):
            raise FrameError("malformed", f"{t}.{key}")
    for key, types in OPTIONAL.get(t, {}).items():
        if key in msg and not _is(msg[key], types):
            raise FrameError("malformed", f"{t}.{key}")
    if t == "ack" and not all(_is(s, INT) for s in msg["seqs"]):
        raise FrameError("malformed", "ack.seqs")
    if t == "summary":
        validate_summary(msg)
    return msg


def validate_summary(msg: Message) -> None:
    """A `summary` frame's numbers within docs/protocol.md's ranges, and its body (`FrameError` if not)."""
    if not 1 <= msg["seq"] <= INT_MAX:
        raise FrameError("range", "summary.seq")
    if not 0 <= msg["prio"] <= 3:
        raise FrameError("range", "summary.prio")
    validate_body(msg["body"])


def validate_body(body: dict[str, Any]) -> None:
    """Check a summary body against docs/protocol.md; raise `FrameError` if it does not keep to it."""
    for key, types in BODY_KEYS.items():
        if key not in body or not _is(body[key], types):
            raise FrameError("malformed", f"body.{key}")
    bbox, n = body["bbox"], body["n"]
    if len(bbox) != 4 or not all(_is(x, NUM) for x in bbox):
        raise FrameError("malformed", "body.bbox")
    _check_ranges(body)
    if len(n) != 4 or not all(_is(x, INT) and x >= 0 for x in n):
        raise FrameError("malformed", "body.n")
    for row in body["b"]:
        if (not isinstance(row, list) or len(row) != 5 or not all(_is(x, INT) for x in row)
                or not 1 <= row[2] <= 4 or not 0 <= row[3] <= 65535 or not 0 <= row[4] <= 100):
            raise FrameError("malformed", "body.b")
    if OOD_KEY in body and not _valid_ood(body[OOD_KEY]):
        raise FrameError("malformed", "body.ood")
    if COVERAGE_KEY in body and not (_is(body[COVERAGE_KEY], INT) and 0 <= body[COVERAGE_KEY] <= 100):
        raise FrameError("range", "body.cov")
    if POST_ONLY_KEY in body:
        post_only_rows(body)
    check_storable(body, "body")


def post_only_bitmap(flags: Sequence[bool]) -> str:
    """`po` for the rows of `b`: a bitmap (row i is bit i % 8 of byte i // 8) in base64, ~0.17 bytes a row."""
    bits = sum(1 << i for i, flag in enumerate(flags) if flag)
    return base64.b64encode(bits.to_bytes((len(flags) + 7) // 8, "little")).decode("ascii")


def post_only_rows(body: dict[str, Any]) -> list[bool]:
    """Per row of `b`, whether it was graded post-only (`FrameError` if `po` does not fit `b`); all False
    without `po` (a scene seen whole by the reference, or a satellite older than the key)."""
    rows = len(body["b"])
    text = body.get(POST_ONLY_KEY)
    if text is None:
        return [False] * rows
    try:
        raw = base64.b64decode(text, validate=True) if isinstance(text, str) else None
    except (binascii.Error, ValueError):
        raw = None
    if raw is None or len(raw) != (rows + 7) // 8:
        raise FrameError("malformed", "body.po")
    bits = int.from_bytes(raw, "little")
    if bits >> rows:
        raise FrameError("malformed", "body.po has bits past the last row")
    return [bool(bits >> i & 1) for i in range(rows)]


def _valid_ood(value: Any) -> bool:
    """`ood`: 1..OOD_MAX_NAMES short statistic names (a flagged scene names at least one)."""
    return (isinstance(value, list) and 1 <= len(value) <= OOD_MAX_NAMES
            and all(isinstance(x, str) and 1 <= len(x) <= OOD_MAX_NAME_LEN for x in value))


def _check_ranges(body: dict[str, Any]) -> None:
    """What the ground stores and reports must mean something: a time a calendar can show, a place on Earth."""
    lon0, lat0, lon1, lat1 = body["bbox"]
    if not all(-180 <= x <= 180 for x in (lon0, lon1)) or not -90 <= lat0 <= lat1 <= 90:
        raise FrameError("range", "body.bbox")
    if not ACQ_MIN <= body["acq"] <= ACQ_MAX:
        raise FrameError("range", "body.acq")
    if body["raw"] < 0:
        raise FrameError("range", "body.raw")
    if body["prec"] not in PRECISIONS:
        raise FrameError("range", "body.prec")
    if len(body["b"]) > MAX_LISTED:
        raise FrameError("range", "body.b length")
    if not 1 <= len(body["scene"]) <= MAX_SCENE_ID or not 1 <= len(body["model"]) <= MAX_NAME:
        raise FrameError("range", "body.scene or body.model length")


def check_storable(value: Any, what: str) -> None:
    """A free-form map both sides store as JSON (a summary body, a command's args): string keys, no bytes,
    no deep nesting, integers SQLite and msgpack hold, finite numbers (JSON has no NaN)."""
    pending = [(value, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_BODY_DEPTH:
            raise FrameError("malformed", f"{what} nested too deep")
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise FrameError("malformed", f"{what} key not a string")
            pending.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            pending.extend((v, depth + 1) for v in value)
        elif (isinstance(value, bytes) or (isinstance(value, int) and not INT_MIN <= value <= INT_MAX)
              or (isinstance(value, float) and not math.isfinite(value))):
            raise FrameError("malformed", f"{what} value not storable")


def priority(counts: list[int]) -> int:
    """`prio` from `n`: 0 if any destroyed, 1 if any major, 2 if any minor, else 3."""
    _, minor, major, destroyed = counts
    if destroyed:
        return 0
    if major:
        return 1
    if minor:
        return 2
    return 3


def micro_degrees(value: float) -> int:
    """Degrees as the integer micro-degrees of a building's offset (`dlon`, `dlat`)."""
    return int(round(value * 1e6))
