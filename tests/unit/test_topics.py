"""Unit tests of app.topics: Kafka header helpers and value decoding."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import DecodeError
from app.ids import fill_id_for, order_id_for, signal_id_for
from app.models import DeadLetter, Fill, Order, OrderType, Side, Signal
from app.topics import (
    CAUSE_HEADER,
    CORRELATION_HEADER,
    correlation_of,
    decode,
    derived_headers,
    header_dict,
)

# Properties: enough examples to matter, few enough to keep the suite fast.
PROPERTY = settings(max_examples=200, deadline=None, database=None)

SIGNAL_ID = signal_id_for(b"1700000000.{}")
ORDER_ID = order_id_for(SIGNAL_ID)
AT = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _order() -> Order:
    return Order(
        order_id=ORDER_ID,
        signal_id=SIGNAL_ID,
        account="acct",
        strategy="s",
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal("1.5"),
        order_type=OrderType.MARKET,
        price=Decimal("10"),
        created_at=AT,
    )


# -- headers ----------------------------------------------------------------------------------


def test_header_names() -> None:
    assert CORRELATION_HEADER == "x-correlation-id"
    assert CAUSE_HEADER == "x-cause-id"


def test_header_dict_of_none() -> None:
    assert header_dict(None) == {}


def test_header_dict_of_a_mapping_is_a_copy() -> None:
    headers = {"a": b"1", "b": b"2"}
    out = header_dict(headers)
    assert out == headers
    out["c"] = b"3"
    assert "c" not in headers


def test_header_dict_of_a_list_of_tuples() -> None:
    assert header_dict([("a", b"1"), ("b", b"2")]) == {"a": b"1", "b": b"2"}


def test_header_dict_of_a_tuple_of_tuples_and_a_generator() -> None:
    assert header_dict((("a", b"1"),)) == {"a": b"1"}

    def gen() -> Iterator[tuple[str, bytes]]:
        yield "x", b"y"

    assert header_dict(gen()) == {"x": b"y"}


def test_header_dict_of_an_empty_list() -> None:
    assert header_dict([]) == {}


def test_repeated_header_last_wins() -> None:
    assert header_dict([("a", b"1"), ("a", b"2")]) == {"a": b"2"}


@pytest.mark.parametrize(
    "headers",
    [
        {CORRELATION_HEADER: b"cid-12345678"},
        [(CORRELATION_HEADER, b"cid-12345678")],
        [("other", b"x"), (CORRELATION_HEADER, b"cid-12345678")],
    ],
)
def test_correlation_of(headers: dict[str, bytes] | list[tuple[str, bytes]]) -> None:
    assert correlation_of(headers) == "cid-12345678"


@pytest.mark.parametrize("headers", [None, {}, [], [("other", b"x")]])
def test_correlation_of_without_the_header_is_empty(
    headers: dict[str, bytes] | list[tuple[str, bytes]] | None,
) -> None:
    assert correlation_of(headers) == ""


def test_correlation_of_invalid_utf8_is_replaced_not_raised() -> None:
    assert correlation_of([(CORRELATION_HEADER, b"\xffabc")]) == "\ufffdabc"


def test_derived_headers() -> None:
    headers = derived_headers("cid-12345678", ORDER_ID)
    assert headers == {CORRELATION_HEADER: b"cid-12345678", CAUSE_HEADER: ORDER_ID.encode()}
    assert correlation_of(headers) == "cid-12345678"
    assert correlation_of(list(headers.items())) == "cid-12345678"


def test_derived_headers_with_an_empty_correlation() -> None:
    assert derived_headers("", "cause") == {CORRELATION_HEADER: b"", CAUSE_HEADER: b"cause"}


@PROPERTY
@given(cid=st.text(max_size=64), cause=st.text(max_size=64))
def test_property_correlation_survives_derivation(cid: str, cause: str) -> None:
    headers = derived_headers(cid, cause)
    assert correlation_of(headers) == cid
    assert header_dict(list(headers.items())) == headers


# -- decode ------------------------------------------------------------------------------------


def test_decode_round_trips_every_event_type() -> None:
    order = _order()
    signal = Signal(
        symbol="AAPL",
        side=Side.SELL,
        quantity=Decimal(1),
        price=Decimal(2),
        account="a",
        strategy="s",
        signal_id=SIGNAL_ID,
        received_at=AT,
    )
    fill = Fill(
        fill_id=fill_id_for(ORDER_ID),
        order_id=ORDER_ID,
        signal_id=SIGNAL_ID,
        account="a",
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(1),
        price=Decimal(2),
        filled_at=AT,
    )
    dead = DeadLetter(
        source_topic="orders", partition=0, offset=7, reason="r", key="k", value="\ufffd"
    )
    assert decode(Order, "orders", order.dumps()) == order
    assert decode(Signal, "signals", signal.dumps()) == signal
    assert decode(Fill, "fills", fill.dumps()) == fill
    assert decode(DeadLetter, "dead-letters", dead.dumps()) == dead


def test_decode_returns_the_requested_type() -> None:
    decoded = decode(Order, "orders", _order().dumps())
    assert isinstance(decoded, Order)
    assert decoded.quantity == Decimal("1.5")


def _decode_error(value: bytes | None, model: type[Order] = Order) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(model, "orders", value)
    assert info.value.topic == "orders"
    assert str(info.value) == f"orders: {info.value.reason}"
    return info.value


def test_tombstone() -> None:
    assert _decode_error(None).reason == "record has no value (tombstone)"


@pytest.mark.parametrize("value", [b"", b"not json", b"{", b"\xff\xfe", b"{}}"])
def test_invalid_json(value: bytes) -> None:
    reason = _decode_error(value).reason
    assert reason.startswith("not a valid Order: value: Invalid JSON")


@pytest.mark.parametrize("value", [b"[]", b"1", b'"x"', b"null"])
def test_not_an_object(value: bytes) -> None:
    assert _decode_error(value).reason == "not a valid Order: value: Input should be an object"


def test_missing_field_is_named() -> None:
    data = _order().dumps().replace(b'"order_id"', b'"order_idx"')
    reason = _decode_error(data).reason
    assert reason.startswith("not a valid Order: ")
    assert "order_id" in reason


def test_empty_object_names_the_first_missing_field() -> None:
    assert _decode_error(b"{}").reason == "not a valid Order: order_id: Field required"


def test_wrong_version() -> None:
    data = _order().dumps().replace(b'"v":1', b'"v":2')
    assert _decode_error(data).reason == "not a valid Order: v: Input should be 1"


def test_bad_decimal() -> None:
    data = _order().dumps().replace(b'"quantity":"1.5"', b'"quantity":"NaN"')
    reason = _decode_error(data).reason
    assert reason.startswith("not a valid Order: quantity: ")


def test_reason_names_the_model() -> None:
    with pytest.raises(DecodeError) as info:
        decode(Fill, "fills", _order().dumps())
    assert info.value.topic == "fills"
    assert info.value.reason.startswith("not a valid Fill: ")


def test_decode_error_is_one_line() -> None:
    assert "\n" not in str(_decode_error(b"{\n\n"))
    assert "\n" not in str(_decode_error(b'{"v": 1,\n "order_id": 5}'))


def test_decode_keyed_wants_the_values_account_and_symbol_as_key() -> None:
    from app.errors import DecodeError
    from app.models import Fill
    from app.topics import decode_keyed

    raw = (
        b'{"v":1,"fill_id":"00000000-0000-5000-8000-000000000002","order_id":'
        b'"00000000-0000-5000-8000-000000000001","signal_id":"00000000-0000-5000-8000-'
        b'000000000000","account":"a1","symbol":"AAPL","side":"buy","quantity":"1",'
        b'"price":"10","filled_at":"2026-12-01T10:00:00Z"}'
    )
    assert decode_keyed(Fill, "fills", b"a1|AAPL", raw).account == "a1"
    for key in (b"a1|MSFT", b"a1AAPL", None, b"\xff"):
        with pytest.raises(DecodeError, match=r"is not the value's account\|symbol"):
            decode_keyed(Fill, "fills", key, raw)
