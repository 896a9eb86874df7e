"""Issue 16, rows 5 and 6: a spool or a ground store replaced by a fresh one (the corrupt one moved aside),
against a real ground station and a real satellite daemon. Sequence and command ids restart at 1 in the fresh
file; the incarnation ids in `hello`, `ack`, `cmd` and `cmd_result` (docs/protocol.md) keep them apart."""

from __future__ import annotations

import pytest

from tests.onboard.conftest import Geo

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(300)]


def publish(geo: Geo, p, names: list[str], seed: int) -> None:
    p.inbox.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        geo.scene(p.inbox, name, col=60 * i, row=40 * i, seed=seed + i)


def test_a_replaced_spool_does_not_make_new_summaries_duplicates(pair, geo):
    """Row 5: the spool is moved aside and the daemon restarted on a fresh one, whose seqs restart at 1.
    Its summaries are stored, not acked as duplicates of the old seqs and deleted."""
    p = pair()
    p.start_ground()
    publish(geo, p, ["old-0", "old-1", "old-2"], seed=0)
    p.start_sat()
    p.wait(lambda: len(p.stored_scenes()) == 3 and p.spooled() == 0, "the first scenes delivered")
    assert p.sat.stop() == 0
    for path in p.spool.parent.glob("spool.sqlite*"):
        path.rename(path.with_name("corrupt-" + path.name))
    publish(geo, p, ["new-0", "new-1", "new-2"], seed=10)
    p.start_sat()
    p.wait(lambda: len(p.stored_scenes()) == 6 and p.spooled() == 0, "the fresh spool's scenes stored")
    assert sorted(p.stored_scenes()) == ["new-0", "new-1", "new-2", "old-0", "old-1", "old-2"]


def test_a_replaced_ground_store_does_not_make_new_commands_duplicates(pair):
    """Row 6: the ground store is replaced by a fresh one, whose command ids restart at 1. The satellite
    runs the new command 1 (it answered the old command 1 already), and the answer is the new one's."""
    p = pair()
    p.start_ground()
    p.start_sat()
    first = p.queue("set_min_class", {"cls": 3})
    assert p.wait_answered(first)["detail"] == "min_class 3"
    assert p.ground.stop() == 0
    for path in p.store.parent.glob("ground.sqlite*"):
        path.rename(path.with_name("corrupt-" + path.name))
    p.start_ground()
    again = p.queue("set_min_class", {"cls": 1})
    assert again == first                                   # the fresh store's ids start again
    answer = p.wait_answered(again)
    assert (answer["ok"], answer["detail"]) == (True, "min_class 1"), answer
    assert [e["id"] for e in p.sat.events("command done")] == [first, again]
