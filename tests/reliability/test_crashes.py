"""Crashes: `kill -9` of the satellite daemon (mid-inference, mid-spool-write, mid-send, at random)
and of the ground station during a simulation; each is restarted; at the end every acquired
scene's summary is in the ground store exactly once and nothing is left in the spool.

The run is `satedge sim`'s (ground, onboard, camera as processes; `sim.run.prepare`). A moment is
found by watching the run from outside: a scene in the inbox that the spool does not know yet
(being read or inferred), the spool's WAL file changing (a commit under way), a summary reaching
the ground store inside a window (the downlink sending). What the kill interrupted is read back
afterwards from the spool and the inbox, and reported.
"""

from __future__ import annotations

import collections
import json
import random
import time

import pytest

from onboard.spool import spooled_count
from tests.reliability.harness import Constellation, scenario, stop_quietly

pytestmark = pytest.mark.timeout(900)


def _wal_stamp(c: Constellation):
    try:
        st = c.spool_wal.stat()
        return st.st_size, st.st_mtime_ns
    except FileNotFoundError:
        return None


def _wait_moment(c: Constellation, kind: str, rng: random.Random, patience: float) -> bool:
    """Block until a moment of `kind` is under way; False if none came within `patience` s."""
    deadline = time.monotonic() + patience
    if kind == "spool":
        before = _wal_stamp(c)
        while time.monotonic() < deadline:
            if _wal_stamp(c) != before:
                return True
            time.sleep(0.0005)
        return False
    if kind == "inference":
        while time.monotonic() < deadline:
            if set(c.inbox_files()) - c.spooled_sources():
                time.sleep(rng.uniform(0.0, 0.04))
                return True
            time.sleep(0.003)
        return False
    if kind == "send":
        stored = len(c.stored_scenes())
        while time.monotonic() < deadline:
            if c.in_window() and c.spooled() > 0 and len(c.stored_scenes()) > stored:
                return True
            time.sleep(0.005)
        return False
    time.sleep(rng.uniform(0.0, 2.0))   # "random"
    return True


def _post_mortem(c: Constellation) -> str:
    inbox, sources = set(c.inbox_files()), c.spooled_sources()
    if inbox & sources:
        return "spooled, not yet retired from the inbox"
    if inbox - sources:
        return "scene read or in inference, not spooled"
    if c.spooled():
        return "summaries waiting or in flight"
    return "idle"


def crash_run(tmp_path, model, *, sat_kinds: list[str], ground_kills_after: set[int], seed: int,
              scenes: int, orbits: int, size: int) -> dict:
    rng = random.Random(seed)
    c = None
    record = {"kills": [], "ground_kills": 0}
    try:
        c = Constellation(scenario(model, scenario={"scenes_per_orbit": scenes, "orbits": orbits,
                                                    "scene_size": size}), tmp_path / "run")
        c.start_all()
        for i, kind in enumerate(sat_kinds):
            hit = _wait_moment(c, kind, rng, patience=20.0)
            c.kill9("onboard")
            record["kills"].append({"kind": kind if hit else f"random (no {kind} moment in 20 s)",
                                    "found": _post_mortem(c)})
            if i in ground_kills_after:
                _wait_moment(c, "send", rng, patience=10.0)
                c.kill9("ground")
                record["ground_kills"] += 1
                time.sleep(rng.uniform(0.0, 1.0))
                c.start("ground")
            c.start("onboard")
        c.wait_delivered(timeout=240)
        stored = c.stored_scenes()
        record.update(expected=len(c.expected), stored=len(stored),
                      duplicated_in_store=sum(n - 1 for n in collections.Counter(stored).values()),
                      lost=len(set(c.expected) - set(stored)), left_in_spool=c.spooled(),
                      resent_duplicates_dropped_by_ground=c.counters().get("duplicates", 0),
                      restarts={k: v - 1 for k, v in c.starts.items()})
        c.stop()
        record["exit_codes"] = {name: m.process.proc.returncode for name, m in c.members.items()}
        c = None
        print("crash run:", json.dumps(record))
        return record
    finally:
        stop_quietly(c)


def _check(record: dict, kinds: set[str]) -> None:
    assert record["lost"] == 0 and record["duplicated_in_store"] == 0 and record["left_in_spool"] == 0, record
    assert record["stored"] == record["expected"]
    hit = {k["kind"] for k in record["kills"]}
    assert kinds <= hit, f"moments never found: {kinds - hit}"
    assert all(code == 0 for code in record["exit_codes"].values()), record["exit_codes"]


@pytest.mark.reliability   # ~25 s; `make test` kills each daemon alone (tests/onboard, tests/ground)
def test_kill_9_satellite_and_ground_lose_and_duplicate_nothing(tmp_path, tiny_model_dir):
    """The bounded version: 4 satellite kills (one per kind of moment) and 1 ground kill."""
    kinds = ["inference", "spool", "send", "random"]
    record = crash_run(tmp_path, tiny_model_dir, sat_kinds=kinds, ground_kills_after={1}, seed=8,
                       scenes=6, orbits=1, size=512)
    _check(record, {"inference", "spool", "send"})
    assert record["ground_kills"] == 1


@pytest.mark.reliability
def test_kill_9_satellite_12_times_and_ground_3_times(tmp_path, tiny_model_dir):
    kinds = ["inference", "spool", "send", "random"] * 3
    random.Random(88).shuffle(kinds)
    record = crash_run(tmp_path, tiny_model_dir, sat_kinds=kinds, ground_kills_after={2, 6, 10}, seed=88,
                       scenes=10, orbits=2, size=768)
    _check(record, {"inference", "spool", "send"})
    assert len(record["kills"]) == 12 and record["ground_kills"] == 3


def test_a_scene_spooled_but_not_retired_is_not_summarised_again(tmp_path, geo, tiny_model_dir, free_port,
                                                                 start_daemon):
    """The narrowest crash window (summary committed, scene file not yet removed from the inbox),
    which the random kills above rarely hit, made on purpose: the file is put back after its summary
    is spooled, and the daemon is killed and restarted with it there."""
    from tests.onboard.conftest import config_text

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = tmp_path / "onboard.toml"
    config.write_text(config_text(tmp_path, model=tiny_model_dir, reference=geo.reference,
                                  address=f"tcp://127.0.0.1:{free_port}", precision="fp32"))
    first = start_daemon(config, tmp_path / "first.log")
    geo.scene(inbox, "once", size=128, seed=3)
    first.wait_log("scene summarised scene=once", timeout=90)
    first.proc.kill()
    first.proc.wait(10)
    geo.scene(inbox, "once", size=128, seed=3)          # as if the kill came before the retire
    second = start_daemon(config, tmp_path / "second.log")
    second.wait_log("scenes_skipped=1", timeout=90)
    assert second.terminate() == 0
    assert list(inbox.iterdir()) == [] and "scene summarised" not in second.log()
    assert spooled_count(tmp_path / "spool.sqlite") == 1
