"""Order lifecycle events: one versioned schema for every step of an order's life.

The vocabulary is :class:`app.order_state.OrderStatus`; an event's ``status`` is the
order's status once the event is applied:

=================  ===========================================================
``accepted``       the order passed validation, venue and risk checks; it is open
``rejected``       refused before any fill; ``reason_code`` says why (terminal)
``partially_filled`` a fill that leaves part of the order open
``filled``         the fill that completes the order (terminal)
``cancelled``      the open rest is cancelled (IOC/FOK rest, a cancel request; terminal)
``expired``        a ``day`` order outlived its session (terminal)
=================  ===========================================================

Quantities and prices are named plainly: ``last_quantity``/``last_price`` are *this*
fill's, ``cumulative_quantity``/``average_price`` are over *all* the order's fills so
far, ``leaves_quantity`` is what is still open. ``commission`` is this fill's,
``cumulative_commission`` the order's total.

Ids derive from their cause (as :mod:`app.ids`): the ``n``-th fill of an order is
``fill_id_for(order_id, n)`` (the first fill keeps today's id), the ``n``-th event of an
order is ``event_id_for(order_id, n)``. A replay gives the same events, byte for byte.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, localcontext
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.decimals import NonNegative, Positive
from app.ids import derive
from app.models import EventId, Fill, Name, OrderType, Side, Symbol, TimeInForce
from app.order_state import OrderStatus
from app.positions import PRICE_PLACES
from app.trading.orders import TradingOrder, WorkingOrder
from app.trusted import trusted

EVENT_SCHEMA_VERSION: Literal[1] = 1
ORDER_EVENTS_TOPIC = "order-events"
ZERO = Decimal(0)


class ReasonCode(StrEnum):
    """Why an order was rejected, cancelled or expired: stable, for machines."""

    # rejected by validation or the venue
    INVALID_ORDER = "invalid_order"
    UNKNOWN_SYMBOL = "unknown_symbol"
    OUTSIDE_TRADING_HOURS = "outside_trading_hours"
    # rejected by pre-trade risk
    TRADING_HALTED = "trading_halted"
    REDUCING_ONLY = "reducing_only"
    SYMBOL_NOT_ALLOWED = "symbol_not_allowed"
    SYMBOL_DENIED = "symbol_denied"
    NO_PRICE = "no_price"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    MAX_POSITION_SYMBOL = "max_position_symbol"
    MAX_POSITION_ACCOUNT = "max_position_account"
    MAX_ORDER_RATE = "max_order_rate"
    MAX_DAILY_LOSS = "max_daily_loss"
    # rejected by an external venue (the codes of app.venues.base.RejectCode)
    VENUE_REJECTED = "venue_rejected"
    VENUE_FORBIDDEN = "venue_forbidden"
    VENUE_AUTH = "venue_auth"
    CIRCUIT_OPEN = "circuit_open"
    CLIENT_ORDER_ID_CONFLICT = "client_order_id_conflict"
    # cancelled
    IOC_REMAINDER = "ioc_remainder"
    FOK_NOT_FILLABLE = "fok_not_fillable"
    CANCEL_REQUESTED = "cancel_requested"
    VENUE_CANCELLED = "venue_cancelled"
    # expired
    SESSION_END = "session_end"


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class OrderEvent(BaseModel):
    """One step of an order's life, on ``order-events`` (keyed ``account|symbol``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = EVENT_SCHEMA_VERSION
    event_id: EventId
    seq: int = Field(ge=1, description="This event's number among the order's events.")
    status: OrderStatus
    order_id: EventId
    signal_id: EventId
    fill_id: EventId | None = Field(None, description="Set on partially_filled and filled.")
    account: Name
    strategy: Name
    symbol: Symbol
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    order_quantity: Positive
    last_quantity: NonNegative = Field(ZERO, description="This fill's quantity (0: no fill).")
    last_price: Positive | None = Field(None, description="This fill's price.")
    cumulative_quantity: NonNegative = Field(ZERO, description="Filled so far, all fills.")
    average_price: Positive | None = Field(
        None, description="Volume-weighted price of all fills so far; none before the first."
    )
    leaves_quantity: NonNegative = Field(description="Still open (0 once terminal).")
    commission: NonNegative = Field(ZERO, description="This fill's commission.")
    cumulative_commission: NonNegative = ZERO
    liquidity: Liquidity | None = Field(None, description="Maker or taker, on a fill.")
    reason_code: ReasonCode | None = None
    reason: str | None = Field(None, description="Human-readable detail of reason_code.")
    event_time: AwareDatetime
    correlation_id: str

    @property
    def key(self) -> bytes:
        return f"{self.account}|{self.symbol}".encode()

    @property
    def is_fill(self) -> bool:
        return self.fill_id is not None

    def dumps(self) -> bytes:
        return self.model_dump_json().encode()


