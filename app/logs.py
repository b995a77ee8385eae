"""Structured logging: ``key=value`` fields after the message, correlation id first.

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


def logging_config(level: str) -> dict[str, Any]:
    """Faust ``logging_config``: merged into the worker's, replacing its formatters."""
    formatter = {"()": f"{__name__}.KeyValueFormatter"}
    return {
        "merge": True,
        "version": 1,
        "formatters": {"default": formatter, "colored": formatter},
        "loggers": {"app": {"level": level.upper()}},
    }
