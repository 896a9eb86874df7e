"""The daemon's configuration: the sections its parts take, their defaults, and their documentation."""

from __future__ import annotations

import re

from onboard import config as onboard_config
from onboard.config import IngestSection, OnboardConfig
from satedge.config import ClockSection, LogSection, Section
from tests.conftest import REPO


def test_quarantine_is_beside_the_inbox_unless_set(tmp_path):
    assert IngestSection(inbox=tmp_path / "inbox").quarantine_dir == tmp_path / "quarantine"
    assert IngestSection(inbox=tmp_path / "inbox", quarantine=tmp_path / "q").quarantine_dir == tmp_path / "q"


def test_defaults_are_the_sections_own():
    cfg = OnboardConfig()
    assert cfg.clock == ClockSection() and cfg.log == LogSection()


def test_every_key_of_the_daemons_own_sections_is_documented():
    """A key is added in onboard/config.py and given its line in docs/onboard.md's configuration block."""
    text = (REPO / "docs" / "onboard.md").read_text()
    block = text.split("All keys, with their defaults", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    documented: dict[str, set[str]] = {}
    section = ""
    for line in block.splitlines():
        if match := re.match(r"^\[(\w+)\]", line):
            section = match.group(1)
            documented[section] = set()
        elif match := re.match(r"^#?\s*(\w+) = ", line):
            documented[section].add(match.group(1))
    own = {name: field.annotation for name, field in OnboardConfig.model_fields.items()
           if isinstance(field.annotation, type) and issubclass(field.annotation, Section)
           and field.annotation.__module__ == onboard_config.__name__}
    assert own, "no section of onboard/config.py found"
    for name, section_cls in own.items():
        assert set(section_cls.model_fields) <= documented.get(name, set()), name
