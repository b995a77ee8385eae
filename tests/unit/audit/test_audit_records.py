"""A Kafka record -> one audit row: ids, times and the payload as received."""

from __future__ import annotations

import orjson

from app.audit.records import COLUMNS, Row, time_us, to_row
from tests.unit.audit.samples import T0, chain, dead_letter


def test_a_chain_has_its_ids_correlation_and_causes() -> None:
    sig, order, fill = chain(1, "cid-00000001")
    assert (sig.event_type, order.event_type, fill.event_type) == ("signal", "order", "fill")
    assert sig.event_id == sig.signal_id and order.signal_id == sig.event_id
    assert order.event_id == order.order_id and fill.order_id == order.event_id
    assert {r.correlation_id for r in (sig, order, fill)} == {"cid-00000001"}
    assert sig.cause_id is None and order.cause_id == sig.event_id
    assert fill.cause_id == order.event_id
    assert (sig.account, sig.symbol, sig.record_key) == ("acct-1", "AAPL", "acct-1|AAPL")
    assert sig.event_time_us == time_us((T0.replace(second=1)).isoformat())
    assert sig.broker_time_us % 1000 == 0 and sig.broker_time_us > 0
    assert orjson.loads(sig.headers) == {"x-correlation-id": "cid-00000001"}
    assert sig.payload is not None and orjson.loads(sig.payload)["quantity"] == "10"
    assert sig.value_raw is None
    assert len(sig.values()) == len(COLUMNS) == len(Row.__dataclass_fields__)


def test_payload_is_kept_byte_for_byte() -> None:
    raw = b'{"signal_id":"s","quantity":"1.50" ,  "z":1}'
    row = to_row(
        topic="t",
        partition=0,
        offset=0,
        key=None,
        value=raw,
        headers=None,
        timestamp_ms=5,
        event_type="signal",
    )
    assert row.payload is not None and row.payload.encode() == raw


def test_a_poison_record_is_audited_raw() -> None:
    raw = b"\xff\x00not json"
    row = to_row(
        topic="signals",
        partition=2,
        offset=9,
        key=b"a\x00\xffb",
        value=raw,
        headers=[("x-correlation-id", b"\xfe")],
        timestamp_ms=-1,
        event_type="signal",
    )
    assert row.payload is None and row.value_raw == raw
    assert row.record_key == "a\ufffd\ufffdb"  # NUL and bad UTF-8 replaced: text columns take it
    assert row.event_id is None and row.broker_time_us == 0
    assert row.correlation_id == "\ufffd"


def test_tombstone_and_json_that_is_not_an_object() -> None:
    for value in (None, b"[1,2]", b'"x"'):
        row = to_row(
            topic="fills",
            partition=0,
            offset=1,
            key=None,
            value=value,
            headers=[],
            timestamp_ms=1,
            event_type="fill",
        )
        assert row.event_id is None and row.value_raw is None
        assert row.payload == (None if value is None else value.decode())


def test_a_dead_letter_tells_the_ids_of_what_it_holds() -> None:
    row = dead_letter(0, "cid-dead-0001")
    assert row.event_type == "dead_letter" and row.event_id is None
    assert (row.signal_id, row.account, row.symbol) == ("s-1", "acct-9", "MSFT")


def test_times() -> None:
    assert time_us("1970-01-01T00:00:01Z") == 1_000_000
    assert time_us("1970-01-01T00:00:00.000002+00:00") == 2
    assert time_us("1970-01-01T01:00:00+01:00") == 0
    assert time_us("1970-01-01T00:00:00") == 0  # naive: UTC
    assert time_us("yesterday") is None and time_us(5) is None
