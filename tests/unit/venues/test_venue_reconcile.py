"""Reconciliation: every difference reported, nothing changed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.models import Side
from app.order_state import OrderState, OrderStatus
from app.venues.base import VenueOrder, VenuePosition
from app.venues.reconcile import DifferenceKind, OurOrder, log_report, reconcile

AT = datetime(2024, 1, 2, tzinfo=UTC)


def ours(order_id: str, qty: str = "10", filled: str = "0", symbol: str = "AAPL") -> OurOrder:
    return OurOrder(
        order_id=order_id, symbol=symbol, side=Side.BUY,
        quantity=Decimal(qty), filled_quantity=Decimal(filled),
    )  # fmt: skip


def theirs(
    order_id: str, qty: str = "10", filled: str = "0", status: str = "new", symbol: str = "AAPL"
) -> VenueOrder:
    return VenueOrder(
        order_id=order_id, venue_order_id=f"v-{order_id}", symbol=symbol, side=Side.BUY,
        quantity=Decimal(qty), status=OrderStatus.ACCEPTED, venue_status=status,
        filled_quantity=Decimal(filled),
    )  # fmt: skip


def test_in_agreement() -> None:
    report = reconcile(
        "alpaca", [ours("a")], {"AAPL": Decimal(5)}, [theirs("a")],
        [VenuePosition(symbol="AAPL", quantity=Decimal("5.0"))], {}, AT,
    )  # fmt: skip
    assert report.ok and report.differences == ()
    assert (report.our_open_orders, report.venue_open_orders) == (1, 1)


def test_every_kind_of_difference() -> None:
    report = reconcile(
        "alpaca",
        [ours("both", qty="10", filled="2"), ours("gone"), ours("closed")],
        {"AAPL": Decimal(5), "MSFT": Decimal(1), "BTC/USD": Decimal("0.5")},
        [theirs("both", qty="10", filled="4"), theirs("stranger", symbol="TSLA")],
        [
            VenuePosition(symbol="AAPL", quantity=Decimal(7)),
            VenuePosition(symbol="TSLA", quantity=Decimal(-2)),
            VenuePosition(symbol="BTCUSD", quantity=Decimal("0.5")),
        ],
        {"gone": None, "closed": theirs("closed", status="filled")},
        AT,
    )
    kinds = {(d.kind, d.order_id or d.symbol) for d in report.differences}
    assert kinds == {
        (DifferenceKind.ORDER_MISMATCH, "both"),
        (DifferenceKind.MISSING_AT_VENUE, "gone"),
        (DifferenceKind.CLOSED_AT_VENUE, "closed"),
        (DifferenceKind.UNKNOWN_TO_US, "stranger"),
        (DifferenceKind.POSITION_MISMATCH, "AAPL"),
        (DifferenceKind.POSITION_MISMATCH, "MSFT"),
        (DifferenceKind.POSITION_MISMATCH, "TSLA"),
    }  # BTC/USD and BTCUSD are the same symbol
    (mismatch,) = report.of_kind(DifferenceKind.ORDER_MISMATCH)
    assert (mismatch.field, mismatch.ours, mismatch.at_venue) == ("filled_quantity", "2", "4")
    (closed,) = report.of_kind(DifferenceKind.CLOSED_AT_VENUE)
    assert closed.at_venue == "filled" and closed.venue_order_id == "v-closed"
    tsla = next(d for d in report.differences if d.symbol == "TSLA" and d.order_id is None)
    assert (tsla.ours, tsla.at_venue) == ("0", "-2")
    assert not report.ok


def test_the_report_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    report = reconcile("alpaca", [ours("gone")], {}, [], [], {"gone": None}, AT)
    with caplog.at_level(logging.INFO, logger="app.venues.reconcile"):
        log_report(report)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["venue reconciliation difference", "venue reconciled"]
    assert caplog.records[-1].levelno == logging.WARNING


def test_our_order_from_an_order_state() -> None:
    state = OrderState(
        order_id="o", signal_id="s", correlation_id="c" * 8, account="a", symbol="AAPL",
        side=Side.SELL, quantity=Decimal(3), filled_quantity=Decimal(1),
        filled_notional=Decimal(10), avg_fill_price=Decimal(10), updated_at=AT,
    )  # fmt: skip
    our = OurOrder.from_state(state)
    assert (our.side, our.quantity, our.filled_quantity, our.average_price) == (
        Side.SELL, Decimal(3), Decimal(1), Decimal(10),
    )  # fmt: skip
    assert our.correlation_id == "c" * 8 and our.open
