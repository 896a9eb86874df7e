"""Link faults between the real daemon and the real ground station (`satedge sim`'s processes):
frame loss both ways, duplicated and re-ordered frames (a proxy), a delay longer than a window,
windows missed entirely while the ground is unreachable, and the spool's bound when the outage
outlasts it. Nothing is lost (except what the spool's policy drops, counted), nothing stored twice."""

from __future__ import annotations

import collections
import json
import time

import pytest

from ground.store import command_results, connect, queue_command
from tests.reliability.harness import Constellation, scenario, stop_quietly
from tests.reliability.proxy import FaultProxy

pytestmark = pytest.mark.timeout(600)


def _exactly_once(c: Constellation, expected: set[str] | None = None) -> dict:
    stored = c.stored_scenes()
    counts = collections.Counter(stored)
    expected = set(c.expected) if expected is None else expected
    numbers = {"expected": len(expected), "stored": len(stored), "lost": len(expected - set(stored)),
               "duplicated_in_store": sum(n - 1 for n in counts.values()), "left_in_spool": c.spooled()}
    assert numbers["lost"] == 0 and numbers["duplicated_in_store"] == 0, numbers
    return numbers


def _lossy_run(tmp_path, model, loss: float, seed: int, scenes: int) -> dict:
    c = None
    try:
        c = Constellation(scenario(model, clock={"speedup": 40.0},
                                   scenario={"scenes_per_orbit": scenes, "scene_size": 256},
                                   link={"loss": loss, "seed": seed, "rate_bps": 2000.0, "delay_s": 0.5}),
                          tmp_path / "run")
        c.start_all()
        c.wait_delivered(timeout=300)
        numbers = _exactly_once(c)
        numbers.update({k: v for k, v in c.counters().items() if k in ("lost_uplink", "lost_downlink",
                                                                       "duplicates", "drop_over_credit")})
        c.stop()
        c = None
        print(f"loss {loss}:", json.dumps(numbers))
        return numbers
    finally:
        stop_quietly(c)


@pytest.mark.reliability   # ~40 s; `make test` has the station's own lossy-link test (tests/ground)
def test_a_third_of_the_frames_lost_both_ways(tmp_path, tiny_model_dir):
    numbers = _lossy_run(tmp_path, tiny_model_dir, 0.3, seed=3, scenes=4)
    assert numbers["lost_uplink"] > 0 and numbers["lost_downlink"] > 0, numbers


@pytest.mark.reliability
@pytest.mark.parametrize("loss", [0.0, 0.1, 0.3, 0.5])
def test_frame_loss_from_0_to_50_percent(tmp_path, tiny_model_dir, loss):
    _lossy_run(tmp_path, tiny_model_dir, loss, seed=11, scenes=12)


def _proxied_run(tmp_path, model, dup: float, reorder: float, seed: int, scenes: int) -> dict:
    c = proxy = None
    try:
        c = Constellation(scenario(model, security={"mode": "none"}, clock={"speedup": 40.0},
                                   scenario={"scenes_per_orbit": scenes, "scene_size": 256},
                                   link={"rate_bps": 2000.0}), tmp_path / "run")
        proxy = FaultProxy(c.run.address, dup=dup, reorder=reorder, seed=seed).start()
        onboard_toml = c.members["onboard"].config
        onboard_toml.write_text(onboard_toml.read_text().replace(f'"{c.run.address}"', f'"{proxy.address}"'))
        db = connect(c.run.store)
        try:   # commands go through the proxy too: duplicated, re-ordered
            ids = [queue_command(db, "set_min_class", {"cls": cls}) for cls in (3, 1, 2)]
        finally:
            db.close()
        c.start_all()
        c.wait_delivered(timeout=300)
        deadline = time.monotonic() + 90
        while sum(r["ok"] is not None for r in command_results(c.run.store)) != len(ids):
            assert time.monotonic() < deadline, command_results(c.run.store)
            time.sleep(0.2)
        numbers = _exactly_once(c)
        executed = [e["id"] for e in c.events("onboard", "command done")]
        answers = {r["cmd_id"]: r["detail"] for r in command_results(c.run.store)}
        numbers.update(proxy=dict(proxy.counts), commands_executed=executed, answers=answers,
                       ground_duplicates=c.counters().get("duplicates", 0),
                       drop_over_credit=c.counters().get("drop_over_credit", 0))
        c.stop()
        c = None
        print(f"dup {dup} reorder {reorder}:", json.dumps(numbers))
        # Each command executed at most once, in increasing id order; one overtaken by a newer id
        # (re-ordered on the link) is answered "duplicate", not run; every command is answered.
        assert executed == sorted(set(executed)), executed
        assert all(answers[i] == "duplicate" for i in ids if i not in executed), answers
        return numbers
    finally:
        stop_quietly(c)
        if proxy is not None:
            proxy.close()


def test_duplicated_and_reordered_frames(tmp_path, tiny_model_dir):
    numbers = _proxied_run(tmp_path, tiny_model_dir, dup=0.2, reorder=0.2, seed=5, scenes=6)
    counts = numbers["proxy"]
    assert counts.get("up_duplicated", 0) > 0 and counts.get("down_duplicated", 0) > 0, counts
    assert counts.get("up_reordered", 0) > 0 and counts.get("down_reordered", 0) > 0, counts


