"""The real daemon (`python -m onboard`) against a minimal ground written from docs/protocol.md."""

from __future__ import annotations

import gc
import signal
import sqlite3
import threading
import time
import weakref
from pathlib import Path

import pytest

from satedge import keys
from tests.conftest import run_cli
from tests.onboard.conftest import config_text
from tests.onboard.miniground import MiniGround, frame

pytestmark = pytest.mark.timeout(120)


def truncated_tiff(geo, folder: Path, name: str) -> Path:
    """A real GeoTIFF cut in half, published by rename like any other scene."""
    good = geo.scene(geo.root, f"whole-{name}", seed=9)
    data = good.read_bytes()
    path = folder / f"{name}.tif"
    tmp = folder / f".{name}.part"
    tmp.write_bytes(data[: len(data) // 2])
    tmp.rename(path)
    return path


@pytest.fixture
def ground_keys(tmp_path) -> Path:
    keys_dir = tmp_path / "keys"
    keys.make(keys_dir, ["sat-1"])
    return keys_dir


def test_daemon_against_minimal_ground(tmp_path, geo, model_dir, free_port, ground_keys, start_daemon):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = [geo.scene(inbox, f"scene-{i}", col=100 * i, row=80 * i, seed=i) for i in range(5)]
    truncated_tiff(geo, inbox, "corrupt")
    config = tmp_path / "onboard.toml"
    config.write_text(config_text(tmp_path, model=model_dir, reference=geo.reference,
                                  address=f"tcp://127.0.0.1:{free_port}", security="curve",
                                  keys_dir=ground_keys, precision="fp16"))
    ground = MiniGround(free_port, keys_dir=ground_keys, grant=100)
    try:
        daemon = start_daemon(config, tmp_path / "daemon.log")
        ground.run_until(lambda: ground.hellos, 60, "the connect hello")
        assert ground.hellos[0]["sat"] == "sat-1" and ground.hellos[0]["prec"] == "fp16"

        ground.run_until(lambda: len(ground.summaries) == len(first), 60, "the first scenes")
        ground.commands.append((1, "set_precision", {"precision": "fp32"}))
        ground.run_until(lambda: any(r["id"] == 1 for r in ground.results), 30, "the set_precision result")
        result = next(r for r in ground.results if r["id"] == 1)
        assert result["ok"] is True and "fp32" in result["detail"], result

        ground.commands.append((1, "set_precision", {"precision": "fp32"}))   # replayed
        ground.commands.append((2, "self_destruct", {}))
        ground.commands.append((3, "set_min_class", {"cls": 9}))
        ground.commands.append((4, "set_min_class", {"cls": 1}))
        ground.commands.append((5, "set_precision", {"precision": "int8-inc"}))   # not in this model
        ground.run_until(lambda: len(ground.results) >= 6, 30, "the other commands' results")
        replay = [r for r in ground.results if r["id"] == 1][1]   # not run again: its kept result, again
        assert (replay["ok"], replay["detail"]) == (result["ok"], result["detail"])
        outcome = {r["id"]: (r["ok"], r["detail"]) for r in ground.results[1:]}
        assert outcome[2][0] is False and "unknown command" in outcome[2][1]
        assert outcome[3][0] is False and "1..4" in outcome[3][1]
        assert outcome[4] == (True, "min_class 1")
        assert outcome[5][0] is False and "has no int8-inc IR" in outcome[5][1]

        later = [geo.scene(inbox, f"later-{i}", col=300 + 50 * i, row=500, seed=20 + i) for i in range(2)]
        total = len(first) + len(later)
        ground.run_until(lambda: len(ground.summaries) == total and ground.telemetry, 60, "the later scenes")
        # Let every ack land: the spool must drain to nothing.
        ground.run_until(lambda: ground.hellos[-1]["spooled"] == 0 and len(ground.hellos) > 3, 30,
                         "a hello reporting an empty spool")
        assert daemon.terminate() == 0
        violations = list(ground.violations)
        # A restart serves what the ground commanded (fp32), not the configured fp16.
        before = len(ground.hellos)
        again = start_daemon(config, tmp_path / "again.log")
        ground.run_until(lambda: len(ground.hellos) > before, 60, "the restarted daemon's hello")
        assert ground.hellos[-1]["prec"] == "fp32"
        assert again.terminate() == 0
    finally:
        ground.close()

    # Every scene arrived exactly once in the ground's store (one seq each), and seqs count from 1.
    scenes = [body["scene"] for body in ground.summaries.values()]
    assert sorted(scenes) == sorted(p.stem for p in first + later)
    assert sorted(ground.summaries) == list(range(1, total + 1))
    # The withheld ack made the satellite send that summary again; nothing else was lost.
    assert max(ground.summary_receipts.values()) >= 2
    # Precision: the first scenes by fp16, the ones after the swap by fp32.
    by_scene = {body["scene"]: body for body in ground.summaries.values()}
    assert {by_scene[p.stem]["prec"] for p in first} == {"fp16"}
    assert {by_scene[p.stem]["prec"] for p in later} == {"fp32"}
    # Credit: no frame outside a window, never more bytes than granted in any window.
    assert violations == []
    assert ground.over_credit() == {}
    assert sum(ground.received.values()) > 0
    # The corrupt file is quarantined with its reason; the inbox is empty.
    quarantine = tmp_path / "quarantine"
    assert (quarantine / "corrupt.tif").exists()
    assert "not a readable GeoTIFF" in (quarantine / "corrupt.tif.reason").read_text()
    assert list(inbox.iterdir()) == []
    # Telemetry carried the counters.
    last = ground.telemetry[-1]
    assert last["quarantined"] == 1 and last["sat"] == "sat-1"
    log = daemon.log()
    assert "status " in log and "onboard daemon stopped clean=True" in log
    with sqlite3.connect(tmp_path / "spool.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM summaries").fetchone()[0] == 0
        assert db.execute("SELECT value FROM state WHERE key = 'last_cmd'").fetchone()[0] == 5
        assert db.execute("SELECT value FROM state WHERE key = 'min_class'").fetchone()[0] == 1


def test_impostor_ground_gets_nothing_and_cannot_command(tmp_path, geo, model_dir, free_port, ground_keys,
                                                         start_daemon):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    geo.scene(inbox, "scene-0")
    impostor_keys = tmp_path / "impostor"
    keys.make(impostor_keys, ["sat-1"])          # a ground pair the satellite does not pin
    config = tmp_path / "onboard.toml"
    config.write_text(config_text(tmp_path, model=model_dir, reference=geo.reference,
                                  address=f"tcp://127.0.0.1:{free_port}", security="curve",
                                  keys_dir=ground_keys))
    impostor = MiniGround(free_port, keys_dir=impostor_keys)
    try:
        daemon = start_daemon(config, tmp_path / "daemon.log")
        daemon.wait_log("scene summarised", timeout=60)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            impostor.step()
            # Try to command the satellite blindly: it is not connected, so this cannot reach it.
            impostor.send(b"sat-1", frame("cmd", id=99, name="set_min_class", args={"cls": 1}))
        assert impostor.frames == []
    finally:
        impostor.close()
    assert daemon.terminate() == 0
    with sqlite3.connect(tmp_path / "spool.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM summaries").fetchone()[0] == 1     # kept for the real ground
        assert db.execute("SELECT value FROM state WHERE key = 'last_cmd'").fetchone() is None


def test_daemon_never_loads_torch(tmp_path, geo, model_dir, free_port, start_daemon):
    config = tmp_path / "onboard.toml"
    config.write_text(config_text(tmp_path, model=model_dir, reference=geo.reference,
                                  address=f"tcp://127.0.0.1:{free_port}"))
    daemon = start_daemon(config, tmp_path / "daemon.log")
    daemon.wait_log("onboard daemon started", timeout=60)
    libraries = {line.split()[-1] for line in Path(f"/proc/{daemon.proc.pid}/maps").read_text().splitlines()
                 if line.split()[-1].endswith(".so") or ".so." in line.split()[-1]}
    assert any("openvino" in lib for lib in libraries)       # the check looks at the right process
    assert [lib for lib in libraries if "site-packages/torch" in lib or "libtorch" in lib] == []
    assert "security.mode is 'none'" in daemon.log()
    assert daemon.terminate(signal.SIGINT) == 0
    assert "onboard daemon stopped clean=True" in daemon.log()


def test_missing_model_dir_is_one_line(tmp_path, geo):
    config = tmp_path / "onboard.toml"
    config.write_text(config_text(tmp_path, model=tmp_path / "no-such-model", reference=geo.reference,
                                  address="tcp://127.0.0.1:1"))
    result = run_cli("onboard", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no-such-model does not exist" in result.stderr, result.stderr


def test_check_config_prints_effective_values(tmp_path):
    config = tmp_path / "onboard.toml"
    config.write_text('[satellite]\nid = "sat-7"\n[log]\nformat = "json"\n')
    result = run_cli("onboard", "--config", str(config), "--check-config",
                     env={"SATEDGE_GROUND_ADDRESS": "tcp://10.0.0.1:7700"})
    assert result.returncode == 0, result.stderr
    assert '"id": "sat-7"' in result.stdout and "tcp://10.0.0.1:7700" in result.stdout
    assert '"precision": "int8"' in result.stdout and '"format": "json"' in result.stdout

    config.write_text('[satellite]\nidd = "sat-7"\n')
    result = run_cli("onboard", "--config", str(config), "--check-config")
    assert result.returncode == 2 and "unknown key 'satellite.idd'" in result.stderr


def test_kill_9_and_restart_summarise_every_scene_once(tmp_path, geo, model_dir, free_port, start_daemon):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    names = [geo.scene(inbox, f"scene-{i:02d}", col=30 * i, row=20 * i, size=512, seed=i).stem
             for i in range(12)]
    config = tmp_path / "onboard.toml"
    config.write_text(config_text(tmp_path, model=model_dir, reference=geo.reference,
                                  address=f"tcp://127.0.0.1:{free_port}"))
    first = start_daemon(config, tmp_path / "first.log")
    first.wait_log("scene summarised", timeout=60)
    first.proc.kill()
    first.proc.wait(10)
    left = len(list(inbox.iterdir()))
    assert 0 < left < len(names), "the kill must interrupt the work for this test to mean anything"
    second = start_daemon(config, tmp_path / "second.log")
    deadline = time.monotonic() + 60
    while list(inbox.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert second.terminate() == 0
    assert list(inbox.iterdir()) == []
    with sqlite3.connect(tmp_path / "spool.sqlite") as db:
        rows = db.execute("SELECT seq, body FROM summaries ORDER BY seq").fetchall()
    import msgpack
    scenes = [msgpack.unpackb(body)["scene"] for _, body in rows]
    assert sorted(scenes) == names                                  # each scene once, none lost
    assert [seq for seq, _ in rows] == list(range(1, len(names) + 1))


def test_downlink_survives_the_ground_going_away(tmp_path, geo, model_dir, free_port, start_daemon):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    geo.scene(inbox, "before")
    config = tmp_path / "onboard.toml"
    config.write_text(config_text(tmp_path, model=model_dir, reference=geo.reference,
                                  address=f"tcp://127.0.0.1:{free_port}"))
    daemon = start_daemon(config, tmp_path / "daemon.log")
    ground = MiniGround(free_port, grant=2000)
    ground.withhold_first_ack = False
    try:
        ground.run_until(lambda: ground.summaries, 60, "the first summary")
    finally:
        ground.close()
    geo.scene(inbox, "while-away", seed=3)
    daemon.wait_log("scene summarised scene=while-away", timeout=30)
    ground = MiniGround(free_port, grant=2000)
    ground.withhold_first_ack = False
    try:
        ground.run_until(lambda: any(b["scene"] == "while-away" for b in ground.summaries.values()), 30,
                         "the summary made while the ground was away")
        assert ground.hellos and ground.violations == [] and ground.over_credit() == {}
    finally:
        ground.close()
    assert daemon.terminate() == 0


def test_swap_while_scenes_flow_loses_nothing_and_mixes_nothing(tmp_path, geo, model_dir, free_port,
                                                                start_daemon):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    published = [geo.scene(inbox, f"pre-{i}", col=40 * i, row=30 * i, size=384, seed=i).stem for i in range(6)]
    config = tmp_path / "onboard.toml"
    config.write_text(config_text(tmp_path, model=model_dir, reference=geo.reference,
                                  address=f"tcp://127.0.0.1:{free_port}", precision="fp16"))
    ground = MiniGround(free_port, grant=4000)
    ground.withhold_first_ack = False
    ground.commands.append((1, "set_precision", {"precision": "int8"}))
    try:
        start_daemon(config, tmp_path / "daemon.log")
        i = 0
        while not ground.results:           # keep scenes coming until the swap is answered
            published.append(geo.scene(inbox, f"flow-{i}", col=(37 * i) % 600, row=(23 * i) % 600,
                                       size=384, seed=100 + i).stem)
            i += 1
            for _ in range(5):
                ground.step()
            assert i < 400, "no answer to set_precision"
        published += [geo.scene(inbox, f"post-{i}", col=10 * i, row=10 * i, size=384, seed=500 + i).stem
                      for i in range(3)]
        ground.run_until(lambda: len(ground.summaries) == len(published), 60, "every scene")
    finally:
        ground.close()
    assert ground.results[0]["ok"] is True and "int8-nncf" in ground.results[0]["detail"]
    bodies = list(ground.summaries.values())
    assert sorted(body["scene"] for body in bodies) == sorted(published)       # each scene once
    # In the order the scenes were published (the daemon reads oldest first) the precision switches once. Not
    # in seq order: the old engine finishes its last scene while the new one already works on the next, and
    # either may be summarised first.
    prec = {body["scene"]: body["prec"] for body in bodies}
    precisions = [prec[name] for name in published]
    assert set(precisions) == {"fp16", "int8-nncf"}
    switch = precisions.index("int8-nncf")
    assert precisions == ["fp16"] * switch + ["int8-nncf"] * (len(precisions) - switch)


def test_the_running_daemon_frees_the_engine_a_swap_replaced(tmp_path, geo, model_dir, free_port):
    """`Daemon.run` once kept the first engine in a local for the daemon's life: after a swap and back, two
    engines of the first precision were alive (+47 MB in the bench's swap run)."""
    from onboard.config import OnboardConfig
    from onboard.daemon import Daemon
    from satedge.config import load

    config = tmp_path / "onboard.toml"
    config.write_text(config_text(tmp_path, model=model_dir, reference=geo.reference,
                                  address=f"tcp://127.0.0.1:{free_port}"))
    daemon = Daemon(load(OnboardConfig, config))
    first = weakref.ref(daemon.pipeline.engine)
    outcome: list[object] = []

    def operator() -> None:
        try:
            started = time.monotonic() + 30         # a loaded machine may take a while to start the pipeline
            while not daemon.pipeline._infer_thread.is_alive() and time.monotonic() < started:
                time.sleep(0.05)
            outcome.append(daemon.commander.set_precision({"precision": "fp32"})[0])
            deadline = time.monotonic() + 10       # the retire thread drops it once its requests are done
            while first() is not None and time.monotonic() < deadline:
                gc.collect()
                time.sleep(0.05)
            outcome.append(first() is None)
        finally:
            daemon.request_stop()

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    helper = threading.Timer(1.0, operator)
    helper.start()
    try:
        assert daemon.run() == 0
    finally:
        helper.join(30)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert str(outcome[0]).startswith("serving fp32") and outcome[1] is True, outcome


def test_missing_curve_keys_is_one_line(tmp_path, geo, model_dir):
    config = tmp_path / "onboard.toml"
    config.write_text(config_text(tmp_path, model=model_dir, reference=geo.reference, security="curve",
                                  keys_dir=tmp_path / "no-keys", address="tcp://127.0.0.1:1"))
    result = run_cli("onboard", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot read CURVE secret key" in result.stderr, result.stderr