def event_id_for(order_id: str, seq: int) -> str:
    return derive("order-event", order_id, str(seq))


def average(notional: Decimal, quantity: Decimal) -> Decimal | None:
    """``notional / quantity``, exact when it fits in ``PRICE_PLACES``, else rounded."""
    if quantity == 0:
        return None
    with localcontext(prec=100):
        avg = notional / quantity
    exponent = avg.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -PRICE_PLACES:
        avg = avg.quantize(Decimal(1).scaleb(-PRICE_PLACES))
    return avg


def _event(
    order: TradingOrder,
    seq: int,
    status: OrderStatus,
    at: datetime,
    state: WorkingOrder | None,
    **extra: Any,
) -> OrderEvent:
    cum = state.cumulative_quantity if state else ZERO
    notional = state.cumulative_notional if state else ZERO
    # not validated again: every field comes from a validated order or state, and
    # test_every_event_and_fill_is_valid_on_the_wire holds the engine to the schema
    return trusted(
        OrderEvent,
        event_id=event_id_for(order.order_id, seq),
        seq=seq,
        status=status,
        order_id=order.order_id,
        signal_id=order.signal_id,
        account=order.account,
        strategy=order.strategy,
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        time_in_force=order.time_in_force,
        order_quantity=order.quantity,
        cumulative_quantity=cum,
        average_price=average(notional, cum),
        leaves_quantity=state.leaves_quantity if state else ZERO,
        cumulative_commission=state.cumulative_commission if state else ZERO,
        event_time=at,
        correlation_id=order.correlation_id,
        **extra,
    )


def status_event(
    state: WorkingOrder,
    at: datetime,
    reason_code: ReasonCode | None = None,
    reason: str | None = None,
) -> OrderEvent:
    """The event of ``state``'s status (accepted, cancelled, expired, rejected): ``state``
    is the order after the event, whose ``events`` counts it."""
    return _event(
        state.order, state.events, state.status, at, state, reason_code=reason_code, reason=reason
    )


def fill_event(
    state: WorkingOrder,
    at: datetime,
    fill_id: str,
    quantity: Decimal,
    price: Decimal,
    commission: Decimal,
    liquidity: Liquidity | None,
) -> OrderEvent:
    """The fill event that took the order to ``state`` (partially_filled or filled)."""
    return _event(
        state.order,
        state.events,
        state.status,
        at,
        state,
        fill_id=fill_id,
        last_quantity=quantity,
        last_price=price,
        commission=commission,
        liquidity=liquidity,
    )


def rejected_event(
    order: TradingOrder,
    reason_code: ReasonCode,
    reason: str,
    at: datetime | None = None,
    seq: int = 1,
) -> OrderEvent:
    """A rejection of ``order`` before it was ever accepted (its first event)."""
    return _event(
        order,
        seq,
        OrderStatus.REJECTED,
        at or order.submitted_at,
        None,
        reason_code=reason_code,
        reason=reason,
    )


def to_fill(event: OrderEvent) -> Fill:
    """A fill event as today's :class:`app.models.Fill` (what :mod:`app.positions` nets)."""
    if event.fill_id is None or event.last_price is None:
        raise ValueError(f"event {event.event_id} ({event.status.value}) is not a fill")
    return trusted(  # from a valid event (see _event)
        Fill,
        fill_id=event.fill_id,
        order_id=event.order_id,
        signal_id=event.signal_id,
        account=event.account,
        symbol=event.symbol,
        side=event.side,
        quantity=event.last_quantity,
        price=event.last_price,
        fee=event.commission,
        order_quantity=event.order_quantity,
        filled_at=event.event_time,
    )


def schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema (draft 2020-12) of ``order-events``, shaped like :func:`app.models.schemas`
    (the ``at-stream schema`` export can merge it once the topic exists)."""
    schema = OrderEvent.model_json_schema(mode="serialization")
    schema["$id"] = (
        f"https://at-stream.dev/schemas/{ORDER_EVENTS_TOPIC}.v{EVENT_SCHEMA_VERSION}.json"
    )
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return {ORDER_EVENTS_TOPIC: schema}
