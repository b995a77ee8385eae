"""Structured logging: fields after the message (``key=value``), or one JSON object a line.

Log with ``log.info("signal accepted", extra=fields(correlation_id=cid, signal_id=sid))``.
The worker installs :class:`KeyValueFormatter` through Faust's ``logging_config``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

_FIELDS = "at_fields"


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` for a log call: the fields show as ``key=value`` after the message."""
    return {_FIELDS: values}


class KeyValueFormatter(logging.Formatter):
    """``<time> <level> <logger> <message> key=value ...`` (logfmt-style, one line)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra: dict[str, Any] = getattr(record, _FIELDS, {})
        if extra:
            line += " " + " ".join(f"{k}={_quote(v)}" for k, v in extra.items())
        return line


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the record's fields
    (correlation id, signal/order ids, ...), and the exception if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        extra: dict[str, Any] = getattr(record, _FIELDS, {})
        data.update({k: v for k, v in extra.items() if k not in data})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


FORMATTERS = {"human": "KeyValueFormatter", "json": "JSONFormatter"}


def _quote(value: Any) -> str:
    """logfmt value: bare when safe, else a JSON string (so one record stays one line)."""
    text = str(value)
    if text and not any(c in text for c in ' "=\\') and text.isprintable():
        return text
    return json.dumps(text)


FAUST_LEVELS = {
    "debug": "debug",
    "info": "info",
    "warning": "warn",
    "error": "error",
    "critical": "crit",
}


def faust_level(level: str) -> str:
    """Our level name (``AT_STREAM_LOG_LEVEL``) as the Faust CLI's ``-l`` wants it."""
    return FAUST_LEVELS[level.lower()]


def logging_config(level: str, fmt: str = "human") -> dict[str, Any]:
    """Faust ``logging_config``: merged into the worker's, replacing its formatters.

    ``fmt``: ``human`` (``key=value`` after the message) or ``json`` (one object a line).
    """
    formatter = {"()": f"{__name__}.{FORMATTERS[fmt]}"}
    return {
        "merge": True,
        "version": 1,
        "formatters": {"default": formatter, "colored": formatter},
        "loggers": {"app": {"level": level.upper()}},
    }
