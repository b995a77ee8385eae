"""Unit tests of app.execution: signal -> order -> fill, deterministic to the byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.execution import immediate_fill, order_for
from app.ids import fill_id_for, order_id_for, signal_id_for
from app.models import Fill, Order, OrderType, Side, Signal

# Properties: enough examples to matter, few enough to keep the suite fast.
PROPERTY = settings(max_examples=200, deadline=None, database=None)

RECEIVED = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
SIGNAL_ID = signal_id_for(b"1700000000.{}")


def _signal(**overrides: Any) -> Signal:
    data: dict[str, Any] = {
        "symbol": "AAPL",
        "side": "buy",
        "quantity": "10.5",
        "order_type": "market",
        "price": "187.25",
        "account": "acct-1",
        "strategy": "momentum",
        "signal_id": SIGNAL_ID,
        "received_at": RECEIVED,
    }
    data.update(overrides)
    return Signal.model_validate(data)


def _limit_signal(**overrides: Any) -> Signal:
    return _signal(order_type="limit", limit_price="186.500", **overrides)


# -- order_for ------------------------------------------------------------------------------


def test_order_copies_the_signal() -> None:
    signal = _signal(side="sell", timestamp="2024-03-01T12:30:00Z")
    order = order_for(signal)
    assert order.order_id == order_id_for(SIGNAL_ID)
    assert order.signal_id == SIGNAL_ID
    assert order.account == "acct-1"
    assert order.strategy == "momentum"
    assert order.symbol == "AAPL"
    assert order.side is Side.SELL
    assert order.quantity == Decimal("10.5")
    assert order.order_type is OrderType.MARKET
    assert order.limit_price is None
    assert order.price == Decimal("187.25")
    assert order.created_at == RECEIVED
    assert order.v == 1


def test_limit_order_copies_both_prices() -> None:
    order = order_for(_limit_signal(price="190"))
    assert order.order_type is OrderType.LIMIT
    assert order.limit_price == Decimal("186.500")
    assert order.price == Decimal("190")


def test_order_for_is_deterministic() -> None:
    signal = _signal()
    first, second = order_for(signal), order_for(signal)
    assert first == second
    assert first.dumps() == second.dumps()


def test_order_for_a_replayed_signal_is_byte_identical() -> None:
    """The signal read back from the topic yields the very same order bytes."""
    signal = _limit_signal()
    replayed = Signal.model_validate_json(signal.dumps())
    assert order_for(replayed).dumps() == order_for(signal).dumps()


def test_order_for_does_not_depend_on_the_wall_clock() -> None:
    signal = _signal()
    before = order_for(signal).dumps()
    assert order_for(Signal.model_validate_json(signal.dumps())).dumps() == before
    assert order_for(signal).created_at == signal.received_at


@pytest.mark.parametrize(
    "signal",
    [
        _signal(),
        _limit_signal(price="190", time_in_force="ioc"),
        _signal(order_type="stop_limit", limit_price="186.5", stop_price="186.75", side="sell"),
        _signal(quantity="0.000000000001", price="9999999999999999"),
    ],
)
def test_order_for_builds_what_validation_would(signal: Signal) -> None:
    """order_for does not validate again: what it builds is what validating its fields
    gives, to the byte (fails when Signal accepts a value that Order refuses)."""
    order = order_for(signal)
    again = Order.model_validate(order.model_dump())
    assert order == again and order.dumps() == again.dumps()


def test_different_signals_give_different_orders() -> None:
    a = order_for(_signal())
    b = order_for(_signal(signal_id=signal_id_for(b"other")))
    assert a.order_id != b.order_id


def test_order_keeps_decimal_representation() -> None:
    order = order_for(_signal(quantity="1.000000000001", price="0.10"))
    assert b'"quantity":"1.000000000001"' in order.dumps()
    assert b'"price":"0.10"' in order.dumps()


# -- immediate_fill ----------------------------------------------------------------------------


def test_market_order_fills_at_the_reference_price() -> None:
    order = order_for(_signal())
    fill = immediate_fill(order)
    assert fill.price == Decimal("187.25")


def test_limit_order_fills_at_the_limit_price() -> None:
    order = order_for(_limit_signal(price="190"))
    fill = immediate_fill(order)
    assert fill.price == Decimal("186.500")
    assert b'"price":"186.500"' in fill.dumps()


def test_limit_order_without_reference_price_fills_at_limit() -> None:
    data: dict[str, Any] = _limit_signal().model_dump()
    data["price"] = None
    order = order_for(Signal.model_validate(data))
    assert immediate_fill(order).price == Decimal("186.500")


def test_fill_copies_the_order() -> None:
    order = order_for(_signal(side="sell"))
    fill = immediate_fill(order)
    assert fill.fill_id == fill_id_for(order.order_id)
    assert fill.fill_id == fill_id_for(order.order_id, 1)
    assert fill.order_id == order.order_id
    assert fill.signal_id == order.signal_id == SIGNAL_ID
    assert fill.account == order.account
    assert fill.symbol == order.symbol
    assert fill.side is Side.SELL
    assert fill.quantity == order.quantity
    assert fill.fee == Decimal(0)
    assert fill.filled_at == order.created_at == RECEIVED
    assert fill.v == 1


def test_immediate_fill_is_deterministic() -> None:
    order = order_for(_limit_signal())
    assert immediate_fill(order).dumps() == immediate_fill(order).dumps()
    replayed = Order.model_validate_json(order.dumps())
    assert immediate_fill(replayed).dumps() == immediate_fill(order).dumps()


def test_fill_ids_differ_between_orders() -> None:
    a = immediate_fill(order_for(_signal()))
    b = immediate_fill(order_for(_signal(signal_id=signal_id_for(b"other"))))
    assert a.fill_id != b.fill_id
    assert len({a.fill_id, a.order_id, a.signal_id}) == 3


@pytest.mark.parametrize("order_type", [OrderType.MARKET, OrderType.LIMIT])
def test_order_without_any_price_cannot_fill(order_type: OrderType) -> None:
    """Orders from elsewhere skip SignalIn's validation; such an order is refused."""
    order = Order(
        order_id=order_id_for(SIGNAL_ID),
        signal_id=SIGNAL_ID,
        account="acct-1",
        strategy="s",
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(1),
        order_type=order_type,
        created_at=RECEIVED,
    )
    with pytest.raises(ValueError, match=order.order_id):
        immediate_fill(order)


