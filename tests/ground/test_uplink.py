"""The command part on its own: sent at each contact's start, re-sent only after the retry interval."""

from __future__ import annotations

import pytest

from ground.store import command_results, queue_command
from ground.uplink import retry_interval
from tests.ground.parts import ORIGIN, PERIOD_S, RETRY_S, WINDOW_S, arrival, cmd_result, make_parts


@pytest.fixture
def parts(tmp_path):
    parts = make_parts(tmp_path)
    yield parts
    parts.store.close()


def sent(parts, sat_id: str = "sat-1") -> list[tuple[object, float]]:
    return [(c["id"], c["now"]) for c in parts.radio.of("cmd", sat_id)]


def result(parts, cmd_id: int, sat_id: str = "sat-1") -> tuple | None:
    rows = [(r["ok"], r["detail"]) for r in command_results(parts.store.path)
            if (r["cmd_id"], r["satellite"]) == (cmd_id, sat_id)]
    return rows[0] if rows else None


def test_a_command_is_sent_at_the_window_start_and_again_only_after_the_retry_interval(parts):
    cmd = queue_command(parts.store.db, "set_precision", {"precision": "fp32"})
    parts.hello("sat-1", ORIGIN - 10)
    parts.commands.send_due(parts.windows.in_contact(), ORIGIN - 5)
    assert sent(parts) == []   # no window, no contact: nothing goes up

    parts.windows.update(ORIGIN)   # AOS: the command goes with it
    assert [t for _, _, t, _ in parts.radio.sent] == ["aos", "cmd"]
    assert parts.radio.of("cmd")[0]["args"] == {"precision": "fp32"}
    for t in (0.25, 5.0, RETRY_S - 0.01):
        parts.commands.send_due(parts.windows.in_contact(), ORIGIN + t)
    assert sent(parts) == [(cmd, ORIGIN)]
    parts.commands.send_due(parts.windows.in_contact(), ORIGIN + RETRY_S)
    parts.commands.send_due(parts.windows.in_contact(), ORIGIN + RETRY_S + 1)
    assert sent(parts) == [(cmd, ORIGIN), (cmd, ORIGIN + RETRY_S)]
    assert [(r["sent"], r["first_sent"]) for r in command_results(parts.store.path)] == [(2, ORIGIN)]

    # Each new window's contact sends it at its start, however recent the last send.
    parts.windows.update(ORIGIN + WINDOW_S)
    parts.windows.update(ORIGIN + PERIOD_S)
    assert sent(parts)[-1] == (cmd, ORIGIN + PERIOD_S)


def test_an_answered_command_is_not_sent_again_and_a_targeted_one_goes_only_to_its_target(parts):
    everyone = queue_command(parts.store.db, "set_min_class", {"cls": 3})
    only_2 = queue_command(parts.store.db, "set_precision", {"precision": "fp16"}, target="sat-2")
    parts.hello("sat-1", ORIGIN - 10)
    parts.hello("sat-2", ORIGIN - 10)
    parts.windows.update(ORIGIN)
    assert [c for c, _ in sent(parts, "sat-1")] == [everyone]
    assert [c for c, _ in sent(parts, "sat-2")] == [everyone, only_2]

    parts.windows.grant(ORIGIN + 5)
    parts.intake.deliver([arrival("sat-1", cmd_result(everyone, "min class 3"))], ORIGIN + 5)
    assert result(parts, everyone) == (True, "min class 3")
    parts.commands.send_due(parts.windows.in_contact(), ORIGIN + 2 * RETRY_S)
    assert [c for c, _ in sent(parts, "sat-1")] == [everyone]
    assert [c for c, _ in sent(parts, "sat-2")] == [everyone, only_2, everyone, only_2]


def test_a_duplicate_answer_does_not_replace_a_real_one(parts):
    cmd = queue_command(parts.store.db, "set_precision", {"precision": "fp32"})
    parts.hello("sat-1", ORIGIN - 10)
    parts.windows.update(ORIGIN)
    parts.windows.grant(ORIGIN + 10)
    parts.intake.deliver([arrival("sat-1", cmd_result(cmd, "fp32 serving"))], ORIGIN + 1)
    parts.intake.deliver([arrival("sat-1", cmd_result(cmd, "duplicate"))], ORIGIN + 2)   # the answer to a re-send
    assert result(parts, cmd) == (True, "fp32 serving")


def test_a_real_answer_replaces_a_duplicate_one(parts):
    cmd = queue_command(parts.store.db, "set_precision", {"precision": "fp32"})
    parts.hello("sat-1", ORIGIN - 10)
    parts.windows.update(ORIGIN)
    parts.windows.grant(ORIGIN + 10)
    # The real answer was lost on the link; the satellite answered the re-send "duplicate".
    parts.intake.deliver([arrival("sat-1", cmd_result(cmd, "duplicate"))], ORIGIN + 1)
    assert result(parts, cmd) == (True, "duplicate")
    parts.intake.deliver([arrival("sat-1", cmd_result(cmd, "fp32 serving"))], ORIGIN + 2)
    assert result(parts, cmd) == (True, "fp32 serving")


def test_retries_are_never_within_two_wall_seconds():
    assert retry_interval(60.0, speedup=1.0) == 60.0
    assert retry_interval(60.0, speedup=600.0) == 1200.0
