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
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from app.decimals import plain
from app.logs import fields
from app.models import Order, OrderType, Side, TimeInForce
from app.order_state import OPEN, OrderStatus
from app.venues.base import (
    ZERO,
    RejectCode,
    VenueEvent,
    VenueOrder,
    VenuePosition,
    VenueProtocolError,
    venue_event_id,
    venue_fill_id,
)

log = logging.getLogger(__name__)

VENUE = "alpaca"
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


@dataclass(frozen=True)
class AlpacaOrder:
    id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    status: str
    order_type: OrderType | None
    time_in_force: TimeInForce | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    submitted_at: datetime | None
    updated_at: datetime | None
    filled_at: datetime | None
    canceled_at: datetime | None
    expired_at: datetime | None
    failed_at: datetime | None
    commission: Decimal


def parse_order(raw: Any) -> AlpacaOrder:
    """An Alpaca order object; VenueProtocolError naming what is wrong with it."""
    if not isinstance(raw, dict):
        raise VenueProtocolError(VENUE, "order", f"expected an order object, got {_kind(raw)}")
    try:
        return AlpacaOrder(
            id=_text(raw, "id"),
            client_order_id=_text(raw, "client_order_id"),
            symbol=_text(raw, "symbol"),
            side=Side(_text(raw, "side")),
            qty=_number(raw, "qty"),
            filled_qty=_number(raw, "filled_qty", default=ZERO),
            filled_avg_price=_optional_number(raw, "filled_avg_price"),
            status=_text(raw, "status"),
            order_type=_enum(OrderType, raw.get("type") or raw.get("order_type")),
            time_in_force=_enum(TimeInForce, raw.get("time_in_force")),
            limit_price=_optional_number(raw, "limit_price"),
            stop_price=_optional_number(raw, "stop_price"),
            submitted_at=_time(raw, "submitted_at") or _time(raw, "created_at"),
            updated_at=_time(raw, "updated_at"),
            filled_at=_time(raw, "filled_at"),
            canceled_at=_time(raw, "canceled_at"),
            expired_at=_time(raw, "expired_at"),
            failed_at=_time(raw, "failed_at"),
            commission=_optional_number(raw, "commission") or ZERO,
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise VenueProtocolError(VENUE, "order", f"malformed order object: {exc}") from None


def parse_position(raw: Any) -> VenuePosition:
    if not isinstance(raw, dict):
        raise VenueProtocolError(VENUE, "positions", f"expected a position, got {_kind(raw)}")
    try:
        qty = _number(raw, "qty", signed=True)
        if raw.get("side") == "short" and qty > 0:
            qty = -qty
        return VenuePosition(
            symbol=_text(raw, "symbol").strip(),
            quantity=qty,
            average_entry_price=_optional_number(raw, "avg_entry_price"),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise VenueProtocolError(VENUE, "positions", f"malformed position: {exc}") from None


def error_message(status: int, body: Any) -> str:
    """``"422 40010001: qty must be > 0"`` from Alpaca's error payload (or what there is)."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        code = body.get("code")
        return (
            f"{status} {code}: {body['message']}"
            if code is not None
            else (f"{status}: {body['message']}")
        )
    return f"{status}: {str(body)[:200]}" if body else f"HTTP {status}"


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


def _kind(raw: Any) -> str:
    return type(raw).__name__


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _number(
    raw: dict[str, Any], key: str, *, default: Decimal | None = None, signed: bool = False
) -> Decimal:
    value = raw.get(key)
    if value is None:
        if default is None:
            raise ValueError(f"{key} is missing")
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"{key} must be a decimal string")
    number = Decimal(value)
    if not number.is_finite() or (number < 0 and not signed):
        raise ValueError(f"{key} must be a finite decimal of 0 or more")
    return number


def _optional_number(raw: dict[str, Any], key: str) -> Decimal | None:
    return None if raw.get(key) in (None, "") else _number(raw, key)


def _enum(kind: type[OrderType] | type[TimeInForce], value: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        return None  # Alpaca has more (trailing_stop, opg, cls): not ours


def _time(raw: dict[str, Any], key: str) -> datetime | None:
    value = raw.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a timestamp string")
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        raise ValueError(f"{key} has no time zone")
    return when
