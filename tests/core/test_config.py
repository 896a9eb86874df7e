"""The configuration loader: TOML, environment overrides, validation, one-line errors."""

from pathlib import Path

import pytest
from pydantic import Field

from satedge.config import ClockSection, Config, Section, SecuritySection, load
from satedge.errors import UserError


class LinkSection(Section):
    rate_bps: int = Field(9600, gt=0)
    loss: float = Field(0.0, ge=0, le=1)
    tle: list[str] | None = None


class StoreSection(Section):
    path: Path = Path("data/ground.sqlite")


class ExampleConfig(Config):
    clock: ClockSection = ClockSection()
    security: SecuritySection = SecuritySection()
    link: LinkSection = LinkSection()
    store: StoreSection = StoreSection()


def write(tmp_path, text):
    path = tmp_path / "example.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file():
    config = load(ExampleConfig, None, environ={})
    assert config.link.rate_bps == 9600
    assert config.security.mode == "curve"
    assert config.clock.epoch is None and config.clock.speedup == 1.0


def test_file_values_and_paths_relative_to_the_file(tmp_path):
    path = write(tmp_path, '[link]\nrate_bps = 1200\n[store]\npath = "db/g.sqlite"\n'
                           '[clock]\nepoch = "2026-01-01T00:00:00Z"\n')
    config = load(ExampleConfig, path, environ={})
    assert config.link.rate_bps == 1200
    assert config.store.path == tmp_path / "db/g.sqlite"
    assert config.clock.epoch == 1767225600.0


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, "[link]\nrate_bps = 1200\n")
    env = {"SATEDGE_LINK_RATE_BPS": "4800", "SATEDGE_LINK_LOSS": "0.25",
           "SATEDGE_SECURITY_MODE": "none", "SATEDGE_CLOCK_EPOCH": "1700000000",
           "SATEDGE_LINK_TLE": '["1 25544U", "2 25544"]', "SATEDGE_STORE_PATH": "rel/x.sqlite"}
    config = load(ExampleConfig, path, environ=env)
    assert (config.link.rate_bps, config.link.loss, config.security.mode) == (4800, 0.25, "none")
    assert config.clock.epoch == 1700000000.0
    assert config.link.tle == ["1 25544U", "2 25544"]
    assert config.store.path == Path("rel/x.sqlite")


@pytest.mark.parametrize("text, message", [
    ("[link]\nrate_bsp = 1\n", "unknown key 'link.rate_bsp'"),
    ("[lnk]\nrate_bps = 1\n", "unknown key 'lnk'"),
    ("[link]\nloss = 3\n", "link.loss"),
    ("[link]\nrate_bps = 'fast'\n", "link.rate_bps"),
    ("[security]\nmode = 'plain'\n", "security.mode"),
    ("[clock]\nepoch = 'yesterday'\n", "clock.epoch"),
    ("link = 3\n", "link"),
    ("[link\n", "not valid TOML"),
])
def test_bad_files_name_the_key_and_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(UserError) as err:
        load(ExampleConfig, path, environ={})
    assert message in str(err.value)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_environment_value_is_named():
    with pytest.raises(UserError, match="link.rate_bps"):
        load(ExampleConfig, None, environ={"SATEDGE_LINK_RATE_BPS": "-5"})


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load(ExampleConfig, tmp_path / "nope.toml", environ={})


def test_effective_configuration_is_plain_data(tmp_path):
    effective = load(ExampleConfig, write(tmp_path, "[link]\nloss = 0.5\n"), environ={}).effective()
    assert effective["link"]["loss"] == 0.5
    assert "source" not in effective


def test_to_toml_round_trips_through_load(tmp_path):
    from satedge.config import to_toml
    text = to_toml({"link": {"rate_bps": 300, "loss": 0.1, "tle": ['1 2 "x"', "2 3"]},
                    "store": {"path": str(tmp_path / "a b.sqlite")}, "clock": {"epoch": None}})
    config = load(ExampleConfig, write(tmp_path, text), environ={})
    assert config.link.tle == ['1 2 "x"', "2 3"] and config.link.rate_bps == 300
    assert config.store.path == tmp_path / "a b.sqlite"


def test_an_empty_environment_variable_is_unset():
    from ground.config import GroundConfig
    cfg = load(GroundConfig, environ={"SATEDGE_LINK_RATE_BPS": "", "SATEDGE_STORE_REPORT_DIR": ""})
    assert cfg.link.rate_bps == 9600 and cfg.store.report_dir is None


@pytest.mark.parametrize("text", ["[link]\nloss = nan\n", "[link]\nloss = inf\n", "[clock]\nepoch = -inf\n",
                                  '[clock]\nepoch = "nan"\n', "[clock]\nspeedup = inf\n"])
def test_non_finite_numbers_are_refused(tmp_path, text):
    with pytest.raises(UserError, match="finite number"):
        load(ExampleConfig, write(tmp_path, text), environ={})
