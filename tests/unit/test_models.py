"""Unit tests of app.models: validation, serialization and the exported JSON Schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.decimals import plain
from app.ids import fill_id_for, order_id_for, signal_id_for
from app.models import (
    SCHEMA_VERSION,
    TOPIC_TYPES,
    DeadLetter,
    Fill,
    Order,
    OrderType,
    Side,
    Signal,
    SignalIn,
    position_key,
    schemas,
)

# Properties: enough examples to matter, few enough to keep the suite fast.
PROPERTY = settings(max_examples=200, deadline=None, database=None)

SIGNAL_ID = signal_id_for(b"1700000000.{}")
ORDER_ID = order_id_for(SIGNAL_ID)
FILL_ID = fill_id_for(ORDER_ID)
RECEIVED = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _market(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "symbol": "AAPL",
        "side": "buy",
        "quantity": "10",
        "order_type": "market",
        "price": "187.25",
        "account": "acct-1",
        "strategy": "momentum.v2",
    }
    data.update(overrides)
    return data


def _limit(**overrides: Any) -> dict[str, Any]:
    data = _market(order_type="limit", limit_price="186.50")
    data.update(overrides)
    return data


def _errors(data: dict[str, Any], model: type[SignalIn] = SignalIn) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return [dict(e) for e in info.value.errors()]


def _locs(data: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {tuple(e["loc"]) for e in _errors(data)}


# -- SignalIn: what is accepted ----------------------------------------------------------------


def test_market_signal_is_valid() -> None:
    signal = SignalIn.model_validate(_market())
    assert signal.symbol == "AAPL"
    assert signal.side is Side.BUY
    assert signal.quantity == Decimal("10")
    assert signal.order_type is OrderType.MARKET
    assert signal.price == Decimal("187.25")
    assert signal.limit_price is None
    assert signal.timestamp is None


def test_limit_signal_is_valid() -> None:
    signal = SignalIn.model_validate(_limit())
    assert signal.order_type is OrderType.LIMIT
    assert signal.limit_price == Decimal("186.50")


def test_limit_signal_does_not_need_a_reference_price() -> None:
    data = _limit()
    del data["price"]
    assert SignalIn.model_validate(data).price is None


def test_order_type_defaults_to_market() -> None:
    data = _market()
    del data["order_type"]
    assert SignalIn.model_validate(data).order_type is OrderType.MARKET


def test_sell_side() -> None:
    assert SignalIn.model_validate(_market(side="sell")).side is Side.SELL


def test_numbers_and_decimals_are_accepted() -> None:
    signal = SignalIn.model_validate(_market(quantity=3, price=Decimal("0.000000000001")))
    assert signal.quantity == Decimal(3)
    assert signal.price == Decimal("0.000000000001")


def test_aware_timestamp_is_accepted() -> None:
    signal = SignalIn.model_validate(_market(timestamp="2024-03-01T12:00:00+02:00"))
    assert signal.timestamp is not None
    assert signal.timestamp.utcoffset() == timedelta(hours=2)


# -- SignalIn: what is refused -------------------------------------------------------------


def test_market_needs_a_price() -> None:
    data = _market()
    del data["price"]
    errors = _errors(data)
    assert len(errors) == 1
    assert "price" in errors[0]["msg"]
    assert errors[0]["loc"] == ()


def test_limit_needs_a_limit_price() -> None:
    data = _limit()
    del data["limit_price"]
    errors = _errors(data)
    assert len(errors) == 1
    assert "limit_price is required" in errors[0]["msg"]


def test_limit_price_null_on_a_limit_order_is_refused() -> None:
    assert _errors(_limit(limit_price=None))


def test_market_must_not_have_a_limit_price() -> None:
    errors = _errors(_market(limit_price="100"))
    assert len(errors) == 1
    assert "limit_price" in errors[0]["msg"]
    assert errors[0]["loc"] == ()


@pytest.mark.parametrize(
    "symbol", ["AAPL", "BRK.B", "BTC/USD", "ES:FUT", "7203", "A", "X_Y-Z", "A" * 32]
)
def test_valid_symbols(symbol: str) -> None:
    assert SignalIn.model_validate(_market(symbol=symbol)).symbol == symbol


@pytest.mark.parametrize(
    "symbol",
    ["", "aapl", "Aapl", ".AAPL", "-AAPL", "/X", "AA PL", "AAPL\n", "A" * 33, "ÄPL", "AAPL$", 42],
)
def test_invalid_symbols(symbol: object) -> None:
    assert _locs(_market(symbol=symbol)) == {("symbol",)}


@pytest.mark.parametrize(
    "quantity", ["0", 0, "-1", -1, "-0.5", "0.0000000000000", "abc", "", None, True]
)
def test_quantity_must_be_positive(quantity: object) -> None:
    assert ("quantity",) in _locs(_market(quantity=quantity))


@pytest.mark.parametrize(
    "value",
    [
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        "sNaN",
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        float("nan"),
        float("inf"),
    ],
    ids=str,
)
@pytest.mark.parametrize("field", ["quantity", "price"])
def test_nan_and_infinity_are_refused(field: str, value: object) -> None:
    assert (field,) in _locs(_market(**{field: value}))


@pytest.mark.parametrize("value", ["NaN", "Infinity", Decimal("NaN")], ids=str)
def test_nan_limit_price_is_refused(value: object) -> None:
    assert ("limit_price",) in _locs(_limit(limit_price=value))


def test_more_than_twelve_decimal_places_is_refused() -> None:
    assert SignalIn.model_validate(_market(quantity="0.123456789012")).quantity == Decimal(
        "0.123456789012"
    )
    assert _locs(_market(quantity="0.1234567890123")) == {("quantity",)}


def test_more_than_sixteen_whole_digits_is_refused() -> None:
    assert SignalIn.model_validate(_market(quantity="9" * 16)).quantity == Decimal("9" * 16)
    assert _locs(_market(quantity="1" + "0" * 16)) == {("quantity",)}


def test_extra_fields_are_forbidden() -> None:
    errors = _errors(_market(note="hi", leverage=10))
    assert {tuple(e["loc"]) for e in errors} == {("note",), ("leverage",)}
    assert {e["type"] for e in errors} == {"extra_forbidden"}


def test_signal_fields_are_not_accepted_on_signal_in() -> None:
    """A caller cannot choose its own signal id."""
    assert ("signal_id",) in _locs(_market(signal_id=SIGNAL_ID))


@pytest.mark.parametrize("side", ["BUY", "hold", "", None, 1])
def test_invalid_side(side: object) -> None:
    assert _locs(_market(side=side)) == {("side",)}


@pytest.mark.parametrize("order_type", ["trailing-moon", "MARKET", "Limit", ""])
def test_invalid_order_type(order_type: str) -> None:
    assert ("order_type",) in _locs(_market(order_type=order_type))


@pytest.mark.parametrize("name", ["", "a b", "a/b", "x" * 65, "é"])
@pytest.mark.parametrize("field", ["account", "strategy"])
def test_invalid_names(field: str, name: str) -> None:
    assert _locs(_market(**{field: name})) == {(field,)}


@pytest.mark.parametrize("field", ["symbol", "side", "quantity", "account", "strategy"])
def test_required_fields(field: str) -> None:
    data = _market()
    del data[field]
    errors = _errors(data)
    assert {"type": "missing", "loc": (field,)}.items() <= errors[0].items()


def test_naive_timestamp_is_refused() -> None:
    assert _locs(_market(timestamp="2024-03-01T12:00:00")) == {("timestamp",)}


def test_every_field_error_is_reported() -> None:
    data = _market(symbol="bad", side="hold", quantity="-1", account="", extra=1)
    assert _locs(data) == {("symbol",), ("side",), ("quantity",), ("account",), ("extra",)}


def test_models_are_frozen() -> None:
    signal = SignalIn.model_validate(_market())
    with pytest.raises(ValidationError):
        signal.quantity = Decimal(1)  # type: ignore[misc]


# -- Signal, Order, Fill, DeadLetter ----------------------------------------------------------


def _signal(**overrides: Any) -> Signal:
    data = _market(signal_id=SIGNAL_ID, received_at=RECEIVED)
    data.update(overrides)
    return Signal.model_validate(data)


def _order() -> Order:
    return Order(
        order_id=ORDER_ID,
        signal_id=SIGNAL_ID,
        account="acct-1",
        strategy="momentum.v2",
        symbol="AAPL",
        side=Side.SELL,
        quantity=Decimal("0.5"),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("100.10"),
        price=Decimal("100.000000000001"),
        created_at=RECEIVED,
    )


def _fill() -> Fill:
    return Fill(
        fill_id=FILL_ID,
        order_id=ORDER_ID,
        signal_id=SIGNAL_ID,
        account="acct-1",
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal("1E+2"),
        price=Decimal("187.250"),
        fee=Decimal("0.01"),
        filled_at=RECEIVED,
    )


def test_signal_has_version_and_key() -> None:
    signal = _signal()
    assert signal.v == SCHEMA_VERSION == 1
    assert signal.key == b"acct-1|AAPL"
    assert signal.key == position_key(signal.account, signal.symbol)


def test_signal_inherits_signal_in_validation() -> None:
    with pytest.raises(ValidationError):
        _signal(price=None)
    with pytest.raises(ValidationError):
        _signal(quantity="NaN")


@pytest.mark.parametrize("v", [0, 2, "2"])
def test_other_versions_are_refused(v: object) -> None:
    with pytest.raises(ValidationError):
        _signal(v=v)


@pytest.mark.parametrize("bad_id", ["", "short", "x" * 35, "x" * 37])
def test_event_ids_are_36_characters(bad_id: str) -> None:
    with pytest.raises(ValidationError):
        _signal(signal_id=bad_id)


def test_received_at_must_be_aware() -> None:
    with pytest.raises(ValidationError):
        _signal(received_at=datetime(2024, 1, 1))


def test_decimals_serialize_as_json_strings() -> None:
    signal = json.loads(_signal(quantity="0.123456789012").dumps())
    assert signal["quantity"] == "0.123456789012"
    assert signal["price"] == "187.25"
    assert signal["limit_price"] is None
    order = json.loads(_order().dumps())
    assert order["quantity"] == "0.5"
    assert order["limit_price"] == "100.10"
    assert order["price"] == "100.000000000001"
    fill = json.loads(_fill().dumps())
    # plain notation, never "1E+2"
    assert (fill["quantity"], fill["price"], fill["fee"]) == ("100", "187.250", "0.01")


def test_dumps_is_compact_json_bytes() -> None:
    raw = _signal().dumps()
    assert isinstance(raw, bytes)
    assert raw.startswith(b"{") and raw.endswith(b"}")
    assert b"\n" not in raw
    assert json.loads(raw)["v"] == 1
    assert json.loads(raw)["received_at"] == "2024-03-01T12:30:15.123456Z"


def test_fill_fee_defaults_to_zero() -> None:
    data = json.loads(_fill().dumps())
    del data["fee"]
    assert Fill.model_validate(data).fee == Decimal(0)
    assert json.loads(Fill.model_validate(data).dumps())["fee"] == "0"


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(_signal, id="signal"),
        pytest.param(lambda: _signal(order_type="limit", limit_price="186.50"), id="limit"),
        pytest.param(_order, id="order"),
        pytest.param(_fill, id="fill"),
        pytest.param(
            lambda: DeadLetter(
                source_topic="signals", partition=3, offset=42, reason="bad", key=None, value="x"
            ),
            id="dead-letter",
        ),
    ],
)
def test_round_trip_is_byte_identical(event: Any) -> None:
    original = event()
    raw = original.dumps()
    again = type(original).model_validate_json(raw)
    assert again == original
    assert again.dumps() == raw


# -- round trips, as properties ------------------------------------------------------------


@st.composite
def _positive(draw: st.DrawFn) -> Decimal:
    places = draw(st.integers(0, 12))
    return draw(
        st.decimals(
            min_value=Decimal(1).scaleb(-places),
            max_value=Decimal(10) ** 15,
            places=places,
            allow_nan=False,
            allow_infinity=False,
        )
    )


_tz = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_aware = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=_tz)
_symbol = st.from_regex(r"\A[A-Z0-9][A-Z0-9.:/_\-]{0,31}\Z")
_name = st.from_regex(r"\A[A-Za-z0-9._:\-]{1,64}\Z")
_event_id = st.binary(max_size=16).map(signal_id_for)


@st.composite
def _signals(draw: st.DrawFn) -> Signal:
    order_type = draw(st.sampled_from([OrderType.MARKET, OrderType.LIMIT]))
    limit = draw(_positive()) if order_type is OrderType.LIMIT else None
    price = draw(_positive() if order_type is OrderType.MARKET else st.none() | _positive())
    return Signal(
        symbol=draw(_symbol),
        side=draw(st.sampled_from(Side)),
        quantity=draw(_positive()),
        order_type=order_type,
        limit_price=limit,
        price=price,
        account=draw(_name),
        strategy=draw(_name),
        timestamp=draw(st.none() | _aware),
        signal_id=draw(_event_id),
        received_at=draw(_aware),
    )


@PROPERTY
@given(signal=_signals())
def test_property_signal_round_trip(signal: Signal) -> None:
    raw = signal.dumps()
    again = Signal.model_validate_json(raw)
    assert again == signal
    assert again.dumps() == raw
    decoded = json.loads(raw)
    assert signal.quantity is not None
    assert decoded["quantity"] == plain(signal.quantity)
    assert isinstance(decoded["quantity"], str)


@PROPERTY
@given(
    ids=st.tuples(_event_id, _event_id),
    account=_name,
    strategy=_name,
    symbol=_symbol,
    side=st.sampled_from(Side),
    quantity=_positive(),
    order_type=st.sampled_from([OrderType.MARKET, OrderType.LIMIT]),
    limit_price=st.none() | _positive(),
    price=st.none() | _positive(),
    created_at=_aware,
)
def test_property_order_round_trip(
    ids: tuple[str, str],
    account: str,
    strategy: str,
    symbol: str,
    side: Side,
    quantity: Decimal,
    order_type: OrderType,
    limit_price: Decimal | None,
    price: Decimal | None,
    created_at: datetime,
) -> None:
    order = Order(
        order_id=ids[0],
        signal_id=ids[1],
        account=account,
        strategy=strategy,
        symbol=symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        limit_price=limit_price,
        price=price,
        created_at=created_at,
    )
    raw = order.dumps()
    again = Order.model_validate_json(raw)
    assert again == order
    assert again.dumps() == raw


@PROPERTY
@given(
    ids=st.tuples(_event_id, _event_id, _event_id),
    account=_name,
    symbol=_symbol,
    side=st.sampled_from(Side),
    quantity=_positive(),
    price=_positive(),
    fee=st.just(Decimal(0)) | _positive(),
    filled_at=_aware,
)
def test_property_fill_round_trip(
    ids: tuple[str, str, str],
    account: str,
    symbol: str,
    side: Side,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
    filled_at: datetime,
) -> None:
    fill = Fill(
        fill_id=ids[0],
        order_id=ids[1],
        signal_id=ids[2],
        account=account,
        symbol=symbol,
        side=side,
        quantity=quantity,
        price=price,
        fee=fee,
        filled_at=filled_at,
    )
    raw = fill.dumps()
    again = Fill.model_validate_json(raw)
    assert again == fill
    assert again.dumps() == raw


# -- position_key and schemas --------------------------------------------------------------


def test_position_key() -> None:
    assert position_key("acct", "BTC/USD") == b"acct|BTC/USD"
    assert position_key("a", "B") != position_key("b", "A")


def test_topic_types() -> None:
    assert {
        "signals": Signal,
        "orders": Order,
        "fills": Fill,
        "dead-letters": DeadLetter,
    } == TOPIC_TYPES


def test_schemas_has_one_schema_per_topic() -> None:
    out = schemas()
    assert set(out) == set(TOPIC_TYPES)
    for topic, schema in out.items():
        assert schema["$id"] == f"https://at-stream.dev/schemas/{topic}.v1.json"
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["type"] == "object"
        assert schema["title"] == TOPIC_TYPES[topic].__name__
        assert schema["properties"]["v"]["const"] == 1
        assert schema.get("additionalProperties") is False
        json.dumps(schema)  # serializable as is


def test_schemas_ids_are_unique() -> None:
    ids = [schema["$id"] for schema in schemas().values()]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("topic", "field"),
    [
        ("signals", "quantity"),
        ("orders", "quantity"),
        ("fills", "price"),
        ("fills", "fee"),
    ],
)
def test_schemas_describe_decimals_as_strings(topic: str, field: str) -> None:
    prop = schemas()[topic]["properties"][field]
    types = [p.get("type") for p in prop.get("anyOf", [prop])]  # optional: string or null
    assert "string" in types and set(types) <= {"string", "null"}


def test_schemas_returns_fresh_dicts() -> None:
    first = schemas()
    first["signals"]["$id"] = "mutated"
    assert schemas()["signals"]["$id"].endswith("signals.v1.json")
