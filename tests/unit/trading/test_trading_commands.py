"""Unit tests of app.trading.commands: the records of ``orders`` by their ``at-kind``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema_rs
import pytest

from app.errors import DecodeError
from app.ids import derive, order_id_for, signal_id_for
from app.trading.commands import (
    COMMAND_TYPES,
    KIND_HEADER,
    CancelRequest,
    Kind,
    QuoteTick,
    decode_command,
    kind_headers,
    schemas,
)
from app.trading.quotes import Quote

AT = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)


def _headers(kind: Kind) -> list[tuple[str, bytes]]:
    return list(kind_headers(kind).items())


def test_a_record_with_no_kind_is_an_order() -> None:
    with pytest.raises(DecodeError, match="orders"):
        decode_command("orders", b"a|X", b"{}", [])  # decoded as an Order: fields missing


def test_each_kind_round_trips() -> None:
    oid = order_id_for(signal_id_for(b"one"))
    cancel = CancelRequest(cancel_id=derive("cancel", oid), order_id=oid, account="a",
                           symbol="X", requested_at=AT)  # fmt: skip
    assert decode_command("orders", b"a|X", cancel.dumps(), _headers(Kind.CANCEL)) == cancel
    tick = QuoteTick(quote=Quote(symbol="X", bid=1, ask=2, at=AT),
                     source_partition=1, source_offset=7)  # fmt: skip
    assert decode_command("orders", b"X", tick.dumps(), _headers(Kind.QUOTE)) == tick


def test_a_crossed_quote_is_a_decode_error() -> None:
    raw = json.dumps({"quote": {"symbol": "X", "bid": "3", "ask": "2", "at": AT.isoformat()},
                      "source_partition": 0, "source_offset": 0}).encode()  # fmt: skip
    with pytest.raises(DecodeError):
        decode_command("orders", b"X", raw, _headers(Kind.QUOTE))


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(DecodeError, match=r"unknown at-kind header .nope.*trading_state"):
        decode_command("orders", b"X", b"{}", [(KIND_HEADER, b"nope")])


def test_schemas_are_versioned_and_validate_what_is_written() -> None:
    out = schemas()
    assert set(out) == set(COMMAND_TYPES)
    for name, schema in out.items():
        assert schema["$id"] == f"https://at-stream.dev/schemas/{name}.v1.json"
        assert schema["properties"]["v"]["const"] == 1
    tick = QuoteTick(quote=Quote(symbol="X", bid=1, ask=2, at=AT),
                     source_partition=0, source_offset=0)  # fmt: skip
    assert jsonschema_rs.validator_for(out["orders.quote"]).is_valid(json.loads(tick.dumps()))
