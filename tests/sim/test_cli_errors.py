"""Bad arguments: one line on stderr, exit status 2, no traceback, nothing half-written."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli


@pytest.mark.parametrize("args, says", [
    (("--count", "-3"), "--count"),
    (("--count", "0"), "--count"),
    (("--size", "100"), "--size"),
    (("--size", "0"), "--size"),
    (("--size", "-64"), "--size"),
    (("--size", "65536"), "--size"),
    (("--format", "jpeg"), "--format"),
    (("--count", "many"), "--count"),
    (("--difficulty", "2"), "--difficulty"),
    (("--style", "photoreal"), "--style"),
    (("--style", "realistic", "--format", "geotiff"), "--style"),
    (("--style", "realistic", "--format", "both"), "--gsd"),
    (("--gsd", "0.6"), "--gsd"),
    (("--style", "realistic", "--gsd", "5"), "--gsd"),
    (("--prefix", "a_b"), "--prefix"),
    (("--prefix", "../up"), "--prefix"),
])
def test_bad_argument(tmp_path, args, says):
    done = run_cli("scenes", "--out", str(tmp_path / "out"), *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_unwritable_out(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = run_cli("scenes", "--out", str(blocker / "scenes"), "--count", "1", "--size", "64")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--out" in lines[0] and "Traceback" not in done.stderr, done.stderr


def test_missing_out():
    done = run_cli("scenes", "--count", "1")
    assert done.returncode == 2 and "--out" in done.stderr and "Traceback" not in done.stderr
