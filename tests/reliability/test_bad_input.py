"""Bad input: a corpus of bad tiles fed to the running daemon between good ones (each is quarantined
with its reason, the next good tile is served), and bad configuration files and arguments for every
subcommand registered in satedge/cli.py (one line on stderr, exit status 2, no traceback)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from onboard.spool import spooled_sources
from satedge.cli import COMMANDS
from tests.conftest import run_cli
from tests.onboard.conftest import CRS, ORIGIN, RES, config_text, texture, write_tiff

pytestmark = pytest.mark.timeout(300)


def _publish(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    tmp.rename(path)
    return path


def _huge_header(path: Path) -> Path:
    """A valid GeoTIFF header claiming 100000 x 100000 pixels (sparse: a few kB on disk)."""
    tmp = path.with_name(f".{path.name}.part")
    with rasterio.open(tmp, "w", driver="GTiff", width=100_000, height=100_000, count=3, dtype="uint8",
                       crs=CRS, transform=from_origin(*ORIGIN, RES, RES), tiled=True, sparse_ok=True):
        pass
    tmp.rename(path)
    return path


def _symlink(path: Path, target: Path) -> Path:
    path.symlink_to(target)
    return path


def bad_corpus(inbox: Path, outside: Path, geo) -> dict[str, tuple[Path, str]]:
    """name -> (file published in the inbox, what its quarantine reason must say)."""
    good_bytes = geo.scene(outside, "whole", size=128, seed=77).read_bytes()
    at = dict(west=ORIGIN[0], north=ORIGIN[1])
    return {
        "zero-bytes": (_publish(inbox / "zero-bytes.tif", b""), "not a readable GeoTIFF"),
        "truncated": (_publish(inbox / "truncated.tif", good_bytes[: len(good_bytes) // 3]), "not a readable GeoTIFF"),
        "not-a-tiff": (_publish(inbox / "not-a-tiff.tif", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200), "not a readable"),
        "one-band": (write_tiff(inbox / "one-band.tif", texture(1, 64, bands=1), **at), "1 bands, expected 3"),
        "four-bands": (write_tiff(inbox / "four-bands.tif", texture(1, 64, bands=4), **at), "4 bands, expected 3"),
        "uint16": (write_tiff(inbox / "uint16.tif", texture(2, 64).astype(np.uint16), **at), "dtype uint16"),
        "nan": (write_tiff(inbox / "nan.tif", np.full((3, 64, 64), np.nan, np.float32), **at), "NaN pixels"),
        "inf": (write_tiff(inbox / "inf.tif", np.full((3, 64, 64), np.inf, np.float32), **at), "expected uint8"),
        "huge-header": (_huge_header(inbox / "huge-header.tif"), "absurd size 100000x100000"),
        "no-crs": (write_tiff(inbox / "no-crs.tif", texture(3, 64), west=0, north=0, georef=False),
                   "no georeferencing"),
        "symlink-to-scene": (_symlink(inbox / "symlink-to-scene.tif", geo.scene(outside, "elsewhere", seed=5)),
                             "symbolic link"),
        "symlink-to-system": (_symlink(inbox / "symlink-to-system.tif", Path("/etc/hostname")), "symbolic link"),
    }


def test_bad_tiles_are_quarantined_and_good_ones_served(tmp_path, geo, tiny_model_dir, free_port, start_daemon):
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    config = tmp_path / "onboard.toml"
    config.write_text(config_text(tmp_path, model=tiny_model_dir, reference=geo.reference,
                                  address=f"tcp://127.0.0.1:{free_port}", precision="fp32"))
    daemon = start_daemon(config, tmp_path / "daemon.log")
    daemon.wait_log("onboard daemon started", timeout=90)
    good = []
    corpus = {}
    # Interleaved: a good tile after each group of bad ones, so each must be served past them.
    for i, (name, item) in enumerate(bad_corpus(inbox, outside, geo).items()):
        corpus[name] = item
        if i % 4 == 3:
            good.append(geo.scene(inbox, f"good-{i}", col=50 * i, row=40 * i, size=128, seed=i).stem)
    good.append(geo.scene(inbox, "good-last", col=600, row=600, size=128, seed=99).stem)
    # Outside the reference is not bad input: the post image alone is graded (issue 18).
    good.append(write_tiff(inbox / "outside.tif", texture(4, 64), west=ORIGIN[0] + 50_000, north=ORIGIN[1]).stem)

    quarantine = tmp_path / "quarantine"
    deadline = time.monotonic() + 90
    while True:
        reasons = list(quarantine.glob("*.reason")) if quarantine.exists() else []
        sources = spooled_sources(tmp_path / "spool.sqlite")
        if len(reasons) == len(corpus) and {f"{g}.tif" for g in good} <= sources:
            break
        assert time.monotonic() < deadline, (sorted(r.name for r in reasons), sorted(sources))
        time.sleep(0.1)
    assert daemon.proc.poll() is None, "the daemon must keep serving"
    for name, (path, says) in corpus.items():
        reason = quarantine / f"{path.name}.reason"
        assert reason.exists(), name
        assert says in reason.read_text(), (name, reason.read_text())
        assert (quarantine / path.name).exists() or (quarantine / path.name).is_symlink(), name
    # A symlink is moved as a link: what it pointed at is neither read, moved nor deleted.
    assert (outside / "elsewhere.tif").exists() and Path("/etc/hostname").exists()
    assert list(inbox.iterdir()) == []
    assert daemon.terminate() == 0
    log = daemon.log()
    assert log.count("scene quarantined") == len(corpus) and "Traceback" not in log
    assert f"quarantined={len(corpus)}" in log


# --- bad configuration files and arguments --------------------------------------------------

BAD_CONFIGS = {
    "missing": None,
    "not-toml": "[[[ this is not toml",
    "unknown-section": "[nonsense]\nx = 1\n",
    "unknown-key": "[log]\nverbosity = 3\n",
    "wrong-type": "[log]\nstatus_interval_s = \"often\"\n",
    "out-of-range": "[clock]\nspeedup = -4\n",
    "a-folder": "FOLDER",
}
CONFIG_COMMANDS = {
    "onboard": ["onboard", "--check-config", "--config"],
    "ground": ["ground", "--check-config", "--config"],
    "camera": ["camera", "--check-config", "--config"],
    "sim": ["sim", "--check-config", "--config"],
    "mission": ["mission", "ground", "--out", "/dev/null", "--config"],
    "command": ["command", "list", "--config"],
}


def _config_file(tmp_path: Path, case: str) -> Path:
    text = BAD_CONFIGS[case]
    path = tmp_path / f"{case}.toml"
    if text == "FOLDER":
        path.mkdir()
    elif text is not None:
        path.write_text(text)
    return path


def _one_line_error(result, says: str | None = None) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "error" in lines[0]
    if says is not None:
        assert says in lines[0], lines[0]


FAST_CONFIG_CASES = [(cmd, case) for cmd in ("onboard", "ground") for case in BAD_CONFIGS]
LONG_CONFIG_CASES = [(cmd, case) for cmd in CONFIG_COMMANDS for case in BAD_CONFIGS
                     if (cmd, case) not in FAST_CONFIG_CASES]


@pytest.mark.parametrize("command, case", FAST_CONFIG_CASES)
def test_bad_configuration_file_is_one_line(tmp_path, command, case):
    path = _config_file(tmp_path, case)
    _one_line_error(run_cli(*CONFIG_COMMANDS[command], str(path), timeout=120), says=None)


@pytest.mark.reliability
@pytest.mark.parametrize("command, case", LONG_CONFIG_CASES)
def test_bad_configuration_file_is_one_line_every_command(tmp_path, command, case):
    path = _config_file(tmp_path, case)
    _one_line_error(run_cli(*CONFIG_COMMANDS[command], str(path), timeout=120))


def bad_arguments(tmp: Path) -> dict[str, list[list[str]]]:
    """Per registered subcommand: argument lists a user could get wrong."""
    nothing = str(tmp / "no-such-thing")
    junk = tmp / "junk.bin"
    junk.write_bytes(b"\x00 not what you think \xff" * 10)
    a_file = str(junk)
    return {
        "scenes": [["--out", str(tmp / "s"), "--count", "0"], ["--out", str(tmp / "s"), "--size", "big"]],
        "train": [["--data", nothing, "--out", str(tmp / "t")], ["--data", nothing]],
        "sweep": [["--data", nothing, "--out", str(tmp / "w")]],
        "evaluate": [["--model", nothing, "--data", nothing], ["--model", a_file, "--data", str(tmp)]],
        "export": [["--checkpoint", nothing, "--out", str(tmp / "e")],
                   ["--checkpoint", a_file, "--out", str(tmp / "e")]],
        "quantize": [["--model", nothing, "--method", "nncf", "--data", nothing],
                     ["--model", nothing, "--method", "magic", "--data", nothing]],
        "bench": [["--model", nothing, "--out", str(tmp / "b")]],
        "onboard": [["--config", nothing], ["--bogus-flag"]],
        "ground": [["--config", nothing], ["--config", a_file]],
        "command": [["set-precision", "fp64", "--db", str(tmp / "g.sqlite")],
                    ["set-min-class", "9", "--db", str(tmp / "g.sqlite")],
                    ["list", "--db", nothing], ["list", "--db", a_file], ["self-destruct"]],
        "report": [["--db", nothing, "--out", str(tmp / "r")], ["--db", a_file, "--out", str(tmp / "r")]],
        "camera": [["--config", nothing]],
        "sim": [["--config", nothing], ["--speedup", "fast"]],
        "keys": [["--out", a_file], ["--out", str(tmp / "k"), "--satellites", "../escape"],
                 ["--out", str(tmp / "k"), "--claim"], ["--out", str(tmp / "k"), "--claim", nothing]],
        "predict": [["--model", nothing, "--out", str(tmp / "p"), a_file],
                    ["--model", nothing, "--precision", "fp64", "--out", str(tmp / "p"), a_file]],
        "guard": [["--model", nothing, "--calibrate", nothing], ["--model", nothing, "--calibrate", nothing,
                                                                 "--tail", "often"]],
        "realism": [["--real", nothing, "--generated", str(tmp)], ["--real", a_file, "--generated", nothing],
                    ["--real", a_file, "--generated", str(tmp), "--gsd", "-1"]],
        "mission": [["satellite", "--dir", str(tmp / "m"), "--id", "../escape"],
                    ["control", "--store", nothing, "--satellites", str(tmp), "--out", str(tmp / "o")],
                    ["ground", "--out", a_file + "/ground.toml"], ["launch"]],
    }


def test_every_registered_subcommand_has_bad_argument_cases(tmp_path):
    assert set(bad_arguments(tmp_path)) == set(COMMANDS)


CHEAP = ("onboard", "ground", "command", "report", "camera", "keys", "scenes", "mission", "predict", "guard",
         "realism")


def _run_cases(tmp_path, names) -> None:
    failures = []
    for name, cases in bad_arguments(tmp_path).items():
        if name not in names:
            continue
        for args in cases:
            result = run_cli(name, *args, timeout=180)
            try:
                _one_line_error(result)
            except AssertionError as exc:
                failures.append(f"satedge {name} {' '.join(args)}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_bad_arguments_are_one_line_for_the_daemons_and_tools(tmp_path):
    _run_cases(tmp_path, CHEAP)


@pytest.mark.reliability
def test_bad_arguments_are_one_line_for_every_subcommand(tmp_path):
    _run_cases(tmp_path, [name for name in COMMANDS if name not in CHEAP])
