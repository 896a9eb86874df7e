"""Row 12 of issue 16: a non-finite number in a configuration (TOML has `inf` and `nan`) is refused by
`--check-config` and at start, in one line, by the real command line (docs/reliability.md)."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.reliability   # a dozen processes: the unit test is tests/core/test_config.py

CASES = [
    ("onboard", "[ingest]\npoll_s = inf\n", "ingest.poll_s"),
    ("onboard", "[clock]\nepoch = nan\n", "clock.epoch"),
    ("onboard", "[ground]\nresend_s = -inf\n", "ground.resend_s"),
    ("ground", "[link]\nrate_bps = inf\n", "link.rate_bps"),
    ("ground", "[clock]\nspeedup = inf\n", "clock.speedup"),
    ("ground", "[station]\nalt_m = nan\n", "station.alt_m"),
]


@pytest.mark.parametrize("daemon,text,key", CASES)
@pytest.mark.parametrize("check", [True, False], ids=["check-config", "start"])
def test_non_finite_config_values_are_one_line_errors(tmp_path, daemon, text, key, check):
    path = tmp_path / f"{daemon}.toml"
    path.write_text(text)
    result = run_cli(daemon, "--config", str(path), *(["--check-config"] if check else []), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and "finite" in lines[0], result.stderr


def test_a_non_finite_environment_value_is_refused_too(tmp_path):
    result = run_cli("onboard", "--check-config", env={"SATEDGE_INGEST_POLL_S": "inf"}, timeout=60)
    assert result.returncode == 2 and "ingest.poll_s" in result.stderr and "finite" in result.stderr, result.stderr
