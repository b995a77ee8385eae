"""Unit tests of app.tap without a broker: decoding, formatters, argument parsing, main()."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import ConsumerRecord

from app import tap as tap_module
from app.tap import (
    TABLE_HEADER,
    TapError,
    TapOptions,
    TapRecord,
    decode_value,
    main,
    parse_args,
    to_json_line,
    to_record,
    to_table_row,
)

PLUS_2 = timezone(timedelta(hours=2))
TS = datetime(2024, 3, 1, 12, 30, 15, 123000, tzinfo=UTC)


def _record(**over: Any) -> TapRecord:
    data: dict[str, Any] = {
        "topic": "orders",
        "partition": 3,
        "offset": 42,
        "timestamp": TS,
        "key": "acct-1|AAPL",
        "headers": {"x-correlation-id": "corr-1"},
        "value": {"order_id": "o-1", "quantity": "10"},
    }
    data.update(over)
    return TapRecord(**data)


# -- decoding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": "1", "b": {"c": 2}}', {"a": "1", "b": {"c": 2}}),
        (b"[1, 2]", "[1, 2]"),
        (b"42", "42"),
        (b"plain text", "plain text"),
        (b'{"broken": ', '{"broken": '),
        (b"caf\xc3\xa9 \xff", "café \ufffd"),
        (b"", ""),
        (None, None),
    ],
)
def test_decode_value(raw: bytes | None, expected: object) -> None:
    assert decode_value(raw) == expected


def test_to_record_decodes_an_aiokafka_record() -> None:
    raw: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        topic="fills",
        partition=1,
        offset=7,
        timestamp=1_709_296_215_123,
        timestamp_type=0,
        key=b"acct-1|AAPL",
        value=b'{"fill_id": "f"}',
        checksum=None,
        serialized_key_size=11,
        serialized_value_size=16,
        headers=[("x-correlation-id", b"corr-1"), ("x-bin", b"\xff"), ("x-none", None)],
    )
    record = to_record(raw)
    assert (record.topic, record.partition, record.offset) == ("fills", 1, 7)
    assert record.timestamp == TS and record.timestamp.tzinfo is UTC
    assert record.key == "acct-1|AAPL"
    assert record.headers == {"x-correlation-id": "corr-1", "x-bin": "\ufffd", "x-none": ""}
    assert record.value == {"fill_id": "f"}


def test_a_record_without_key_or_headers() -> None:
    raw: ConsumerRecord[bytes, bytes] = ConsumerRecord("t", 0, 0, 0, 0, None, None, None, 0, 0, [])
    record = to_record(raw)
    assert record.key is None and record.value is None and record.headers == {}


# -- formatters ---------------------------------------------------------------------------------


def test_json_line_round_trips() -> None:
    line = to_json_line(_record(value={"note": "line1\nline2 é"}))
    assert "\n" not in line
    assert json.loads(line) == {
        "topic": "orders",
        "partition": 3,
        "offset": 42,
        "timestamp": "2024-03-01T12:30:15.123Z",
        "key": "acct-1|AAPL",
        "headers": {"x-correlation-id": "corr-1"},
        "value": {"note": "line1\nline2 é"},
    }
    assert "é" in line  # not \u-escaped


def test_json_line_of_a_text_value_and_no_key() -> None:
    data = json.loads(to_json_line(_record(key=None, value="not json")))
    assert data["key"] is None and data["value"] == "not json"


def test_table_rows_line_up_with_the_header() -> None:
    rows = [
        to_table_row(_record()),
        to_table_row(_record(partition=0, offset=1_234_567_890, key=None)),
        to_table_row(_record(key="k" * 60, value="x" * 500)),
    ]
    start = TABLE_HEADER.index("VALUE")
    for row in rows:
        assert "\n" not in row
        assert len(row) <= start + tap_module.VALUE_WIDTH
    assert rows[0][start:] == '{"order_id": "o-1", "quantity": "10"}'
    assert rows[0].startswith(
        "orders               3          42  2024-03-01T12:30:15.123Z  acct-1|AAPL "
    )
    key_at = TABLE_HEADER.index("KEY")
    headers_at = TABLE_HEADER.index("HEADERS")
    assert rows[0][headers_at:start].strip() == "x-correlation-id=corr-1"
    assert rows[1][key_at:headers_at].strip() == "-"
    assert rows[2][key_at : key_at + 24] == "k" * 23 + "…"
    assert rows[2].endswith("x" * 99 + "…")


def test_table_row_escapes_control_characters() -> None:
    row = to_table_row(_record(key="a\tb", value="line1\nline2\x00"))
    assert "\n" not in row and "\t" not in row
    assert "a\\tb" in row and row.endswith("line1\\nline2\\x00")


def test_table_row_of_a_tombstone() -> None:
    row = to_table_row(_record(value=None))
    start = TABLE_HEADER.index("VALUE")
    key_at = TABLE_HEADER.index("KEY")
    assert len(row) == start and row[key_at : key_at + 26] == "acct-1|AAPL".ljust(26)


# -- argument parsing ---------------------------------------------------------------------------


def test_defaults() -> None:
    assert parse_args(["orders"]) == TapOptions(topic="orders")


def test_all_options() -> None:
    parts = ["--partition", "2", "--partition", "0", "--partition", "2"]
    rest = ["--follow", "--max", "3", "--format", "table", "--bootstrap", "h1:9092,h2:9093"]
    opts = parse_args(["fills", "--offset", "5", *parts, *rest])
    assert opts == TapOptions("fills", 5, (2, 0), True, 3, "table", "h1:9092,h2:9093")


def test_from_beginning_is_the_default_start() -> None:
    assert parse_args(["t", "--from-beginning"]).start is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T12:00:00Z", datetime(2024, 3, 1, 12, tzinfo=UTC)),
        ("2024-03-01T12:00:00", datetime(2024, 3, 1, 12, tzinfo=UTC)),
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-01T14:00:00+02:00", datetime(2024, 3, 1, 14, tzinfo=PLUS_2)),
    ],
)
def test_since(text: str, expected: datetime) -> None:
    start = parse_args(["t", "--since", text]).start
    assert start == expected and isinstance(start, datetime) and start.tzinfo is not None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["t", "--offset", "-1"], "offset must be 0 or more, got -1"),
        (["t", "--offset", "x"], "offset must be an integer"),
        (["t", "--since", "yesterday"], "not an ISO 8601 date-time: 'yesterday'"),
        (["t", "--since", "2024-13-01"], "not an ISO 8601 date-time"),
        (["t", "--offset", "1", "--since", "2024-01-01"], "not allowed with argument"),
        (["t", "--from-beginning", "--offset", "1"], "not allowed with argument"),
        (["t", "--partition", "-2"], "partition must be 0 or more"),
        (["t", "--max", "0"], "max must be 1 or more, got 0"),
        (["t", "--format", "xml"], "invalid choice: 'xml'"),
        (["t", "--bootstrap", "nohost"], "invalid bootstrap: 'nohost'"),
        (["bad topic"], "invalid topic name: 'bad topic'"),
        ([], "the following arguments are required: topic"),
        (["t", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(TapError) as info:
        parse_args(argv)
    assert message in str(info.value)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("at-stream tap: error: ") and err.endswith("\n")
    assert err.count("\n") == 1
    assert message in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--since" in capsys.readouterr().out


# -- main with a fake tap -----------------------------------------------------------------------


class FakeTap:
    def __init__(self, records: list[TapRecord], error: Exception | None = None) -> None:
        self.records, self.error = records, error
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, topic: str, **kwargs: Any) -> AsyncGenerator[TapRecord, None]:
        self.calls.append({"topic": topic, **kwargs})
        for record in self.records:
            yield record
        if self.error is not None:
            raise self.error


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeTap:
    fake = FakeTap([_record(offset=1), _record(offset=2, value="text")])
    monkeypatch.setattr(tap_module, "tap", fake)
    return fake


def test_main_writes_json_lines(fake: FakeTap, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["orders", "--since", "2024-03-01", "--partition", "1", "--max", "5", "--follow"]
    assert main([*argv, "--bootstrap", "h:1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["offset"] for line in lines] == [1, 2]
    assert fake.calls == [
        {
            "topic": "orders",
            "bootstrap": "h:1",
            "start": datetime(2024, 3, 1, tzinfo=UTC),
            "partitions": (1,),
            "follow": True,
            "max_records": 5,
        }
    ]


def test_main_writes_a_table(fake: FakeTap, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["orders", "--format", "table", "--bootstrap", "h:1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == TABLE_HEADER and len(lines) == 3


def test_main_defaults_the_bootstrap_from_settings(
    fake: FakeTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker-1:9092")
    assert main(["orders"]) == 0
    assert fake.calls[0]["bootstrap"] == "broker-1:9092"


def test_bad_settings_exit_2(
    fake: FakeTap, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "not a host")
    assert main(["orders"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "KAFKA_BOOTSTRAP_SERVERS" in err
    assert fake.calls == []


def test_an_unknown_topic_exits_2(fake: FakeTap, capsys: pytest.CaptureFixture[str]) -> None:
    fake.records, fake.error = [], TapError("topic 'nope' does not exist")
    assert main(["nope", "--bootstrap", "h:1"]) == 2
    assert capsys.readouterr().err == "at-stream tap: error: topic 'nope' does not exist\n"


def test_a_broker_failure_exits_1(fake: FakeTap, capsys: pytest.CaptureFixture[str]) -> None:
    fake.error = KafkaConnectionError("Unable to bootstrap from [('h', 1)]")
    assert main(["orders", "--bootstrap", "h:1"]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2  # what was read before the failure is kept
    assert err.startswith("at-stream tap: error: cannot read from Kafka at h:1: KafkaConnection")
