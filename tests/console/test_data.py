"""What the console's map reads from a real store: each scene's reference coverage and each building's grading
basis, for summaries of this version and of an older satellite, and only what was stored after the page's place."""

from __future__ import annotations

from ground.console.data import map_after
from ground.store import Store
from satedge.protocol import SAT_TO_GROUND, decode, encode, post_only_bitmap, validate_body
from satedge.vocabulary import POST_ONLY, PRE_POST
from tests.ground.minisat import summary_body


def _store(path, bodies: dict[int, dict]) -> None:
    """Each body (by seq) through a real frame (encoded, then decoded as the station does) into the store."""
    store = Store(path)
    try:
        for seq, body in bodies.items():
            validate_body(body)
            frame = encode("summary", body["acq"], seq=seq, prio=0, body=body)
            message = decode(frame, SAT_TO_GROUND)
            assert store.add_summaries([dict(satellite="sat-1", seq=seq, prio=0, received=body["acq"] + 60, win=1,
                                             bytes=len(frame), body=message["body"])]) == [True]
    finally:
        store.close()


def test_the_map_carries_coverage_and_basis(tmp_path):
    path = tmp_path / "ground.sqlite"
    partly = summary_body(1, buildings=3) | {"cov": 30, "po": post_only_bitmap([True, False, True])}
    _store(path, {1: summary_body(2), 2: partly})   # an older satellite's body, then this version's
    first = map_after(path, 0)
    assert "error" not in first
    assert [(s["scene"], s["coverage"], s["listed"], s["post_only"]) for s in first["scenes"]] == [
        ("scene-002", 100, 3, 0), ("scene-001", 30, 3, 2)]
    assert [(b["properties"]["scene"], b["properties"]["basis"], b["properties"]["coverage"])
            for b in first["buildings"]] == [
        ("scene-002", PRE_POST, 100), ("scene-002", PRE_POST, 100), ("scene-002", PRE_POST, 100),
        ("scene-001", POST_ONLY, 30), ("scene-001", PRE_POST, 30), ("scene-001", POST_ONLY, 30)]

    nothing_new = map_after(path, first["after"])
    assert nothing_new == {"after": first["after"], "buildings": [], "scenes": []}
    _store(path, {3: summary_body(3, buildings=2) | {"cov": 0, "po": post_only_bitmap([True, True])}})
    later = map_after(path, first["after"])                        # the live stream: only what came since
    assert [(s["scene"], s["coverage"], s["post_only"]) for s in later["scenes"]] == [("scene-003", 0, 2)]
    assert {b["properties"]["basis"] for b in later["buildings"]} == {POST_ONLY}
