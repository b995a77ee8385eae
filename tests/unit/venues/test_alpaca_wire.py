"""Alpaca payloads onto ours: order body, statuses, and fills derived between snapshots."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.ids import order_id_for
from app.models import Order, OrderType, TimeInForce
from app.order_state import OrderStatus
from app.venues.alpaca_parse import error_message, parse_order, parse_position
from app.venues.alpaca_wire import (
    Seen,
    events_between,
    lifecycle_status,
    order_body,
    reject_code,
)
from app.venues.base import RejectCode, VenueEvent, VenueProtocolError, venue_fill_id

OID = order_id_for("11111111-1111-1111-1111-111111111111")
NOW = datetime(2024, 3, 22, 20, 40, 50, tzinfo=UTC)


def raw_order(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
        "client_order_id": OID,
        "created_at": "2024-03-22T20:40:50.916594602Z",
        "updated_at": "2024-03-22T20:40:50.940714242Z",
        "submitted_at": "2024-03-22T20:40:50.915476843Z",
        "filled_at": None,
        "expired_at": None,
        "canceled_at": None,
        "failed_at": None,
        "asset_class": "us_equity",
        "symbol": "AAPL",
        "qty": "10",
        "filled_qty": "0",
        "filled_avg_price": None,
        "order_class": "",
        "order_type": "limit",
        "type": "limit",
        "side": "buy",
        "time_in_force": "day",
        "limit_price": "100.5",
        "stop_price": None,
        "status": "new",
        "extended_hours": False,
        "legs": None,
    }
    base.update(over)
    return base


def order(**over: Any) -> Order:
    data: dict[str, Any] = {
        "order_id": OID,
        "signal_id": "11111111-1111-1111-1111-111111111111",
        "account": "acct",
        "strategy": "s",
        "symbol": "AAPL",
        "side": "buy",
        "quantity": "10.5",
        "order_type": "stop_limit",
        "limit_price": "100.25",
        "stop_price": "99.00",
        "time_in_force": "gtc",
        "created_at": NOW,
    }
    data.update(over)
    return Order.model_validate(data)


def test_order_body_is_strings_with_our_id_as_client_order_id() -> None:
    assert order_body(order()) == {
        "symbol": "AAPL",
        "qty": "10.5",
        "side": "buy",
        "type": "stop_limit",
        "time_in_force": "gtc",
        "client_order_id": OID,
        "limit_price": "100.25",
        "stop_price": "99.00",
    }
    market = order_body(order(order_type="market", limit_price=None, stop_price=None, price="1"))
    assert "limit_price" not in market and "stop_price" not in market
    assert len(OID) <= 48  # Alpaca's limit on client_order_id


def test_parse_order_reads_decimals_and_nanosecond_times() -> None:
    o = parse_order(raw_order(filled_qty="4", filled_avg_price="100.1"))
    assert o.qty == Decimal("10") and o.filled_qty == Decimal("4")
    assert o.filled_avg_price == Decimal("100.1")
    assert o.order_type is OrderType.LIMIT and o.time_in_force is TimeInForce.DAY
    assert o.submitted_at is not None and o.submitted_at.tzinfo is not None


@pytest.mark.parametrize(
    "bad",
    [
        [],
        raw_order(qty="-1"),
        raw_order(qty="abc"),
        raw_order(side="hold"),
        raw_order(id=""),
        raw_order(submitted_at="2024-03-22T20:40:50"),
        {k: v for k, v in raw_order().items() if k != "client_order_id"},
    ],
)
def test_parse_order_refuses_malformed_objects(bad: Any) -> None:
    with pytest.raises(VenueProtocolError):
        parse_order(bad)


def test_unknown_alpaca_types_are_tolerated() -> None:
    o = parse_order(
        raw_order(type="trailing_stop", order_type="trailing_stop", time_in_force="opg")
    )
    assert o.order_type is None and o.time_in_force is None


@pytest.mark.parametrize(
    ("status", "filled", "ours"),
    [
        ("new", "0", OrderStatus.ACCEPTED),
        ("accepted", "0", OrderStatus.ACCEPTED),
        ("pending_new", "0", OrderStatus.ACCEPTED),
        ("partially_filled", "3", OrderStatus.PARTIALLY_FILLED),
        ("done_for_day", "3", OrderStatus.PARTIALLY_FILLED),
        ("pending_cancel", "0", OrderStatus.ACCEPTED),
        ("calculated", "10", OrderStatus.FILLED),
        ("filled", "10", OrderStatus.FILLED),
        ("canceled", "2", OrderStatus.CANCELLED),
        ("replaced", "0", OrderStatus.CANCELLED),
        ("expired", "0", OrderStatus.EXPIRED),
        ("rejected", "0", OrderStatus.REJECTED),
        ("some_new_status", "0", OrderStatus.ACCEPTED),
    ],
)
def test_lifecycle_status(status: str, filled: str, ours: OrderStatus) -> None:
    avg = None if filled == "0" else "100"
    assert (
        lifecycle_status(
            parse_order(raw_order(status=status, filled_qty=filled, filled_avg_price=avg))
        )
        is ours
    )


def _step(seen: Seen, **over: Any) -> tuple[list[VenueEvent], Seen]:
    return events_between(OID, seen, parse_order(raw_order(**over)), "corr-1234", NOW)


def test_fills_between_snapshots_carry_last_and_cumulative() -> None:
    events, seen = _step(Seen(), status="partially_filled", filled_qty="4", filled_avg_price="100")
    (first,) = events
    assert first.status is OrderStatus.PARTIALLY_FILLED
    assert (first.last_quantity, first.last_price) == (Decimal(4), Decimal(100))
    assert (first.cumulative_quantity, first.average_price) == (Decimal(4), Decimal(100))
    assert first.fill_id == venue_fill_id("alpaca", OID, Decimal(4))
    assert first.correlation_id == "corr-1234"
    events, seen = _step(
        seen, status="filled", filled_qty="10", filled_avg_price="100.6",
        filled_at="2024-03-22T20:41:00Z",
    )  # fmt: skip
    (second,) = events
    assert second.status is OrderStatus.FILLED
    assert second.last_quantity == Decimal(6)
    assert second.last_price == Decimal(101)  # (10 * 100.6 - 4 * 100) / 6
    assert (second.cumulative_quantity, second.average_price) == (Decimal(10), Decimal("100.6"))
    assert second.event_time == datetime(2024, 3, 22, 20, 41, tzinfo=UTC)
    assert seen.status is OrderStatus.FILLED
    again, _ = _step(seen, status="filled", filled_qty="10", filled_avg_price="100.6")
    assert again == []  # nothing new: no event twice


def test_the_same_snapshot_gives_the_same_ids() -> None:
    one, _ = _step(Seen(), status="partially_filled", filled_qty="4", filled_avg_price="100")
    two, _ = _step(Seen(), status="partially_filled", filled_qty="4.0", filled_avg_price="100")
    assert one[0].event_id == two[0].event_id and one[0].fill_id == two[0].fill_id


def test_an_inexact_last_price_is_rounded_to_12_places() -> None:
    seen = Seen(Decimal(1), Decimal(1), OrderStatus.PARTIALLY_FILLED)
    (event,), _ = _step(seen, status="partially_filled", filled_qty="4", filled_avg_price="1.5")
    assert event.last_price == Decimal("1.666666666667")


def test_cancel_after_a_partial_fill_gives_both_events() -> None:
    events, seen = _step(
        Seen(), status="canceled", filled_qty="3", filled_avg_price="99",
        canceled_at="2024-03-22T20:42:00Z",
    )  # fmt: skip
    assert [e.status for e in events] == [OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCELLED]
    assert events[1].cumulative_quantity == Decimal(3) and events[1].last_quantity == 0
    assert events[1].reason is not None and "canceled" in events[1].reason
    assert seen.status is OrderStatus.CANCELLED


def test_expired_and_rejected() -> None:
    (expired,), _ = _step(Seen(), status="expired")
    assert expired.status is OrderStatus.EXPIRED
    (rejected,), _ = _step(Seen(), status="rejected")
    assert rejected.status is OrderStatus.REJECTED
    assert rejected.reason_code is RejectCode.VENUE_REJECTED


def test_a_filled_quantity_going_down_is_not_applied() -> None:
    seen = Seen(Decimal(5), Decimal(100), OrderStatus.PARTIALLY_FILLED)
    events, after = _step(seen, status="partially_filled", filled_qty="3", filled_avg_price="100")
    assert events == [] and after == seen


def test_a_fill_without_a_price_is_a_protocol_error() -> None:
    with pytest.raises(VenueProtocolError):
        _step(Seen(), status="partially_filled", filled_qty="3", filled_avg_price=None)


def test_positions_are_signed() -> None:
    long = parse_position({"symbol": "AAPL", "qty": "5", "side": "long", "avg_entry_price": "1"})
    short = parse_position({"symbol": "TSLA", "qty": "-3", "side": "short"})
    short2 = parse_position({"symbol": "TSLA", "qty": "3", "side": "short"})
    assert long.quantity == 5 and short.quantity == -3 and short2.quantity == -3
    with pytest.raises(VenueProtocolError):
        parse_position({"symbol": "AAPL"})


def test_error_messages_and_codes() -> None:
    body = {"code": 40010001, "message": "client_order_id must be unique"}
    assert error_message(422, body) == "422 40010001: client_order_id must be unique"
    assert error_message(403, {"message": "insufficient buying power"}) == (
        "403: insufficient buying power"
    )
    assert error_message(500, None) == "HTTP 500"
    assert reject_code(403) is RejectCode.VENUE_FORBIDDEN
    assert reject_code(401) is RejectCode.VENUE_AUTH
    assert reject_code(422) is RejectCode.VENUE_REJECTED


def test_events_serialize_decimals_as_strings() -> None:
    (event,), _ = _step(Seen(), status="filled", filled_qty="10", filled_avg_price="100.50")
    wire = event.model_dump(mode="json")
    assert wire["last_quantity"] == "10" and wire["average_price"] == "100.50"
    assert wire["status"] == "filled" and wire["last_price"] == "100.50"
