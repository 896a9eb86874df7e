"""One validated configuration per process: TOML file, then environment, then defaults in code.

A process declares its configuration as a `Config` subclass whose fields are
`Section`s. `load(ConfigClass, path)`:

1. reads the TOML file (optional: a process runs with no file at all),
   resolving every `Path` value relative to the file's folder;
2. applies `SATEDGE_<SECTION>_<KEY>` environment variables (relative paths
   there are relative to the working directory; an empty variable is unset);
3. validates everything with pydantic: an unknown key or a bad value is a
   `UserError` that names the key and the file.
"""

from __future__ import annotations

import os
import tomllib
import typing
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import tomli_w
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from satedge.errors import UserError
from satedge.vocabulary import unix_seconds

ENV_PREFIX = "SATEDGE_"


class Section(BaseModel):
    """One `[section]` of a configuration file: unknown keys are errors, and so is inf or nan for a number
    (TOML has both; no duration, rate or time of ours means anything infinite)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


def _unix_seconds(value: Any) -> Any:
    """Accept Unix seconds or an ISO 8601 string (naive means UTC)."""
    if isinstance(value, datetime):
        value = value.isoformat()
    return unix_seconds(value) if isinstance(value, str) else value


UnixTime = Annotated[float, BeforeValidator(_unix_seconds)]


class ClockSection(Section):
    """Simulated time (docs/architecture.md): unset epoch/start mean "now" at process start."""

    # Defaults are passed as `default=`: type checkers see a positional one as no default at all.
    epoch: UnixTime | None = None
    start: UnixTime | None = Field(default=None, description="wall-clock Unix time at which sim time equals epoch")
    start_file: Path | None = Field(default=None, description="where processes on separate hosts share `start`: "
                                    "the first to start writes it, the others read it")
    await_start: bool = Field(default=False, description="wait for start_file to be written by the process that "
                              "starts the run (`satedge mission control`) instead of writing it")
    end_file: Path | None = Field(default=None, description="the run is over when this file is marked (by "
                                  "`satedge mission control`): daemons and the camera stop cleanly")
    speedup: float = Field(default=1.0, gt=0)


class SecuritySection(Section):
    """CURVE or nothing; `none` exists for tests and warns at start."""

    mode: Literal["curve", "none"] = "curve"
    keys_dir: Path = Path("keys")


class LogSection(Section):
    """Console format and level; `file` is the JSON-lines record other processes read."""

    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"
    status_interval_s: float = Field(default=10.0, gt=0, description="wall seconds between status lines")
    file: Path | None = Field(default=None, description="also append every event to this file as JSON lines "
                              "(what `satedge mission control` reads of a satellite on another host)")


class Config(BaseModel):
    """Base of every process's configuration; remembers the file it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    source: Path | None = Field(default=None, exclude=True)

    def effective(self) -> dict[str, Any]:
        """The configuration as the process sees it, for `--check-config`."""
        return self.model_dump(mode="json", exclude={"source"})


C = TypeVar("C", bound=Config)


def _section_types(config_cls: type[Config]) -> dict[str, type[Section]]:
    sections: dict[str, type[Section]] = {}
    for name, field in config_cls.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, Section):
            sections[name] = field.annotation
    return sections


def _is_path(annotation: Any) -> bool:
    if annotation is Path:
        return True
    return Path in typing.get_args(annotation)


def _is_text(annotation: Any) -> bool:
    return annotation is str or _is_path(annotation) or str in typing.get_args(annotation)


def _env_value(raw: str, annotation: Any) -> Any:
    """Environment strings: text stays text; anything else may be a TOML literal (lists, bools)."""
    if _is_text(annotation) and typing.get_origin(annotation) is not Literal:
        return raw
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise UserError(f"configuration file not found: {path}") from None
    except IsADirectoryError:
        raise UserError(f"configuration file is a directory: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not valid TOML: not UTF-8 text") from None


def _resolve_paths(data: dict[str, Any], sections: dict[str, type[Section]], base: Path) -> None:
    for name, values in data.items():
        section = sections.get(name)
        if section is None or not isinstance(values, dict):
            continue
        for key, value in values.items():
            field = section.model_fields.get(key)
            if field is not None and _is_path(field.annotation) and isinstance(value, str):
                values[key] = str(base / value)


def _describe(error: ErrorDetails, origin: str) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{origin}: unknown key '{loc}'"
    value = error.get("input")
    shown = f" (got {value!r})" if not isinstance(value, dict) else ""
    message = error["msg"].removeprefix("Value error, ")
    return f"{origin}: {loc}: {message}{shown}" if loc else f"{origin}: {message}"


def load(config_cls: type[C], path: str | Path | None = None,
         environ: typing.Mapping[str, str] | None = None,
         overrides: Mapping[str, Mapping[str, Any]] | None = None) -> C:
    """Load, override and validate one process's configuration, typed as the class asked for."""
    environ = os.environ if environ is None else environ
    sections = _section_types(config_cls)
    data: dict[str, Any] = {}
    origin = "defaults"
    if path is not None:
        path = Path(path)
        data = _read_file(path)
        origin = str(path)
        _resolve_paths(data, sections, path.resolve().parent)
    for name, values in (overrides or {}).items():
        data.setdefault(name, {}).update(values)
    for name, section in sections.items():
        for key, field in section.model_fields.items():
            raw = environ.get(f"{ENV_PREFIX}{name}_{key}".upper())
            if raw:   # empty is unset: compose passes `${VAR:-}` for a variable the user did not set
                if not isinstance(data.get(name, {}), dict):
                    continue  # the validator names the bad section
                data.setdefault(name, {})[key] = _env_value(raw, field.annotation)
    try:
        return config_cls(source=path, **data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UserError(_describe(first, origin)) from None
    except TypeError as exc:  # a non-table where a section belongs
        raise UserError(f"{origin}: {exc}") from None


def _toml_ready(value: Any) -> Any:
    """What tomli_w can write: Paths as text, None (unset) left out of tables."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {key: _toml_ready(v) for key, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_toml_ready(v) for v in value]
    return value


def to_toml(sections: dict[str, dict[str, Any]]) -> str:
    """A configuration file from `{section: {key: value}}` (scalars and lists; None means unset)."""
    return tomli_w.dumps({name: _toml_ready(values) for name, values in sections.items()})
