"""`satedge ground` / `python -m ground`: configuration checks, one-line errors, clean stop on signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from tests.conftest import REPO, run_cli


def test_check_config_prints_the_effective_configuration(tmp_path):
    cfg = tmp_path / "g.toml"
    cfg.write_text('[link]\nrate_bps = 1200\n[store]\npath = "x/ground.sqlite"\n')
    done = run_cli("ground", "--config", str(cfg), "--check-config", env={"SATEDGE_LINK_LOSS": "0.25"})
    assert done.returncode == 0, done.stderr
    effective = json.loads(done.stdout)
    assert effective["link"]["rate_bps"] == 1200 and effective["link"]["loss"] == 0.25
    assert effective["store"]["path"] == str(tmp_path / "x" / "ground.sqlite")
    assert effective["station"] == {"bind": "tcp://*:7700", "lat": 78.2298, "lon": 15.4078, "alt_m": 500.0}
    assert effective["link"]["period_s"] == 5400 and effective["link"]["window_s"] == 480


def test_python_dash_m_ground_is_the_same_command():
    done = subprocess.run([sys.executable, "-m", "ground", "--check-config"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout)["link"]["schedule"] == "periodic"


def test_bad_configuration_is_one_line_exit_2(tmp_path):
    cfg = tmp_path / "g.toml"
    cfg.write_text("[link]\nrate_bps = -5\n")
    done = run_cli("ground", "--config", str(cfg))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "link.rate_bps" in done.stderr
    cfg.write_text('[station]\nbind = "tcp://nonsense"\n[security]\nmode = "none"\n'
                   f'[store]\npath = "{tmp_path / "g.sqlite"}"\n')
    done = run_cli("ground", "--config", str(cfg))
    assert done.returncode == 2 and "cannot bind station.bind" in done.stderr, done.stderr
    cfg.write_text(f'[security]\nkeys_dir = "{tmp_path / "no-keys"}"\n[store]\npath = "{tmp_path / "g.sqlite"}"\n')
    done = run_cli("ground", "--config", str(cfg))
    assert done.returncode == 2 and "cannot read CURVE secret key" in done.stderr, done.stderr


def test_sigint_stops_the_station_cleanly(station_factory):
    station = station_factory()
    assert station.stop(signal.SIGINT) == 0
    assert "station stopped" in station.log() and "Traceback" not in station.log()


def test_command_cli_errors_are_one_line(tmp_path):
    for args, message in [(["set-precision", "fp64"], "unknown precision"),
                          (["set-min-class", "0"], "from 1 to 4"),
                          (["list"], "no ground store")]:
        done = run_cli("command", *args, "--db", str(tmp_path / "g.sqlite"))
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
