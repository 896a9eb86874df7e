"""The compose topology as separate hosts (network namespaces), with the compose file's commands:
a ground host and two satellite hosts (`--scale satellite=2`), each satellite with its own id and key.
Skipped, with the reason, where namespaces cannot be made."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from tests.deploy import netns

pytestmark = pytest.mark.netns

SATELLITES = 2
SCENARIO = {  # the compose file's ${VARIABLES}, set as a user would in .env: a short, fast run
    "SATEDGE_CLOCK_SPEEDUP": "200", "SATEDGE_SCENARIO_ORBITS": "1", "SATEDGE_SCENARIO_SCENES_PER_ORBIT": "2",
    "SATEDGE_LINK_OFFSET_S": "900", "SATEDGE_LINK_PERIOD_S": "1800", "SATEDGE_MODEL_PRECISION": "int8",
}


def test_compose_topology_on_separate_hosts(tmp_path, model_dir_for_deploy):
    reason = netns.available()
    if reason:
        pytest.skip(reason)
    keys, out, ground_data = tmp_path / "keys", tmp_path / "out", tmp_path / "ground-data"
    for folder in (keys, out, ground_data):
        folder.mkdir()
    topo = netns.Topology(tmp_path)
    try:
        ground = topo.add_host("ground")
        extra = dict(SCENARIO, SATEDGE_SCENARIO_SCENE_SIZE="512", SATEDGE_MODEL_DIR=str(model_dir_for_deploy))
        volumes = {"/keys": keys, "/data": ground_data, "/out": out}
        env = netns.service_env("ground", volumes, extra)
        topo.run(ground, netns.service_command("keys", volumes), env, tmp_path / "keys.log", wait=True)
        assert (keys / "ground.key_secret").exists()   # made where the compose volume would be
        topo.run(ground, netns.service_command("ground", volumes), env, tmp_path / "ground.log")
        for i in range(1, SATELLITES + 1):
            host = topo.add_host(f"sat{i}")
            hosts = Path("/etc/netns") / host.netns
            hosts.mkdir(parents=True, exist_ok=True)
            (hosts / "hosts").write_text(f"127.0.0.1 localhost\n{ground.address} ground\n")
            data = tmp_path / f"sat{i}-data"
            data.mkdir()
            env = netns.service_env("satellite", {"/keys": keys, "/data": data}, extra)
            entry = netns.REPO / "docker" / "satellite-entrypoint.sh"
            topo.run(host, ["unshare", "--uts", "sh", "-c", f"hostname sat-host-{i} && exec {entry}"],
                     env, tmp_path / f"sat{i}.log")
        expected = SATELLITES * 2
        store = ground_data / "ground.sqlite"
        deadline = time.monotonic() + 240
        rows = []
        while time.monotonic() < deadline:
            try:
                with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
                    rows = db.execute("SELECT satellite, scene FROM summaries").fetchall()
            except sqlite3.OperationalError:   # not created yet, or created but its schema not yet committed
                pass
            if len(rows) >= expected:
                break
            time.sleep(1)
        logs = {p.name: p.read_text()[-2000:] for p in tmp_path.glob("*.log")}
        assert len(rows) == expected, logs
        assert len(set(rows)) == expected                       # each scene exactly once
        assert {sat for sat, _ in rows} == {"sat-1", "sat-2"}   # each replica its own id
        assert len(list((keys / "satellites").glob("sat-*.key"))) == SATELLITES
        deadline = time.monotonic() + 60
        while not (out / "report.json").exists() and time.monotonic() < deadline:
            time.sleep(1)
        report = json.loads((out / "report.json").read_text())
        assert report["summaries"] >= 1
    finally:
        topo.close()
        for host in list(topo.hosts.values()):
            import shutil
            shutil.rmtree(Path("/etc/netns") / host.netns, ignore_errors=True)