@pytest.mark.reliability
def test_duplicated_and_reordered_frames_heavily(tmp_path, tiny_model_dir):
    _proxied_run(tmp_path, tiny_model_dir, dup=0.4, reorder=0.4, seed=6, scenes=16)


@pytest.mark.reliability
def test_delay_longer_than_a_window_then_recovery(tmp_path, tiny_model_dir):
    """With a one-way delay of 1.5 windows, grants and frames land in the wrong window or none;
    nothing may be lost or stored twice; once the link is sane again (the ground restarted with a
    normal delay) everything comes down exactly once."""
    c = None
    try:
        c = Constellation(scenario(tiny_model_dir, scenario={"scenes_per_orbit": 6, "scene_size": 256},
                                   link={"delay_s": 225.0, "rate_bps": 2000.0}), tmp_path / "run")
        c.start_all()
        c.wait_log("camera", "feed finished", timeout=120)
        windows_before = _windows(c)
        while _windows(c) < windows_before + 3:          # three windows with the long delay
            assert c.members["ground"].alive()
            time.sleep(0.2)
        during = {"stored": len(c.stored_scenes()), "spooled": c.spooled(), **c.counters()}
        c.stop_member("ground")
        ground_toml = c.members["ground"].config
        ground_toml.write_text(ground_toml.read_text().replace("delay_s = 225.0", "delay_s = 0.01"))
        c.start("ground")
        c.wait_delivered(timeout=120)
        numbers = _exactly_once(c)
        c.stop()
        c = None
        print("delay 1.5 windows:", json.dumps({"during": during, "after": numbers}))
        # Meanwhile nothing was lost either: what had not come down was still in the spool.
        assert during["spooled"] + during["stored"] == numbers["expected"], during
    finally:
        stop_quietly(c)


def _windows(c: Constellation) -> int:
    return len(c.events("ground", "AOS"))


def _outage_run(tmp_path, model, *, scenes: int, bound: int, windows: int) -> dict:
    """The ground is down before the pass and for `windows` windows; the spool holds `bound`."""
    c = None
    try:
        c = Constellation(scenario(model, clock={"speedup": 60.0},
                                   scenario={"scenes_per_orbit": scenes, "scene_size": 256, "pass_offset_s": 20.0,
                                             "scene_interval_s": 10.0},
                                   spool={"max_summaries": bound}, link={"rate_bps": 4000.0}), tmp_path / "run")
        c.start("onboard")
        c.start("camera", wait=False)
        c.wait_log("camera", "feed finished", timeout=120)
        deadline = time.monotonic() + 60
        while len(c.events("onboard", "scene summarised")) < scenes:
            assert time.monotonic() < deadline, c.log("onboard")[-2000:]
            time.sleep(0.1)
        missed, was_open = 0, c.in_window()
        while missed < windows:                           # windows pass with nobody listening
            now_open = c.in_window()
            missed += was_open and not now_open
            was_open = now_open
            time.sleep(0.05)
        c.start("ground")
        deadline = time.monotonic() + 120
        while c.spooled():
            assert time.monotonic() < deadline, f"spool not drained: {c.spooled()}"
            time.sleep(0.2)
        summarised = c.events("onboard", "scene summarised")
        evicted = c.events("onboard", "status")[-1]["spool_evicted"]
        stored = set(c.stored_scenes())
        kept = sorted(e["seq"] for e in summarised if e["scene"] in stored)
        dropped = sorted(e["seq"] for e in summarised if e["scene"] not in stored)
        numbers = _exactly_once(c, expected=stored)
        numbers.update(acquired=scenes, spool_bound=bound, evicted_counted=evicted, windows_missed=missed,
                       kept_seqs=kept, dropped_seqs=dropped, prios=sorted({e["prio"] for e in summarised}))
        c.stop()
        c = None
        print("outage:", json.dumps(numbers))
        return numbers
    finally:
        stop_quietly(c)


def test_ground_unreachable_for_windows_spool_bound_and_policy(tmp_path, tiny_model_dir):
    numbers = _outage_run(tmp_path, tiny_model_dir, scenes=8, bound=3, windows=2)
    # Nothing lost silently: every scene is stored once or was dropped by the spool's policy, counted.
    assert numbers["stored"] + numbers["evicted_counted"] == numbers["acquired"], numbers
    assert numbers["stored"] == numbers["spool_bound"]
    # The policy, for equal priorities: the oldest go first; with mixed ones, the least urgent
    # (tests/onboard/test_spool.py checks that ordering on the spool itself).
    if len(numbers["prios"]) == 1:
        assert max(numbers["dropped_seqs"]) < min(numbers["kept_seqs"]), numbers


@pytest.mark.reliability
def test_ground_unreachable_for_five_windows(tmp_path, tiny_model_dir):
    numbers = _outage_run(tmp_path, tiny_model_dir, scenes=16, bound=5, windows=5)
    assert numbers["stored"] + numbers["evicted_counted"] == numbers["acquired"], numbers
