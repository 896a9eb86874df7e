"""Mission control and the satellites' folders (sim.mission, sim.roles, `satedge mission`), on real files:
scenes staged by the real camera, a real ground store, events as the daemon writes them."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ground import store as ground_store
from satedge.clock import SimClock
from sim.config import PrecisionStep, ScenarioSection, SimConfig
from sim.mission import Mission
from sim.roles import SatelliteFiles, satellites_in, stage, write_satellite
from tests.conftest import run_cli

EPOCH = 1_788_220_800.0   # 2026-09-01T00:00:00Z


def scenario(**changes) -> SimConfig:
    return SimConfig(clock={"epoch": EPOCH, "speedup": 100.0},
                     scenario=ScenarioSection(**{"orbits": 2, "scenes_per_orbit": 1, "scene_size": 256, **changes}),
                     precision_schedule=[PrecisionStep(orbit=2, precision="fp32")])


def mission(config: SimConfig, tmp_path: Path, sim_now: float) -> Mission:
    clock = SimClock(EPOCH, time.time() - (sim_now - EPOCH) / config.clock.speedup, config.clock.speedup)
    return Mission(config, clock, tmp_path / "ground.sqlite", lambda: satellites_in(tmp_path / "sats"),
                   tmp_path / "out", tmp_path / "out" / "report")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[SimConfig, Path]:
    root = tmp_path_factory.mktemp("mission")
    config = scenario()
    sat = SatelliteFiles("sat-1", root / "sats" / "sat-1")
    stage(config, sat, EPOCH)
    write_satellite(config, sat)
    (root / "sats" / "sat-2").mkdir()          # claimed, still staging: not counted yet
    return config, root


def test_only_prepared_satellites_count(prepared):
    config, root = prepared
    assert [s.id for s in satellites_in(root / "sats")] == ["sat-1"]
    p = mission(config, root, EPOCH).progress()
    assert (p.expected, p.acquired, p.delivered, p.spooled) == (2, 0, 0, 0)


def test_a_prepared_satellite_is_not_staged_again(prepared, tmp_path):
    config, root = prepared
    sat = satellites_in(root / "sats")[0]
    staged = sorted((sat.staging / "geotiff").glob("*_post_disaster.tif"))
    acquired = sat.inbox / staged[0].name
    os.replace(staged[0], acquired)                   # the camera acquired one
    try:
        stage(config, sat, EPOCH)                     # a restarted container prepares again
        write_satellite(config, sat)
        assert len(list((sat.staging / "geotiff").glob("*_post_disaster.tif"))) == len(staged) - 1
        assert mission(config, root, EPOCH).progress().acquired == 1
    finally:
        os.replace(acquired, staged[0])


def test_each_schedule_step_is_uplinked_once_when_due(tmp_path):
    config = scenario(orbits=3).model_copy(update={"precision_schedule": [
        PrecisionStep(orbit=2, precision="fp32"), PrecisionStep(orbit=3, precision="int8")]})
    period = config.scenario.orbit_period_s
    assert mission(config, tmp_path, EPOCH + 10).uplink_due_steps() == 1
    assert mission(config, tmp_path, EPOCH + 20).uplink_due_steps() == 1   # a restarted mission control
    assert mission(config, tmp_path, EPOCH + period + 1).uplink_due_steps() == 2
    db = ground_store.connect(tmp_path / "ground.sqlite")
    rows = db.execute("SELECT id, name, args FROM commands ORDER BY id").fetchall()
    db.close()
    assert [(r["id"], json.loads(r["args"])["precision"]) for r in rows] == [(1, "fp32"), (2, "int8")]


def test_precision_stats_come_from_the_daemons_events(prepared, tmp_path):
    config, root = prepared
    sat = SatelliteFiles("sat-9", tmp_path / "sats" / "sat-9")
    sat.dir.mkdir(parents=True)
    sat.onboard_config.write_text("")                # prepared
    events = [{"msg": "scene summarised", "prec": "int8-nncf", "tiles": 81, "ms": 500},
              {"msg": "command done", "name": "set_precision", "ok": True, "swapped_to": "fp32", "swap_s": 0.2},
              {"msg": "command done", "name": "set_precision", "ok": True, "serving": "fp32"},  # already serving
              {"msg": "scene summarised", "prec": "fp32", "tiles": 81, "ms": 1000}]
    sat.events.write_text("\n".join(json.dumps(e) for e in events) + "\n{\"msg\": \"half a li")
    stats = mission(config, tmp_path, EPOCH).precision_stats()
    assert stats == {"int8-nncf": {"scenes": 1, "tiles": 81, "swaps_s": [], "tiles_per_s": 162.0},
                     "fp32": {"scenes": 1, "tiles": 81, "swaps_s": [0.2], "tiles_per_s": 81.0}}


def test_mission_parts_report_a_missing_setting_in_one_line(tmp_path):
    env = {"SATEDGE_SATELLITE_ID": ""}
    no_id = run_cli("mission", "satellite", "--dir", str(tmp_path), env=env)
    assert no_id.returncode == 2 and "no satellite id" in no_id.stderr
    assert len(no_id.stderr.strip().splitlines()) == 1
    bad_id = run_cli("mission", "satellite", "--dir", str(tmp_path), "--id", "../escape")
    assert bad_id.returncode == 2 and len(bad_id.stderr.strip().splitlines()) == 1, bad_id.stderr
    no_clock = run_cli("mission", "control", "--store", str(tmp_path / "g.sqlite"), "--satellites",
                       str(tmp_path), "--out", str(tmp_path / "out"))
    assert no_clock.returncode == 2 and "clock.start_file" in no_clock.stderr


def test_mission_ground_writes_the_scenarios_link(tmp_path):
    out = tmp_path / "ground.toml"
    result = run_cli("mission", "ground", "--out", str(out), env={"SATEDGE_LINK_RATE_BPS": "4800"})
    assert result.returncode == 0, result.stderr
    from ground.config import GroundConfig
    from satedge import config as satedge_config
    ground = satedge_config.load(GroundConfig, out, environ={})
    assert ground.link.rate_bps == 4800 and ground.link.offset_s == 2400   # sim/default.toml's window


def test_another_runs_clock_is_refused_and_ends_the_run(prepared, tmp_path):
    config, root = prepared
    start, end = tmp_path / "keys" / "clock-start", tmp_path / "keys" / "run-over"
    start.parent.mkdir()
    start.write_text(repr(time.time() - 3 * 86400))          # a run three days ago, at 100x
    env = {"SATEDGE_CLOCK_START_FILE": str(start), "SATEDGE_CLOCK_END_FILE": str(end),
           "SATEDGE_SCENARIO_SCENE_SIZE": "256", "SATEDGE_SCENARIO_SCENES_PER_ORBIT": "1"}
    result = run_cli("mission", "control", "--store", str(tmp_path / "g.sqlite"), "--satellites",
                     str(root / "sats"), "--out", str(tmp_path / "out"), env=env)
    assert result.returncode == 2 and "another run's clock" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert end.exists()                                       # the ground and satellites are told to stop
