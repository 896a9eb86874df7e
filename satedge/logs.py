"""Logging: one line per event, human-readable or JSON lines.

Structured fields go in `extra={"fields": {...}}`; both formats print them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time


class TextFormatter(logging.Formatter):
    """One line for a person: time, level, logger, message, then `key=value` fields."""

    def format(self, record: logging.LogRecord) -> str:  # noqa: D102 - logging.Formatter's hook
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = getattr(record, "fields", None) or {}
        tail = "".join(f" {k}={v}" for k, v in fields.items())
        line = f"{stamp} {record.levelname.lower():7s} {record.name}: {record.getMessage()}{tail}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the fields at top level: what other processes parse."""

    def format(self, record: logging.LogRecord) -> str:  # noqa: D102 - logging.Formatter's hook
        event = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        event.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str)


def setup(fmt: str | None = None, level: str | None = None, file: str | os.PathLike[str] | None = None) -> None:
    """Configure the root logger once per process (CLI flag, else env, else text/info).

    `file` (else env SATEDGE_LOG_FILE) also gets every event as JSON lines,
    whatever the console's format: the structured record other processes read.
    """
    fmt = fmt or os.environ.get("SATEDGE_LOG_FORMAT", "text")
    level = level or os.environ.get("SATEDGE_LOG_LEVEL", "info")
    file = file or os.environ.get("SATEDGE_LOG_FILE") or None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handlers: list[logging.Handler] = [handler]
    if file is not None:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(file)), exist_ok=True)
            events = logging.FileHandler(file, encoding="utf-8")
        except OSError as exc:
            from satedge.errors import UserError
            raise UserError(f"cannot open log.file {file}: {exc.strerror or exc}") from None
        events.setFormatter(JsonFormatter())
        handlers.append(events)
    root = logging.getLogger()
    for old in root.handlers:
        if old not in handlers:
            old.close()
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    # GDAL's own messages about a bad file reach rasterio's log at info level; the one-line error about the
    # file already says what was wrong, so a user sees it once (GDAL's warnings and errors still show).
    logging.getLogger("rasterio").setLevel(max(logging.WARNING, root.level))


def event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields: object) -> None:
    """Log one event with structured fields."""
    logger.log(level, msg, extra={"fields": fields})
