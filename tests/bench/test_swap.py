"""`bench.swap`'s timing of one swap from the daemon's and the ground's events."""

from __future__ import annotations

from bench.swap import _swap_row


def summary(prec: str, started: float, took_s: float) -> dict:
    return {"prec": prec, "ts": started + took_s, "ms": took_s * 1000.0}


def test_the_first_tile_is_the_new_engines_not_a_retired_engines_last_scene():
    """INT8 -> FP32 -> INT8 in quick succession: the INT8 scene the first swap retired is summarised after the
    second request; the new INT8 engine's first scene is the one started after that request."""
    sent = {"ts": 100.0}
    done = {"from": "fp32", "prec": "int8-nncf", "ok": True, "detail": "", "s": 0.1, "ts": 100.15}
    summarised = [summary("int8-nncf", 99.0, 1.5),       # the retired engine's scene: started before the request
                  summary("fp32", 99.5, 0.6),
                  summary("int8-nncf", 100.2, 0.3)]      # the new engine's first scene
    row = _swap_row("int8", done, sent, summarised)
    assert row["request_to_serving_s"] == 0.15
    assert row["request_to_first_tile_s"] == 0.2 and row["first_tile_after_serving_s"] == 0.05
