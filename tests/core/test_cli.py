"""The console script: registry, help, one-line errors, logging formats, keys."""

import json
import logging
import os
import sys

import zmq

from satedge import keys, logs
from satedge.cli import COMMANDS
from tests.conftest import run_cli


def test_help_lists_every_registered_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


def test_every_registered_command_has_a_working_module():
    import importlib
    for name, command in COMMANDS.items():
        module = importlib.import_module(command.module)
        assert callable(module.add_arguments) and callable(module.run), name


def test_unknown_command_and_bad_option_are_one_line():
    for args in (["launch-rockets"], ["keys", "--count", "many", "--out", "x"], ["keys"]):
        result = run_cli(*args)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr


def test_keys_makes_a_usable_curve_layout(tmp_path):
    result = run_cli("keys", "--out", str(tmp_path), "--satellites", "sat-1", "sat-2")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ground.key_secret").exists()
    public, secret = keys.satellite_secret(tmp_path, "sat-2")
    assert len(public) == 40 and len(secret) == 40
    assert keys.ground_public(tmp_path) == keys.ground_secret(tmp_path)[0]


def test_curve_pair_talks_and_unknown_key_does_not(tmp_path):
    keys.make(tmp_path / "k", ["sat-1"])
    keys.make(tmp_path / "other", ["sat-1"])  # same id, different key: not allow-listed
    ctx = zmq.Context()
    auth = keys.start_authenticator(ctx, tmp_path / "k")
    server = ctx.socket(zmq.ROUTER)
    keys.secure_server(server, tmp_path / "k")
    port = server.bind_to_random_port("tcp://127.0.0.1")
    try:
        for keys_dir, should_arrive in ((tmp_path / "other", False), (tmp_path / "k", True)):
            client = ctx.socket(zmq.DEALER)
            client.linger = 0
            pub, sec = keys.satellite_secret(keys_dir, "sat-1")
            client.curve_publickey, client.curve_secretkey = pub, sec
            client.curve_serverkey = keys.ground_public(tmp_path / "k")
            client.connect(f"tcp://127.0.0.1:{port}")
            client.send(b"hi")
            arrived = server.poll(1500)
            assert bool(arrived) == should_arrive
            if arrived:
                server.recv_multipart()
            client.close()
    finally:
        server.close(linger=0)
        auth.stop()
        ctx.term()


def test_json_log_lines(capsys):
    logs.setup("json", "info")
    logs.event(logging.getLogger("t"), "scene done", scene="a", tiles=16)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    event = json.loads(line)
    assert event["msg"] == "scene done" and event["tiles"] == 16 and event["level"] == "info"
    logs.setup("text", "info")


def test_a_claimed_id_is_held_while_its_holder_lives_and_free_after(tmp_path):
    first, fd1 = keys.claim(tmp_path)
    second, fd2 = keys.claim(tmp_path)
    assert (first, second) == ("sat-1", "sat-2")
    assert (tmp_path / "satellites" / "sat-2.key").exists()
    os.close(fd1)                                   # its holder died: the lowest id is free again
    assert keys.claim(tmp_path)[0] == "sat-1"
    os.close(fd2)


def test_claim_runs_the_command_with_the_id_and_the_lock(tmp_path):
    probe = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR)\n"
             "try: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')\n"
             "except BlockingIOError: print('held', os.environ['SATEDGE_SATELLITE_ID'])")
    # The command replaces the claiming process (exec) and inherits the lock: a new lock attempt fails.
    result = run_cli("keys", "--out", str(tmp_path), "--claim", sys.executable, "-c", probe,
                     str(tmp_path / "claims" / "sat-1.lock"))
    assert result.returncode == 0 and result.stdout.strip() == "held sat-1", result.stderr
    missing = run_cli("keys", "--out", str(tmp_path), "--claim")
    assert missing.returncode == 2 and "needs the command" in missing.stderr


def test_log_file_gets_every_event_as_json_whatever_the_console(tmp_path, capsys):
    path = tmp_path / "logs" / "events.jsonl"
    logs.setup("text", "info", path)
    logs.event(logging.getLogger("t"), "scene summarised", prec="fp32", tiles=81)
    logs.setup("text", "info")
    assert "scene summarised prec=fp32" in capsys.readouterr().err
    assert json.loads(path.read_text().splitlines()[-1])["tiles"] == 81
