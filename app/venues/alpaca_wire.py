"""Alpaca's Trading API payloads, mapped to and from ours. Pure, no I/O.

Order request (``POST /v2/orders``): ``symbol``, ``qty``, ``side``, ``type``,
``time_in_force``, ``limit_price``, ``stop_price`` and ``client_order_id`` = our
deterministic order id, every number a decimal string. The order object Alpaca answers
with (and lists in ``GET /v2/orders``) carries ``status``, the cumulative ``filled_qty`` and
its ``filled_avg_price``; positions (``GET /v2/positions``) ``qty``, ``side`` and
``avg_entry_price``. Errors are ``{"code": 40010001, "message": "..."}``.

Alpaca's statuses onto our lifecycle (:func:`lifecycle_status`): ``filled`` -> filled,
``canceled``/``replaced`` -> cancelled, ``expired`` -> expired, ``rejected`` -> rejected;
every working status (``new``, ``accepted``, ``pending_new``, ``partially_filled``,
``done_for_day``, ``pending_cancel``, ...; an unknown one too) -> accepted, or
partially_filled once something is filled.

Polling sees cumulative state, not each execution, so :func:`events_between` derives the
fill between two snapshots: ``last_quantity`` = the filled quantity's increase,
``last_price`` = the increase of the filled notional over it (exact in Decimal, rounded to
12 places only when inexact). Two executions between polls arrive as one fill; the
cumulative quantity and average price are Alpaca's own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from app.decimals import plain
from app.logs import fields
from app.models import Order
from app.order_state import OPEN, OrderStatus
from app.venues.alpaca_parse import VENUE, AlpacaOrder
from app.venues.base import (
    ZERO,
    RejectCode,
    VenueEvent,
    VenueOrder,
    VenueProtocolError,
    venue_event_id,
    venue_fill_id,
)

log = logging.getLogger(__name__)

PRICE_PLACES = Decimal(1).scaleb(-12)
_CLOSED = {
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "replaced": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}
_REASONS = {
    OrderStatus.CANCELLED: "cancelled at the venue",
    OrderStatus.EXPIRED: "expired at the venue (time in force)",
    OrderStatus.REJECTED: "rejected by the venue after it accepted the order",
}


def order_body(order: Order) -> dict[str, str]:
    body = {
        "symbol": order.symbol,
        "qty": plain(order.quantity),
        "side": order.side.value,
        "type": order.order_type.value,
        "time_in_force": order.time_in_force.value,
        "client_order_id": order.order_id,
    }
    if order.limit_price is not None:
        body["limit_price"] = plain(order.limit_price)
    if order.stop_price is not None:
        body["stop_price"] = plain(order.stop_price)
    return body


def reject_code(status: int) -> RejectCode:
    if status == 401:
        return RejectCode.VENUE_AUTH
    if status == 403:
        return RejectCode.VENUE_FORBIDDEN
    return RejectCode.VENUE_REJECTED


def lifecycle_status(order: AlpacaOrder) -> OrderStatus:
    closed = _CLOSED.get(order.status)
    if closed is not None:
        return closed
    if order.qty > 0 and order.filled_qty >= order.qty:
        return OrderStatus.FILLED  # e.g. "calculated" once completely filled
    return OrderStatus.PARTIALLY_FILLED if order.filled_qty > 0 else OrderStatus.ACCEPTED


def to_venue_order(order: AlpacaOrder) -> VenueOrder:
    return VenueOrder(
        order_id=order.client_order_id,
        venue_order_id=order.id,
        symbol=order.symbol,
        side=order.side,
        quantity=order.qty,
        order_type=order.order_type,
        time_in_force=order.time_in_force,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        status=lifecycle_status(order),
        venue_status=order.status,
        filled_quantity=order.filled_qty,
        average_price=order.filled_avg_price,
        submitted_at=order.submitted_at,
    )


@dataclass(frozen=True)
class Seen:
    """What we last knew of an order we follow."""

    filled_quantity: Decimal = ZERO
    average_price: Decimal | None = None
    status: OrderStatus = OrderStatus.ACCEPTED
    commission: Decimal = ZERO


def events_between(
    order_id: str, seen: Seen, snap: AlpacaOrder, correlation_id: str | None, now: datetime
) -> tuple[list[VenueEvent], Seen]:
    """The lifecycle events that take ``seen`` to the snapshot ``snap``, and the new state."""
    if seen.status not in OPEN:
        return [], seen
    status = lifecycle_status(snap)
    cum, avg = snap.filled_qty, snap.filled_avg_price
    events: list[VenueEvent] = []
    common = {
        "venue": VENUE,
        "order_id": order_id,
        "venue_order_id": snap.id,
        "correlation_id": correlation_id,
    }
    if cum < seen.filled_quantity:
        log.error(
            "venue filled quantity went down: not applied (a busted or corrected trade?)",
            extra=fields(order_id=order_id, ours=plain(seen.filled_quantity), venue=plain(cum)),
        )
        return [], seen
    if cum > seen.filled_quantity:
        if avg is None or avg <= 0:
            raise VenueProtocolError(VENUE, "poll", f"order {snap.id}: filled without a price")
        delta = cum - seen.filled_quantity
        last = _last_price(seen, cum, avg, delta)
        filled = OrderStatus.FILLED if cum >= snap.qty else OrderStatus.PARTIALLY_FILLED
        events.append(
            VenueEvent(
                event_id=venue_event_id(VENUE, order_id, filled, cum),
                status=filled,
                event_time=(snap.filled_at if filled is OrderStatus.FILLED else None)
                or snap.updated_at
                or now,
                fill_id=venue_fill_id(VENUE, order_id, cum),
                last_quantity=delta,
                last_price=last,
                cumulative_quantity=cum,
                average_price=avg,
                commission=max(ZERO, snap.commission - seen.commission),
                **common,
            )
        )
        seen = Seen(cum, avg, filled, max(seen.commission, snap.commission))
    if status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED) and (
        seen.status in OPEN
    ):
        if status is OrderStatus.REJECTED and cum > 0:
            status = OrderStatus.CANCELLED  # our lifecycle rejects only an unfilled order
        at = {
            OrderStatus.CANCELLED: snap.canceled_at,
            OrderStatus.EXPIRED: snap.expired_at,
            OrderStatus.REJECTED: snap.failed_at,
        }[status]
        events.append(
            VenueEvent(
                event_id=venue_event_id(VENUE, order_id, status, cum),
                status=status,
                reason_code=RejectCode.VENUE_REJECTED if status is OrderStatus.REJECTED else None,
                reason=f"{_REASONS[status]} (alpaca status {snap.status})",
                event_time=at or snap.updated_at or now,
                cumulative_quantity=cum,
                average_price=avg,
                **common,
            )
        )
        seen = Seen(cum, avg, status, seen.commission)
    return events, seen


def _last_price(seen: Seen, cum: Decimal, avg: Decimal, delta: Decimal) -> Decimal:
    before = seen.filled_quantity * (seen.average_price or ZERO)
    with localcontext() as ctx:
        ctx.prec = 60
        price = (cum * avg - before) / delta
        exponent = price.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -12:
            price = price.quantize(PRICE_PLACES)
    return price if price > 0 else avg  # a venue's rounded average can make it drift
