"""Operating the station as a service: the health probe and the report rewritten after every window."""

from __future__ import annotations

import json
import time

from tests.conftest import run_cli
from tests.ground.minisat import MiniSat, pack, summary_body


def test_health_probe_follows_the_running_station(station_factory, tmp_path):
    station = station_factory(log={"status_interval_s": 0.3})
    config = str(station.config)
    deadline = time.monotonic() + 15
    while run_cli("ground", "--config", config, "--health").returncode != 0:
        assert time.monotonic() < deadline, "the running station never reported healthy"
        time.sleep(0.3)
    assert station.stop() == 0
    time.sleep(1.2)  # more than three status intervals without a heartbeat
    result = run_cli("ground", "--config", config, "--health")
    assert result.returncode == 1 and "old" in result.stdout


def test_report_is_rewritten_after_every_window(station_factory, tmp_path):
    out = tmp_path / "report"
    station = station_factory(store={"path": "ground.sqlite", "report_dir": str(out)})
    sat = MiniSat(station.address, "sat-1")
    try:
        sat.downlink({1: pack("summary", seq=1, prio=0, body=summary_body(1))}, timeout_s=20)
        sat.pump_until(lambda: (out / "report.json").exists()
                       and json.loads((out / "report.json").read_text())["summaries"] == 1, 20, "a report")
    finally:
        sat.close()
    assert station.stop() == 0
    report = json.loads((out / "report.json").read_text())
    assert report["summaries"] == 1 and (out / "damage.geojson").exists()
