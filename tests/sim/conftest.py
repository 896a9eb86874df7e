"""Scene sets made once per test session through the real command line (small scenes, few of them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

SMALL = 256


def make_set(out: Path, *args: str) -> Path:
    done = run_cli("scenes", "--out", str(out), *args)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="session")
def both_set(tmp_path_factory) -> Path:
    """`satedge scenes --out D --count 4 --seed 7 --format both` at 256 px."""
    return make_set(tmp_path_factory.mktemp("both"), "--count", "4", "--seed", "7", "--size", str(SMALL),
                    "--format", "both")


@pytest.fixture(scope="session")
def realistic_set(tmp_path_factory) -> Path:
    """`satedge scenes --out D --count 6 --seed 3 --style realistic` at 256 px."""
    return make_set(tmp_path_factory.mktemp("realistic"), "--count", "6", "--seed", "3", "--size", str(SMALL),
                    "--style", "realistic")
