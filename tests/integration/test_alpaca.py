"""The Alpaca venue adapter against a local server that follows Alpaca's documented API.

Real HTTP (aiohttp client and server on 127.0.0.1), real timeouts; no broker needed.
Each test has its own server and its own order ids; every server and client is closed in
``finally``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.ids import order_id_for
from app.models import Order
from app.order_state import OrderStatus
from app.venues.alpaca import AlpacaVenue
from app.venues.alpaca_http import AlpacaHTTP
from app.venues.base import CancelOutcome, CircuitOpen, RejectCode, VenueUnavailable
from app.venues.breaker import BreakerState, CircuitBreaker
from app.venues.reconcile import DifferenceKind, OurOrder
from app.venues.retry import RetryPolicy
from tests.integration.alpaca_server import KEY, SECRET, FakeAlpaca, Fault

TIMEOUT = 0.3
COOLDOWN = 0.3
SUBMIT = "POST /v2/orders"
LOOKUP = "GET /v2/orders:by_client_order_id"


def an_order(**over: Any) -> Order:
    signal_id = str(uuid.uuid4())
    data: dict[str, Any] = {
        "order_id": order_id_for(signal_id),
        "signal_id": signal_id,
        "account": "paper",
        "strategy": "itest",
        "symbol": "AAPL",
        "side": "buy",
        "quantity": "10",
        "order_type": "limit",
        "limit_price": "100.00",
        "time_in_force": "day",
        "created_at": datetime.now(UTC),
    }
    data.update(over)
    return Order.model_validate(data)


Sleeps = list[float]


@pytest.fixture
async def connect(alpaca: FakeAlpaca) -> AsyncIterator[Callable[..., AlpacaVenue]]:
    """Adapters on the local server (fast retries, a 3-failure breaker), closed after."""
    made: list[AlpacaVenue] = []

    def make(secret: str = SECRET, sleeps: Sleeps | None = None) -> AlpacaVenue:
        async def sleep(seconds: float) -> None:
            if sleeps is not None:
                sleeps.append(seconds)
            await asyncio.sleep(seconds)

        http = AlpacaHTTP(
            alpaca.url, KEY, secret,
            timeout_seconds=TIMEOUT,
            policy=RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=5),
            breaker=CircuitBreaker(failure_threshold=3, cooldown_seconds=COOLDOWN),
            sleep=sleep,
        )  # fmt: skip
        venue = AlpacaVenue(http, poll_interval_seconds=0.02)
        made.append(venue)
        return venue

    try:
        yield make
    finally:
        for venue in made:
            await venue.close()


async def test_submit_fill_and_positions(
    alpaca: FakeAlpaca, connect: Callable[..., AlpacaVenue]
) -> None:
    venue = connect()
    order = an_order()
    accepted = await venue.submit(order, correlation_id="corr-submit-1")
    assert accepted.status is OrderStatus.ACCEPTED
    (at_venue,) = alpaca.orders_with(order.order_id)
    assert accepted.venue_order_id == at_venue["id"]
    assert (at_venue["qty"], at_venue["limit_price"], at_venue["type"]) == ("10", "100.00", "limit")

    alpaca.fill(order.order_id, "4", "99.50")
    (partial,) = await venue.poll()
    assert partial.status is OrderStatus.PARTIALLY_FILLED
    assert (partial.last_quantity, partial.last_price) == (Decimal(4), Decimal("99.5"))
    assert (partial.cumulative_quantity, partial.average_price) == (Decimal(4), Decimal("99.5"))
    assert partial.correlation_id == "corr-submit-1" and partial.fill_id

    alpaca.fill(order.order_id, "6", "100")
    (filled,) = await venue.poll()
    assert filled.status is OrderStatus.FILLED
    assert (filled.last_quantity, filled.last_price) == (Decimal(6), Decimal(100))
    assert (filled.cumulative_quantity, filled.average_price) == (Decimal(10), Decimal("99.8"))
    assert filled.fill_id != partial.fill_id
    assert await venue.poll() == []  # terminal: no longer followed, no request
    assert [(p.symbol, p.quantity) for p in await venue.positions()] == [("AAPL", Decimal(10))]
    assert await venue.submit(order) == accepted  # a redelivered order: same answer, no request
    assert alpaca.count(SUBMIT) == 1


async def test_a_lost_answer_is_retried_and_the_order_placed_once(
    alpaca: FakeAlpaca, connect: Callable[..., AlpacaVenue]
) -> None:
    venue = connect()
    order = an_order()
    # the venue takes the order, its answer arrives after the client's timeout
    alpaca.inject(SUBMIT, Fault(delay=TIMEOUT * 3, after_processing=True))
    accepted = await venue.submit(order)
    assert accepted.status is OrderStatus.ACCEPTED
    assert len(alpaca.orders_with(order.order_id)) == 1
    assert alpaca.count(SUBMIT) == 2  # the retry got 422 "client_order_id must be unique"
    assert alpaca.count(LOOKUP) == 1  # ... and found the order by its client order id


async def test_a_duplicate_from_another_process_is_ours_a_conflict_is_rejected(
    alpaca: FakeAlpaca, connect: Callable[..., AlpacaVenue]
) -> None:
    order = an_order()
    earlier = connect()
    first = await earlier.submit(order)
    again = await connect().submit(order)  # e.g. after a restart: no memory of the first
    assert again.status is OrderStatus.ACCEPTED
    assert again.venue_order_id == first.venue_order_id
    assert len(alpaca.orders_with(order.order_id)) == 1

    other = an_order()
    alpaca.place({**_body(other), "qty": "3"})  # another order under the same id
    conflict = await connect().submit(other)
    assert conflict.status is OrderStatus.REJECTED
    assert conflict.reason_code is RejectCode.CLIENT_ORDER_ID_CONFLICT
    assert conflict.reason is not None and "quantity" in conflict.reason


def _body(order: Order) -> dict[str, Any]:
    return {
        "symbol": order.symbol, "qty": str(order.quantity), "side": order.side.value,
        "type": order.order_type.value, "time_in_force": order.time_in_force.value,
        "client_order_id": order.order_id,
    }  # fmt: skip


async def test_backoff_on_5xx_and_retry_after_on_429_then_success(
    alpaca: FakeAlpaca, connect: Callable[..., AlpacaVenue]
) -> None:
    sleeps: Sleeps = []
    venue = connect(sleeps=sleeps)
    alpaca.inject(
        SUBMIT,
        Fault(status=503),
        Fault(status=500, body={"code": 50010000, "message": "internal server error"}),
        Fault(status=429, body={"message": "rate limit exceeded"}, headers={"Retry-After": "1"}),
    )
    order = an_order()
    accepted = await venue.submit(order)
    assert accepted.status is OrderStatus.ACCEPTED
    assert alpaca.count(SUBMIT) == 4
    assert len(alpaca.orders_with(order.order_id)) == 1
    assert 0.005 <= sleeps[0] <= 0.01 and 0.01 <= sleeps[1] <= 0.02  # backoff, jittered
    assert sleeps[2] == 1.0  # Retry-After honoured
    assert venue.http.breaker.state(0) is BreakerState.CLOSED


async def test_business_errors_are_rejections_never_retried(
    alpaca: FakeAlpaca, connect: Callable[..., AlpacaVenue]
) -> None:
    venue = connect()
    unknown = await venue.submit(an_order(symbol="NOPE"))
    assert unknown.status is OrderStatus.REJECTED
    assert unknown.reason_code is RejectCode.VENUE_REJECTED
    assert unknown.reason is not None and 'could not find asset "NOPE"' in unknown.reason
    poor = await venue.submit(an_order(quantity="1000000"))
    assert poor.reason_code is RejectCode.VENUE_FORBIDDEN
    assert poor.reason is not None and "insufficient buying power" in poor.reason
    assert alpaca.count(SUBMIT) == 2  # one attempt each
    assert alpaca.count(LOOKUP) == 1  # the 422 was checked for a duplicate, the 403 not
    denied = await connect(secret="wrong-secret").submit(an_order())
    assert denied.reason_code is RejectCode.VENUE_AUTH
    assert alpaca.orders == {}


async def test_the_breaker_opens_rejects_and_recovers(
    alpaca: FakeAlpaca, connect: Callable[..., AlpacaVenue]
) -> None:
    venue = connect()
    first, second, third = an_order(), an_order(), an_order()
    alpaca.inject(SUBMIT, *(Fault(status=503) for _ in range(3)))
    with pytest.raises(CircuitOpen) as info:
        await venue.submit(first)  # 3 failures open the breaker before the 4th attempt
    assert info.value.in_doubt  # sent and not answered: never reported rejected
    assert alpaca.count(SUBMIT) == 3

    refused = await venue.submit(second)
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason_code is RejectCode.CIRCUIT_OPEN
    assert refused.reason is not None and "circuit breaker open" in refused.reason
    with pytest.raises(CircuitOpen):
        await venue.submit(first)  # in doubt: still not rejected
    with pytest.raises(CircuitOpen):
        await venue.open_orders()
    assert alpaca.count(SUBMIT) == 3  # nothing sent while open

    await asyncio.sleep(COOLDOWN + 0.05)
    assert (await venue.submit(third)).status is OrderStatus.ACCEPTED  # the half-open trial
    assert venue.http.breaker.state(0) is BreakerState.CLOSED
    assert (await venue.submit(first)).status is OrderStatus.ACCEPTED
    assert await venue.submit(second) == refused  # its rejection stands
    assert {o["client_order_id"] for o in alpaca.orders.values()} == {
        first.order_id,
        third.order_id,
    }


async def test_timeouts_until_the_retries_run_out(
    alpaca: FakeAlpaca, connect: Callable[..., AlpacaVenue]
) -> None:
    venue = connect()
    order = an_order()
    alpaca.inject(SUBMIT, Fault(delay=TIMEOUT * 3), Fault(delay=TIMEOUT * 3))
    alpaca.inject("GET /v2/orders", *(Fault(delay=TIMEOUT * 3) for _ in range(4)))
    assert (await venue.submit(order)).status is OrderStatus.ACCEPTED  # third attempt
    with pytest.raises(VenueUnavailable) as info:
        await venue.poll()  # the 3rd timeout opens the breaker: no 4th request
    assert info.value.operation == "poll"
    assert alpaca.count("GET /v2/orders") == 3


async def test_cancel(alpaca: FakeAlpaca, connect: Callable[..., AlpacaVenue]) -> None:
    venue = connect()
    order = an_order()
    await venue.submit(order)
    alpaca.fill(order.order_id, "2", "100")
    requested = await venue.cancel(order.order_id)
    assert requested.outcome is CancelOutcome.REQUESTED
    events = await venue.poll()
    assert [e.status for e in events] == [OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCELLED]
    assert events[1].cumulative_quantity == Decimal(2)
    again = await venue.cancel(order.order_id)
    assert again.outcome is CancelOutcome.ALREADY_CLOSED
    assert alpaca.count("DELETE /v2/orders/{order_id}") == 1
    # a fresh adapter (no memory) asks the venue: 422 not cancelable
    fresh = await connect().cancel(order.order_id)
    assert fresh.outcome is CancelOutcome.ALREADY_CLOSED
    assert fresh.reason is not None and "not cancelable" in fresh.reason
    unknown = await venue.cancel(an_order().order_id)
    assert unknown.outcome is CancelOutcome.UNKNOWN_ORDER


async def test_reconciliation_reports_differences_and_catches_up(
    alpaca: FakeAlpaca, connect: Callable[..., AlpacaVenue]
) -> None:
    before = connect()
    partly, cancelled, never = an_order(), an_order(quantity="5"), an_order()
    await before.submit(partly)
    await before.submit(cancelled)
    # while we are down: a fill we did not see, a cancel at the venue, an order by hand
    alpaca.fill(partly.order_id, "4", "100")
    alpaca.cancel_at_venue(cancelled.order_id)
    stranger = alpaca.place({**_body(an_order(symbol="TSLA")), "client_order_id": "by-hand-1"})

    ours = [
        OurOrder(order_id=o.order_id, symbol=o.symbol, side=o.side, quantity=o.quantity)
        for o in (partly, cancelled, never)
    ]
    positions = {"AAPL": Decimal(0), "MSFT": Decimal(2)}
    after = connect()
    report = await after.start(ours, positions)
    found = {
        (d.kind, d.order_id or d.symbol, d.field, d.ours, d.at_venue) for d in report.differences
    }
    assert found == {
        (DifferenceKind.ORDER_MISMATCH, partly.order_id, "filled_quantity", "0", "4"),
        (DifferenceKind.CLOSED_AT_VENUE, cancelled.order_id, "status", "open", "canceled"),
        (DifferenceKind.MISSING_AT_VENUE, never.order_id, None, None, None),
        (DifferenceKind.UNKNOWN_TO_US, "by-hand-1", None, None, None),
        (DifferenceKind.POSITION_MISMATCH, "AAPL", "quantity", "0", "4"),
        (DifferenceKind.POSITION_MISMATCH, "MSFT", "quantity", "2", "0"),
    }
    (unknown,) = report.of_kind(DifferenceKind.UNKNOWN_TO_US)
    assert unknown.venue_order_id == stranger["id"]
    assert positions == {"AAPL": Decimal(0), "MSFT": Decimal(2)}  # ours untouched
    # what the venue did meanwhile arrives as events, from our own fill state
    events = {e.order_id: e for e in await after.poll()}
    assert events[partly.order_id].status is OrderStatus.PARTIALLY_FILLED
    assert events[partly.order_id].last_quantity == Decimal(4)
    assert events[cancelled.order_id].status is OrderStatus.CANCELLED
    assert never.order_id not in events
    assert alpaca.count(SUBMIT) == 2


async def test_updates_and_paged_listings(
    alpaca: FakeAlpaca, connect: Callable[..., AlpacaVenue]
) -> None:
    venue = connect()
    order = an_order()
    await venue.submit(order)
    for n in range(501):
        alpaca.place({**_body(an_order()), "client_order_id": f"bulk-{n}"})
    alpaca.fill(order.order_id, "10", "99")
    stream = venue.updates(0.02)
    try:
        event = await asyncio.wait_for(anext(stream), 5)
    finally:
        await stream.aclose()
    assert (event.order_id, event.status) == (order.order_id, OrderStatus.FILLED)
    calls = alpaca.count("GET /v2/orders")
    assert len(await venue.open_orders()) == 501  # two pages of at most 500
    assert alpaca.count("GET /v2/orders") - calls == 2
