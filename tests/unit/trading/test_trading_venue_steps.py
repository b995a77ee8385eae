"""The execution step with an external venue: the engine hands orders that pass risk to
the venue, and turns the venue's answers and events into our lifecycle events, once."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Any

from app.order_state import OrderStatus
from app.positions import Position
from app.trading.engine import Engine, handle, on_answer
from app.trading.events import ReasonCode
from app.venues.base import (
    RejectCode,
    VenueEvent,
    accepted_event,
    rejected_event,
    venue_event_id,
    venue_fill_id,
)
from tests.unit.trading.engine_store import (
    MemoryStore,
    cancel_cmd,
    engine,
    order_cmd,
    order_id,
    statuses,
)
from tests.unit.trading.samples import CORRELATION, T0

VENUE = "alpaca"


def external(**risk: Any) -> Engine:
    return dataclasses.replace(engine(**risk), external=True)


def _fill(oid: str, cum: str, last: str, price: str, *, status: OrderStatus) -> VenueEvent:
    return VenueEvent(
        event_id=venue_event_id(VENUE, oid, status, Decimal(cum)),
        venue=VENUE,
        order_id=oid,
        status=status,
        event_time=T0 + timedelta(seconds=5),
        fill_id=venue_fill_id(VENUE, oid, Decimal(cum)),
        last_quantity=Decimal(last),
        last_price=Decimal(price),
        cumulative_quantity=Decimal(cum),
        average_price=Decimal(price),
        commission=Decimal("0.5"),
    )


def _accepted(store: MemoryStore, n: int = 1) -> str:
    """Order ``n`` (buy 10 AAPL) through risk, submitted, accepted by the venue."""
    eng = external()
    out = handle(store, eng, order_cmd(n), CORRELATION)
    assert out.events == () and out.submit is not None
    assert out.submit.order_id == order_id(n)
    answer = accepted_event(VENUE, order_id(n), "venue-1", T0, CORRELATION)
    events = on_answer(store, out.submit, answer).events
    assert statuses(events) == ["accepted"]
    return order_id(n)


def test_an_order_that_passes_risk_is_handed_to_the_venue_not_matched() -> None:
    store = MemoryStore()
    oid = _accepted(store)
    followed = store.venue_order(oid)
    assert followed is not None and followed.status is OrderStatus.ACCEPTED
    assert store.held() == 0  # nothing filled by the simulator


def test_risk_still_rejects_before_the_venue() -> None:
    store = MemoryStore()
    out = handle(store, external(max_order_notional="500"), order_cmd(1), CORRELATION)
    assert out.submit is None
    assert [e.reason_code for e in out.events] == [ReasonCode.MAX_ORDER_NOTIONAL]


def test_a_venue_reject_is_a_rejected_event_with_the_venue_s_code() -> None:
    store = MemoryStore()
    out = handle(store, external(), order_cmd(1), CORRELATION)
    assert out.submit is not None
    answer = rejected_event(VENUE, order_id(1), RejectCode.CIRCUIT_OPEN, "alpaca down", T0)
    events = on_answer(store, out.submit, answer).events
    assert statuses(events) == ["rejected"]
    assert events[0].reason_code is ReasonCode.CIRCUIT_OPEN and events[0].reason == "alpaca down"
    assert store.venue_order(order_id(1)) is None


def test_fills_from_the_venue_are_applied_once_and_move_the_position() -> None:
    store = MemoryStore()
    oid = _accepted(store)
    eng = external()
    part = _fill(oid, "4", "4", "101", status=OrderStatus.PARTIALLY_FILLED)
    first = handle(store, eng, part, CORRELATION).events
    assert statuses(first) == ["partially_filled"]
    assert first[0].fill_id == part.fill_id and first[0].seq == 2
    assert first[0].last_quantity == 4 and first[0].leaves_quantity == 6
    assert first[0].liquidity is None
    assert handle(store, eng, part, CORRELATION).events == ()  # polled twice: nothing
    rest = _fill(oid, "10", "6", "102", status=OrderStatus.FILLED)
    done = handle(store, eng, rest, CORRELATION).events
    assert statuses(done) == ["filled"]
    assert done[0].cumulative_quantity == 10 and done[0].average_price == Decimal("101.6")
    assert done[0].cumulative_commission == Decimal("1.0")
    assert store.held() == 10
    assert store.venue_order(oid) is None  # closed: no longer followed
    assert handle(store, eng, rest, CORRELATION).events == ()  # after a restart: nothing


def test_a_fill_missed_between_polls_is_applied_as_the_difference() -> None:
    store = MemoryStore()
    oid = _accepted(store)
    events = handle(
        store, external(), _fill(oid, "10", "3", "100", status=OrderStatus.FILLED), CORRELATION
    ).events
    assert events[0].last_quantity == 10 and statuses(events) == ["filled"]


def test_cancel_goes_to_the_venue_and_its_cancel_closes_the_order() -> None:
    store = MemoryStore()
    oid = _accepted(store)
    eng = external()
    out = handle(store, eng, cancel_cmd(oid), CORRELATION)
    assert out.cancel == oid and out.events == ()
    cancelled = VenueEvent(
        event_id=venue_event_id(VENUE, oid, OrderStatus.CANCELLED, Decimal(0)),
        venue=VENUE,
        order_id=oid,
        status=OrderStatus.CANCELLED,
        event_time=T0 + timedelta(seconds=9),
    )
    events = handle(store, eng, cancelled, CORRELATION).events
    assert statuses(events) == ["cancelled"]
    assert events[0].reason_code is ReasonCode.VENUE_CANCELLED
    assert store.venue_order(oid) is None
    assert handle(store, eng, cancel_cmd(oid), CORRELATION).cancel is None  # closed now


def test_an_event_of_an_order_not_followed_here_gives_nothing() -> None:
    store = MemoryStore()
    out = handle(
        store, external(), _fill("nope", "1", "1", "1", status=OrderStatus.FILLED), CORRELATION
    )
    assert out.events == () and out.note is not None


def test_the_venue_s_fills_count_toward_risk() -> None:
    store = MemoryStore()
    oid = _accepted(store)
    handle(store, external(), _fill(oid, "10", "10", "100", status=OrderStatus.FILLED), "c")
    held = store.holding("acct-1", "AAPL")
    assert isinstance(held, Position) and held.quantity == 10
    out = handle(store, external(max_position="15"), order_cmd(2), CORRELATION)
    assert [e.reason_code for e in out.events] == [ReasonCode.MAX_POSITION_SYMBOL]
