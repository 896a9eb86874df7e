"""The console served by a real `satedge ground` subprocess, spoken to over plain HTTP (no browser needed):
start-up errors, read-only mode, the token, and pages that hang while the station carries on."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
import urllib.error
import urllib.request

import pytest

from ground.console.server import MAX_STREAMS, load_token
from satedge.errors import UserError
from satedge.processes import free_port
from satedge.protocol import post_only_bitmap, validate_body
from satedge.vocabulary import POST_ONLY, PRE_POST
from tests.conftest import run_cli
from tests.console.http import get, post
from tests.ground.conftest import StationProcess, write_config
from tests.ground.minisat import MiniSat, pack, summary_body

pytestmark = pytest.mark.timeout(60)


def ground_config(tmp_path, **console) -> tuple:
    now = time.time()
    port = free_port()
    console.setdefault("bind", f"127.0.0.1:{free_port()}")
    config = write_config(tmp_path / "ground.toml", {
        "clock": {"epoch": now, "start": now, "speedup": 20.0},
        "security": {"mode": "none", "keys_dir": str(tmp_path / "keys")},
        "station": {"bind": f"tcp://127.0.0.1:{port}"},
        "link": {"period_s": 60.0, "window_s": 50.0, "offset_s": 0.0},
        "store": {"path": str(tmp_path / "ground.sqlite")}, "log": {"status_interval_s": 60.0},
        "console": console})
    return config, f"tcp://127.0.0.1:{port}", f"http://{console['bind']}"


@pytest.fixture
def station(tmp_path):
    started: list[StationProcess] = []

    def start(**console) -> tuple[StationProcess, str, str]:
        config, address, url = ground_config(tmp_path, **console)
        process = StationProcess(config, tmp_path / "ground.log").start()
        started.append(process)
        return process, address, url

    yield start
    for process in started:
        process.stop()




def test_a_console_port_in_use_is_one_line_at_start(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config, _, _ = ground_config(tmp_path, bind=f"127.0.0.1:{taken.getsockname()[1]}")
        result = run_cli("ground", "--config", str(config), timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "cannot serve the console on console.bind = 127.0.0.1:" in result.stderr
    assert "address already in use" in result.stderr


@pytest.mark.parametrize("bind", ["8080", "localhost:http", "127.0.0.1:70000", ":8080"])
def test_a_bad_console_address_is_one_line(tmp_path, bind):
    config, _, _ = ground_config(tmp_path, bind=bind)
    result = run_cli("ground", "--config", str(config), "--check-config")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "console.bind: must be HOST:PORT" in result.stderr and repr(bind) in result.stderr


def test_no_console_unless_bind_is_set(tmp_path):
    result = run_cli("ground", "--check-config")
    assert result.returncode == 0 and json.loads(result.stdout)["console"]["bind"] is None


def test_a_read_only_console_serves_the_pages_and_refuses_commands(station, tmp_path):
    process, _, url = station()
    for path, what in [("/map", b"<div id=\"map\">"), ("/operations", b"id=\"satellites\""),
                       ("/static/vendor/leaflet/leaflet.js", b"Leaflet"), ("/static/map.js", b"SatMap")]:
        status, body = get(url + path)
        assert status == 200 and what in body, path
    status, body = get(url + "/api/operations")
    assert status == 200 and json.loads(body)["live"]["window"] is not None   # offset 0: window 1 is open
    status, answer = post(f"{url}/api/commands", {"command": "set-precision", "value": "fp16"}, token="x" * 32)
    assert status == 403 and "read-only" in answer["error"]
    assert not (tmp_path / "keys" / "console.token").exists()         # no token is made without write access
    assert run_cli("command", "list", "--db", str(tmp_path / "ground.sqlite")).stdout == ""


def test_hanging_pages_neither_stall_the_station_nor_take_more_than_their_share(station, tmp_path):
    process, address, url = station(write=True)
    host, port = url.removeprefix("http://").split(":")
    hanging = []
    try:
        for _ in range(MAX_STREAMS):   # live streams whose pages never read a byte after the headers
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.sendall(b"GET /api/events HTTP/1.1\r\nHost: console\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(1)
            assert head.startswith(b"HTTP/1.1 200"), head
            hanging.append(sock)
        half = socket.create_connection((host, int(port)), timeout=10)   # a request that never ends
        half.sendall(b"POST /api/commands HTTP/1.1\r\nHost: console\r\nContent-Length: 4000\r\n\r\n{")
        hanging.append(half)

        status, body = get(url + "/api/events")
        assert status == 503 and b"live pages are open already" in body
        sat = MiniSat(address, "sat-1")
        try:
            sat.downlink({1: pack("summary", seq=1, prio=0, body=summary_body(1))}, timeout_s=20)
        finally:
            sat.close()
        status, body = get(url + "/api/operations")
        assert status == 200 and json.loads(body)["summaries"] == 1
        status, body = get(url + "/api/map")
        assert status == 200 and len(json.loads(body)["buildings"]) == 3
    finally:
        for sock in hanging:
            sock.close()


def test_the_map_api_says_what_the_reference_covered(station, tmp_path):
    """Through the real station: a summary with `cov` and `po` and an older satellite's without them."""
    _, address, url = station()
    partly = summary_body(1) | {"cov": 55, "po": post_only_bitmap([False, True, False])}
    validate_body(partly)
    sat = MiniSat(address, "sat-1")
    try:
        sat.downlink({1: pack("summary", seq=1, prio=0, body=partly),
                      2: pack("summary", seq=2, prio=0, body=summary_body(2))}, timeout_s=20)
    finally:
        sat.close()
    status, body = get(url + "/api/map")
    assert status == 200
    on_map = json.loads(body)
    assert {s["scene"]: (s["coverage"], s["post_only"]) for s in on_map["scenes"]} == {
        "scene-001": (55, 1), "scene-002": (100, 0)}
    assert sorted((b["properties"]["scene"], b["properties"]["basis"]) for b in on_map["buildings"]) == [
        ("scene-001", POST_ONLY), ("scene-001", PRE_POST), ("scene-001", PRE_POST),
        ("scene-002", PRE_POST), ("scene-002", PRE_POST), ("scene-002", PRE_POST)]


def test_the_token_is_made_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "keys" / "console.token"
    token = load_token(path)
    assert len(token) >= 32 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_token(path) == token
    path.write_text("short\n")
    with pytest.raises(UserError, match="shorter than 16"):
        load_token(path)


def test_a_basemap_is_offered_to_the_page_only_when_configured(station, tmp_path):
    _, _, url = station()
    with urllib.request.urlopen(url + "/api/info", timeout=10) as response:
        assert json.loads(response.read())["basemap_url"] is None
        assert "img-src 'self' data:;" in response.headers["Content-Security-Policy"]   # no tile server
    (tmp_path / "ground.log").rename(tmp_path / "first.log")
    _, _, url = station(basemap_url="https://tiles.example.org/{z}/{x}/{y}.png")
    with urllib.request.urlopen(url + "/api/info", timeout=10) as response:
        assert json.loads(response.read())["basemap_url"] == "https://tiles.example.org/{z}/{x}/{y}.png"
        assert "img-src 'self' data: http: https:;" in response.headers["Content-Security-Policy"]
