"""Hostile peers on the real link: the real daemon and the real station with CURVE, one of them
holding a key the other does not trust. (tests/ground/test_curve.py and tests/onboard/test_daemon.py
check each side against a test peer; here both sides are the real processes of a simulation.)"""

from __future__ import annotations

import shutil
import time

import pytest
import zmq.auth

from ground.store import command_results, connect, queue_command, stored_count
from onboard.spool import spooled_count, state
from tests.reliability.harness import Constellation, scenario, stop_quietly

pytestmark = pytest.mark.timeout(300)


def _swap_pair(folder, name: str, tmp) -> None:
    """Give `name` a fresh key pair; its old public key stays where the other side looks for it."""
    fresh = tmp / "fresh"
    fresh.mkdir(exist_ok=True)
    zmq.auth.create_certificates(str(fresh), name)
    shutil.copy(fresh / f"{name}.key_secret", folder / f"{name}.key_secret")


@pytest.mark.reliability   # ~30 s; `make test` checks both sides' keys alone (tests/ground, tests/onboard)
@pytest.mark.parametrize("who", ["satellite", "ground"])
def test_a_peer_with_an_untrusted_key_gets_nothing_through(tmp_path, tiny_model_dir, who):
    c = None
    try:
        c = Constellation(scenario(tiny_model_dir, scenario={"scenes_per_orbit": 3, "scene_size": 256},
                                   clock={"speedup": 60.0}), tmp_path / "run")
        keys_dir = c.run.keys_dir
        if who == "satellite":     # not on the ground's allow-list
            _swap_pair(keys_dir / "satellites", "sat-1", tmp_path)
        else:                      # not the ground key the satellite pins
            _swap_pair(keys_dir, "ground", tmp_path)
        db = connect(c.run.store)
        try:
            queue_command(db, "set_min_class", {"cls": 1})
        finally:
            db.close()
        c.start_all()
        c.wait_log("camera", "feed finished", timeout=120)
        deadline = time.monotonic() + 60
        while len(c.events("onboard", "scene summarised")) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        c.wait_log("onboard", "handshake with the ground failed", timeout=30)
        opened = len(c.events("ground", "AOS"))
        while len(c.events("ground", "AOS")) < opened + 2:   # two full windows of trying
            assert c.members["ground"].alive() and c.members["onboard"].alive()
            time.sleep(0.2)
        c.stop()
        assert "satellite joined" not in c.log("ground")
        assert "ground connected" not in c.log("onboard") and "command received" not in c.log("onboard")
        assert stored_count(c.run.store) == 0
        assert spooled_count(c.sat.spool) == 3                   # kept for a trusted link
        assert state(c.sat.spool, "last_cmd") is None            # never commanded
        assert command_results(c.run.store) == []
        c = None
    finally:
        stop_quietly(c)