# -- properties ---------------------------------------------------------------------------


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


_aware = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.integers(-1439, 1439).map(lambda m: timezone(timedelta(minutes=m))),
)


@st.composite
def _signals(draw: st.DrawFn) -> Signal:
    order_type = draw(st.sampled_from([OrderType.MARKET, OrderType.LIMIT]))
    limit = draw(_positive()) if order_type is OrderType.LIMIT else None
    price = draw(_positive() if order_type is OrderType.MARKET else st.none() | _positive())
    return Signal(
        symbol=draw(st.from_regex(r"\A[A-Z0-9][A-Z0-9.:/_\-]{0,31}\Z")),
        side=draw(st.sampled_from(Side)),
        quantity=draw(_positive()),
        order_type=order_type,
        limit_price=limit,
        price=price,
        account=draw(st.from_regex(r"\A[A-Za-z0-9._:\-]{1,64}\Z")),
        strategy=draw(st.from_regex(r"\A[A-Za-z0-9._:\-]{1,64}\Z")),
        signal_id=signal_id_for(draw(st.binary(max_size=32))),
        received_at=draw(_aware),
    )


@PROPERTY
@given(signal=_signals())
def test_property_pipeline_is_deterministic_and_prices_right(signal: Signal) -> None:
    order = order_for(signal)
    fill = immediate_fill(order)
    replayed = Signal.model_validate_json(signal.dumps())
    assert order_for(replayed).dumps() == order.dumps()
    assert immediate_fill(order_for(replayed)).dumps() == fill.dumps()
    expected = signal.limit_price if signal.order_type is OrderType.LIMIT else signal.price
    assert fill.price == expected
    assert str(fill.price) == str(expected)
    assert fill.quantity == signal.quantity
    assert fill.fill_id == fill_id_for(order_id_for(signal.signal_id))
    assert Fill.model_validate_json(fill.dumps()).dumps() == fill.dumps()


@PROPERTY
@given(signal=_signals())
def test_property_order_for_builds_what_validation_would(signal: Signal) -> None:
    order = order_for(signal)
    assert Order.model_validate_json(order.dumps()).dumps() == order.dumps()
    assert Order.model_validate(order.model_dump()) == order
