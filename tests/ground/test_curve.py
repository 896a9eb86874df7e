"""CURVE: allow-listed satellites get through; a satellite with an unknown key gets nothing through."""

from __future__ import annotations

import time

import zmq

from ground.store import counters, stored_rows
from satedge import keys
from tests.ground.minisat import MiniSat, pack, summary_body


def test_only_allow_listed_keys_get_through(station_factory, tmp_path):
    keys_dir = tmp_path / "keys"
    keys.make(keys_dir, ["sat-1", "sat-2"])
    station = station_factory(security={"mode": "curve", "keys_dir": str(keys_dir)})
    server_key = keys.ground_public(keys_dir)
    member = MiniSat(station.address, "sat-1", curve=(*keys.satellite_secret(keys_dir, "sat-1"), server_key))
    stranger_public, stranger_secret = zmq.curve_keypair()
    stranger = MiniSat(station.address, "sat-3", curve=(stranger_public, stranger_secret, server_key))
    # An allow-listed key speaking for another satellite's id is refused too.
    impostor = MiniSat(station.address, "sat-9", curve=(*keys.satellite_secret(keys_dir, "sat-2"), server_key))
    try:
        frame = pack("summary", seq=1, prio=0, body=summary_body(1))
        member.downlink({1: frame}, timeout_s=20, resend_after_s=0.3)
        for sat in (stranger, impostor):
            sat.hello()
            sat.send_raw(pack("summary", seq=1, prio=0, body=summary_body(1)))
        # Two full periods (3 s wall each) in which the stranger hears nothing at all.
        deadline = time.monotonic() + 6.5
        while time.monotonic() < deadline:
            for sat in (member, stranger, impostor):
                sat.pump(0.01)
        assert zmq.EVENT_HANDSHAKE_FAILED_AUTH in stranger.events, stranger.events
        assert zmq.EVENT_HANDSHAKE_SUCCEEDED not in stranger.events
        assert stranger.received == [] and impostor.received == []
        assert len(member.of_type("aos")) >= 2
    finally:
        for sat in (member, stranger, impostor):
            sat.close()
    assert station.stop() == 0
    assert [(row["satellite"], row["seq"]) for row in stored_rows(station.db_path)] == [("sat-1", 1)]
    counts = counters(station.db_path)
    assert counts["drop_identity"] >= 2, counts


def test_security_none_says_so_in_the_log(station_factory):
    station = station_factory(security={"mode": "none"})
    assert station.stop() == 0
    assert "security.mode = none" in station.log() and "warning" in station.log()


def test_a_satellite_added_while_the_station_runs_is_admitted(station_factory, tmp_path):
    """A constellation scaled up at run time: each new replica claims an id and makes its key."""
    keys_dir = tmp_path / "keys"
    keys.make(keys_dir, ["sat-1"])
    station = station_factory(security={"mode": "curve", "keys_dir": str(keys_dir)},
                              log={"status_interval_s": 0.5})
    newcomer_id, _ = keys.claim(keys_dir)   # sat-1 exists unclaimed: it takes sat-1
    late_id, _ = keys.claim(keys_dir)
    assert late_id == "sat-2"
    deadline = time.monotonic() + 10
    while "'sat-1', 'sat-2'" not in station.log():   # the station re-reads its allow-list
        assert time.monotonic() < deadline, station.log()
        time.sleep(0.1)
    server_key = keys.ground_public(keys_dir)
    late = MiniSat(station.address, late_id, curve=(*keys.satellite_secret(keys_dir, late_id), server_key))
    try:
        late.downlink({1: pack("summary", seq=1, prio=0, body=summary_body(1))}, timeout_s=20)
    finally:
        late.close()
    assert station.stop() == 0
    assert newcomer_id == "sat-1"
    assert [(row["satellite"], row["seq"]) for row in stored_rows(station.db_path)] == [("sat-2", 1)]
    assert "allow-list loaded" in station.log()
