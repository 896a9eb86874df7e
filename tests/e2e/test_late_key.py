"""A satellite whose key reaches the ground's allow-list only after both are running (a replica
of a scaled-up constellation) is refused at first and gets through once the ground re-reads it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import zmq.auth

from satedge import keys
from satedge.config import to_toml
from tests.conftest import REPO
from tests.onboard.conftest import ORIGIN, texture, write_tiff


def start(tmp_path, command: str, sections: dict) -> tuple[subprocess.Popen, object]:
    config = tmp_path / f"{command}.toml"
    config.write_text(to_toml(sections))
    log = tmp_path / f"{command}.log"
    proc = subprocess.Popen([sys.executable, "-m", "satedge.cli", command, "--config", str(config)],
                            cwd=REPO, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    return proc, log


def wait_for(log, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"no {text!r} in {log}:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)


def test_refused_satellite_gets_in_once_its_key_is_listed(tmp_path, tiny_model_dir, free_port):
    keys_dir = tmp_path / "keys"
    keys.make(keys_dir, ["sat-1"])
    zmq.auth.create_certificates(str(tmp_path), "sat-2")           # sat-2's pair, not yet listed
    shutil.copy(tmp_path / "sat-2.key_secret", keys_dir / "satellites")
    write_tiff(tmp_path / "reference.tif", texture(0, 256), west=ORIGIN[0], north=ORIGIN[1])
    now = time.time()
    common = {"clock": {"epoch": now, "start": now, "speedup": 10.0},
              "security": {"mode": "curve", "keys_dir": str(keys_dir)}, "log": {"status_interval_s": 0.5}}
    ground, ground_log = start(tmp_path, "ground", {
        **common, "station": {"bind": f"tcp://127.0.0.1:{free_port}"},
        "store": {"path": str(tmp_path / "ground.sqlite")}})
    onboard, onboard_log = start(tmp_path, "onboard", {
        **common, "satellite": {"id": "sat-2"}, "ground": {"address": f"tcp://127.0.0.1:{free_port}"},
        "ingest": {"inbox": str(tmp_path / "inbox"), "reference": str(tmp_path / "reference.tif")},
        "model": {"dir": str(tiny_model_dir), "precision": "fp32", "cache_dir": str(tmp_path / "cache")},
        "spool": {"path": str(tmp_path / "spool.sqlite")}})
    try:
        wait_for(onboard_log, "handshake with the ground failed", 60)
        shutil.copy(tmp_path / "sat-2.key", keys_dir / "satellites")
        wait_for(ground_log, "'sat-1', 'sat-2'", 20)
        wait_for(onboard_log, "ground connected", 30)
        wait_for(ground_log, "satellite joined", 10)
    finally:
        for proc in (onboard, ground):
            proc.terminate()
        assert onboard.wait(30) == 0 and ground.wait(30) == 0
