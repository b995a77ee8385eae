"""Unit tests of app.trading.orders: the order's validation and working state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.errors import AtStreamError
from app.ids import order_id_for, signal_id_for
from app.models import Order, Signal
from app.order_state import OrderStatus
from app.trading.errors import InvalidOrder, OrderClosed
from app.trading.orders import from_order, from_signal, wire_order
from tests.unit.trading.samples import ORDER_ID, SIGNAL_ID, T0, D, limit, order, working


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"order_type": "limit"}, "limit_price", "is required for a limit order"),
        ({"order_type": "stop_limit", "stop_price": "9"}, "limit_price", "is required"),
        ({"limit_price": "9"}, "limit_price", "is not allowed for a market order"),
        ({"order_type": "stop"}, "stop_price", "is required for a stop order"),
        ({"stop_price": "9"}, "stop_price", "is not allowed for a market order"),
        (
            {"order_type": "stop", "stop_price": "9", "time_in_force": "fok"},
            "time_in_force",
            "fok is not allowed for a stop order",
        ),
        (
            {
                "order_type": "stop_limit",
                "stop_price": "9",
                "limit_price": "9",
                "time_in_force": "ioc",
            },
            "time_in_force",
            "ioc is not allowed for a stop_limit order",
        ),
        ({"quantity": "0"}, "quantity", "greater than 0"),
        ({"quantity": "1e3"}, "quantity", "decimal string"),
        ({"time_in_force": "gtd"}, "time_in_force", "Input should be"),
        ({"submitted_at": datetime(2024, 1, 1)}, "submitted_at", "timezone"),
        ({"symbol": "aapl"}, "symbol", "pattern"),
    ],
)
def test_invalid_orders_name_the_field(
    overrides: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(InvalidOrder) as info:
        order(**overrides)
    err = info.value
    assert isinstance(err, AtStreamError)
    assert err.field == field and reason in err.reason
    assert err.order_id == ORDER_ID
    assert str(err).startswith(f"order {ORDER_ID}: {field}: ")


def test_valid_order_types() -> None:
    assert order().price_hint == D(100)
    assert limit("99").price_hint == D(99)
    stop = order(order_type="stop", stop_price="98", reference_price=None)
    assert stop.price_hint == D(98)
    assert order(order_type="stop_limit", stop_price="98", limit_price="97").limit_price == D(97)
    assert order(side="sell").signed_quantity == D(-100)


def test_from_order_and_from_signal() -> None:
    signal = Signal.model_validate(
        {
            "symbol": "AAPL",
            "side": "sell",
            "quantity": "5",
            "order_type": "limit",
            "limit_price": "101",
            "price": "100",
            "account": "a",
            "strategy": "s",
            "signal_id": SIGNAL_ID,
            "received_at": T0,
        }
    )
    o = from_signal(signal, "corr-1")
    assert o.order_id == order_id_for(SIGNAL_ID) and o.reference_price == D(100)
    assert o.limit_price == D(101) and o.submitted_at == T0 and o.correlation_id == "corr-1"
    wire = Order(
        order_id=o.order_id,
        signal_id=SIGNAL_ID,
        account="a",
        strategy="s",
        symbol="AAPL",
        side=o.side,
        quantity=o.quantity,
        order_type=o.order_type,
        limit_price=o.limit_price,
        price=D(100),
        created_at=T0,
    )
    assert from_order(wire, "corr-1") == o
    assert wire_order(o) == wire  # and back, as a venue adapter takes it


def test_working_order_state() -> None:
    state = working(order(), cumulative_quantity=D(40))
    assert state.leaves_quantity == D(60) and state.is_open
    state.require_open("cancel")
    done = state.model_copy(update={"status": OrderStatus.FILLED})
    assert done.leaves_quantity == 0
    with pytest.raises(OrderClosed, match="cannot cancel an order that is filled"):
        done.require_open("cancel")


def test_order_id_of_another_signal_differs() -> None:
    other = order(order_id=order_id_for(signal_id_for(b"other")))
    assert other.order_id != ORDER_ID
    assert other.submitted_at.tzinfo is UTC
