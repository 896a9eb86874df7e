"""`to_toml` writes what `load` and tomllib read back: unset values left out, paths as text."""

from __future__ import annotations

import tomllib
from pathlib import Path

from satedge.config import to_toml


def test_values_round_trip_through_tomllib(tmp_path):
    sections = {"link": {"rate_bps": 300, "loss": 0.1, "period_s": 1e7, "tle": ['1 2 "x"', "back\\slash"],
                         "lossless": True, "seed": None},
                "store": {"path": tmp_path / "a b.sqlite", "report_dir": None},
                "clock": {}}
    assert tomllib.loads(to_toml(sections)) == {
        "link": {"rate_bps": 300, "loss": 0.1, "period_s": 1e7, "tle": ['1 2 "x"', "back\\slash"],
                 "lossless": True},
        "store": {"path": str(tmp_path / "a b.sqlite")},
        "clock": {}}


def test_paths_in_lists_are_text_too():
    assert tomllib.loads(to_toml({"s": {"files": [Path("a"), Path("b/c")]}})) == {"s": {"files": ["a", "b/c"]}}
