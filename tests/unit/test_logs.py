"""Unit tests of app.logs: the key=value formatter and the Faust logging config."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from typing import Any

import pytest

from app.logs import KeyValueFormatter, faust_level, fields, logging_config


def _record(msg: str = "signal accepted", **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("app.web", logging.INFO, __file__, 1, msg, (), None)
    if extra:
        record.__dict__.update(fields(**extra))
    return record


def _tail(line: str, msg: str = "signal accepted") -> str:
    """What follows the message on a formatted line."""
    head, _, tail = line.partition(msg)
    assert head, line
    return tail


def test_fields_is_the_extra_mapping() -> None:
    assert fields(a=1, b="x") == {"at_fields": {"a": 1, "b": "x"}}
    assert fields() == {"at_fields": {}}


def test_format_without_fields() -> None:
    line = KeyValueFormatter().format(_record())
    assert line.endswith(" INFO app.web signal accepted")


def test_format_with_empty_fields_adds_nothing() -> None:
    record = _record()
    record.__dict__.update(fields())
    assert KeyValueFormatter().format(record).endswith("signal accepted")


def test_fields_follow_the_message_in_order() -> None:
    line = KeyValueFormatter().format(_record(correlation_id="cid-12345", signal_id="sid", n=3))
    assert _tail(line) == " correlation_id=cid-12345 signal_id=sid n=3"


def test_values_with_spaces_are_quoted() -> None:
    line = KeyValueFormatter().format(_record(reason="two words", ok="one"))
    assert _tail(line) == ' reason="two words" ok=one'


def test_empty_values_are_quoted() -> None:
    assert _tail(KeyValueFormatter().format(_record(key=""))) == ' key=""'


def test_non_string_values_use_str() -> None:
    line = KeyValueFormatter().format(_record(none=None, flag=True, ratio=0.5, items=[1, 2]))
    assert _tail(line) == ' none=None flag=True ratio=0.5 items="[1, 2]"'


def test_message_arguments_are_interpolated() -> None:
    record = logging.LogRecord("app", logging.WARNING, __file__, 1, "got %d", (3,), None)
    record.__dict__.update(fields(x="y"))
    line = KeyValueFormatter().format(record)
    assert line.endswith(" WARNING app got 3 x=y")


def test_line_starts_with_a_timestamp() -> None:
    line = KeyValueFormatter().format(_record())
    date = line.split(" ", 1)[0]
    assert len(date) == 10
    assert date[4] == "-"
    assert date[7] == "-"


@pytest.mark.parametrize("value", ["a\nb", "x\r\nlevel=ERROR forged"])
def test_value_with_newline_stays_on_one_line(value: str) -> None:
    """Regression: a newline in a value used to split (and let a caller forge) a record."""
    line = KeyValueFormatter().format(_record(reason=value))
    assert "\n" not in line
    assert "\r" not in line


def test_value_with_quotes_is_escaped() -> None:
    line = KeyValueFormatter().format(_record(reason='say "hi" now'))
    assert _tail(line) == ' reason="say \\"hi\\" now"'


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("a=b", '"a=b"'),
        ('"', '"\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("tab\there", '"tab\\there"'),
        ("plain-value_1.2:3", "plain-value_1.2:3"),
    ],
)
def test_unsafe_values_are_json_quoted(value: str, rendered: str) -> None:
    line = KeyValueFormatter().format(_record(k=value))
    assert _tail(line) == f" k={rendered}"
    assert "\t" not in line


# -- wired through logging ------------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KeyValueFormatter())
    logger = logging.getLogger("app.tests.unit.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    old_propagate = logger.propagate
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = old_propagate


def test_extra_fields_through_a_logger(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("signal accepted", extra=fields(correlation_id="abcdefgh", symbol="AAPL"))
    logger.info("plain")
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(
        "INFO app.tests.unit.logs signal accepted correlation_id=abcdefgh symbol=AAPL"
    )
    assert lines[1].endswith("INFO app.tests.unit.logs plain")


def test_logging_config_shape() -> None:
    config = logging_config("debug")
    assert config["merge"] is True
    assert config["version"] == 1
    formatter = {"()": "app.logs.KeyValueFormatter"}
    assert config["formatters"] == {"default": formatter, "colored": formatter}
    assert config["loggers"] == {"app": {"level": "DEBUG"}}


@pytest.mark.parametrize("level", ["info", "INFO", "Warning", "error", "critical"])
def test_logging_config_level_is_upper_case(level: str) -> None:
    assert logging_config(level)["loggers"]["app"]["level"] == level.upper()


def test_logging_config_formatter_factory_resolves() -> None:
    """The dotted ``()`` path names the real class, so dictConfig can build it."""
    config = logging_config("info")
    factory = logging.config.BaseConfigurator({}).resolve(config["formatters"]["default"]["()"])
    assert factory is KeyValueFormatter


@pytest.mark.parametrize(
    ("ours", "faust"),
    [
        ("debug", "debug"),
        ("INFO", "info"),
        ("warning", "warn"),
        ("Error", "error"),
        ("critical", "crit"),
    ],
)
def test_faust_level_names_our_levels_as_the_faust_cli_wants(ours: str, faust: str) -> None:
    from faust.cli.base import LOGLEVELS

    assert faust_level(ours) == faust
    assert faust.upper() in LOGLEVELS


def test_json_lines_carry_the_fields() -> None:
    from app.logs import JSONFormatter

    line = JSONFormatter().format(_record(correlation_id="c-1", signal_id="s-1"))
    data = json.loads(line)
    assert data["message"] == "signal accepted" and data["level"] == "info"
    assert data["logger"] == "app.web"
    assert (data["correlation_id"], data["signal_id"]) == ("c-1", "s-1")
    assert "\n" not in line


def test_json_formatter_is_chosen_by_the_format() -> None:
    config = logging_config("info", "json")
    assert config["formatters"]["default"] == {"()": "app.logs.JSONFormatter"}
