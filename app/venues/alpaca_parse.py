"""Alpaca's Trading API objects parsed, exactly (Decimal, aware datetimes). Pure.

The order object (``POST``/``GET /v2/orders``): ``id``, ``client_order_id``, ``symbol``,
``side``, ``qty``, the cumulative ``filled_qty`` and its ``filled_avg_price``, ``status``,
``type``, ``time_in_force``, ``limit_price``, ``stop_price`` and its timestamps (RFC 3339,
up to nanoseconds). A position (``GET /v2/positions``): ``symbol``, ``qty``, ``side``,
``avg_entry_price``. An error: ``{"code": 40010001, "message": "..."}``. Anything else is a
:class:`VenueProtocolError` naming what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.models import OrderType, Side, TimeInForce
from app.venues.base import ZERO, VenuePosition, VenueProtocolError

VENUE = "alpaca"


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
