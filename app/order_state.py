"""The state of one order, by order id, as its fills and outcome arrive. Pure, no Faust.

    accepted --fill--> partially_filled --fill--> filled
       |  \\                 |   \\
    reject  cancel/expire  cancel/expire
       v        v            v
    rejected  cancelled / expired

``filled``, ``rejected``, ``cancelled`` and ``expired`` are terminal: any transition out of
them raises ``InvalidTransition``, a fill beyond the order's quantity raises ``Overfill``.
Redelivery is harmless: a fill already applied is a no-op (``apply_fill`` returns False),
and repeating the transition that reached the current terminal status (a reject of a
rejected order, ...) returns the state unchanged.

Every fill id of the order is kept (an order has few fills, and never more than its
quantity allows, since an overfill is refused), so duplicates are recognised at any age.
``avg_fill_price`` is ``filled_notional / filled_quantity``, rounded to 12 places only
when inexact; the notional itself is exact.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from app import positions
from app.decimals import PlainDecimal
from app.errors import AtStreamError
from app.models import Fill, Order, Side
from app.positions import PRICE_PLACES, Position
from app.trusted import updated

log = logging.getLogger(__name__)

ZERO = Decimal(0)


class OrderStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {OrderStatus.REJECTED, OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED}
)
OPEN = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
FILLED_BEFORE_CLOSE = frozenset({OrderStatus.CANCELLED, OrderStatus.EXPIRED})
"""Closed orders that may still take a fill: the execution step closes an order (an IOC's
rest cancelled) before the fills agent applies the fills that came before the close."""


class OrderStateError(AtStreamError):
    """An event that the order's state cannot take."""

    def __init__(self, order_id: str, message: str) -> None:
        self.order_id = order_id
        super().__init__(f"order {order_id}: {message}")


class InvalidTransition(OrderStateError):
    """A transition the order's status does not allow (e.g. out of a terminal status)."""

    def __init__(self, order_id: str, status: OrderStatus, action: str) -> None:
        self.status = status
        self.action = action
        super().__init__(order_id, f"cannot {action} an order that is {status.value}")


class Overfill(OrderStateError):
    """A fill would take the filled quantity beyond the order's quantity."""

    def __init__(self, state: OrderState, fill: Fill) -> None:
        self.fill_id = fill.fill_id
        self.quantity = state.quantity
        self.filled_quantity = state.filled_quantity
        self.fill_quantity = fill.quantity
        super().__init__(
            state.order_id,
            f"fill {fill.fill_id} of {fill.quantity} overfills: "
            f"{state.filled_quantity} of {state.quantity} already filled",
        )


class FillMismatch(OrderStateError):
    """A fill that does not belong to this order (other order id, account, symbol, side)."""

    def __init__(self, state: OrderState, fill: Fill, field: str) -> None:
        self.fill_id = fill.fill_id
        self.field = field
        super().__init__(state.order_id, f"fill {fill.fill_id} has another {field}")


class OrderState(BaseModel):
    """One order's status and fills; immutable, a new one per event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: str
    signal_id: str
    correlation_id: str
    account: str
    symbol: str
    side: Side
    quantity: PlainDecimal
    status: OrderStatus = OrderStatus.ACCEPTED
    filled_quantity: PlainDecimal = ZERO
    filled_notional: PlainDecimal = ZERO
    avg_fill_price: PlainDecimal = ZERO
    """Volume-weighted price of the fills; 0 before the first."""
    fees: PlainDecimal = ZERO
    applied: tuple[str, ...] = ()
    """Ids of every fill applied, in order."""
    fill_offsets: tuple[int, ...] = ()
    """For each fill of ``applied``, the offset on ``fills`` of the record it was applied
    from (-1: not known; states written before this field have none)."""
    reason: str | None = None
    """Why the order was rejected, cancelled or expired."""
    order_offset: int | None = None
    """Offset of the ``orders`` record that is this order's own (None: seen first by fill)."""
    updated_at: datetime

    @property
    def remaining_quantity(self) -> Decimal:
        with localcontext(prec=100):
            return self.quantity - self.filled_quantity

    @property
    def is_terminal(self) -> bool:
        return self.status.terminal

    def has_applied(self, fill_id: str) -> bool:
        return fill_id in self.applied

    def applied_at(self, fill_id: str) -> int | None:
        """The ``fills`` offset ``fill_id`` was applied from; -1 if not known; None if the
        fill is not applied."""
        if fill_id not in self.applied:
            return None
        i = self.applied.index(fill_id)
        return self.fill_offsets[i] if i < len(self.fill_offsets) else -1

    def dumps(self) -> bytes:
        """JSON bytes for table storage; Decimals travel as strings."""
        return self.model_dump_json().encode()

    @classmethod
    def loads(cls, raw: bytes | str) -> OrderState:
        return cls.model_validate_json(raw)


def accept(order: Order, correlation_id: str, offset: int | None = None) -> OrderState:
    """The state of a newly accepted order (``offset``: its record on ``orders``)."""
    return OrderState(
        order_id=order.order_id,
        signal_id=order.signal_id,
        correlation_id=correlation_id,
        account=order.account,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        order_offset=offset,
        updated_at=order.created_at,
    )


def receive(
    state: OrderState | None, order: Order, correlation_id: str, offset: int
) -> tuple[OrderState, bool]:
    """The state after the ``orders`` record at ``offset``, and whether it is the order's own.

    The first record of an order id is its own, and so is that record redelivered (same
    offset: its fill may not have reached the log). A record of the same order id at
    another offset is a duplicate (its signal reached ``signals`` twice, e.g. a webhook
    retry after a crash): it must cause no second fill. The order id derives from the
    signal id and the record key from the order, so both copies share one partition.
    """
    if state is None:
        return accept(order, correlation_id, offset), True
    if state.order_offset is None:  # seen first through its fill (a replay's race)
        return updated(state, order_offset=offset), True
    return state, state.order_offset == offset


def from_fill(fill: Fill, correlation_id: str) -> OrderState:
    """The accepted state of an order seen first through its fill (a replay's race)."""
    return OrderState(
        order_id=fill.order_id,
        signal_id=fill.signal_id,
        correlation_id=correlation_id,
        account=fill.account,
        symbol=fill.symbol,
        side=fill.side,
        quantity=fill.order_quantity or fill.quantity,
        updated_at=fill.filled_at,
    )


def _check_belongs(state: OrderState, fill: Fill) -> None:
    for field in ("order_id", "account", "symbol", "side"):
        if getattr(fill, field) != getattr(state, field):
            raise FillMismatch(state, fill, field)


def apply_fill(state: OrderState, fill: Fill, offset: int | None = None) -> tuple[OrderState, bool]:
    """The state after ``fill`` and whether it was applied (False: a duplicate);
    ``offset``: the fill's record on ``fills``, kept with the fill id."""
    _check_belongs(state, fill)
    if state.has_applied(fill.fill_id):
        log.debug("fill %s already applied to order %s", fill.fill_id, state.order_id)
        return state, False
    if state.status is OrderStatus.FILLED:
        raise Overfill(state, fill)
    if state.status not in OPEN and state.status not in FILLED_BEFORE_CLOSE:
        raise InvalidTransition(state.order_id, state.status, "fill")
    with localcontext(prec=100):
        filled = state.filled_quantity + fill.quantity
        notional = state.filled_notional + fill.quantity * fill.price
        fees = state.fees + fill.fee
        avg = notional / filled
    if filled > state.quantity:
        raise Overfill(state, fill)
    exponent = avg.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -PRICE_PLACES:
        avg = avg.quantize(Decimal(1).scaleb(-PRICE_PLACES))
    status = OrderStatus.FILLED if filled == state.quantity else OrderStatus.PARTIALLY_FILLED
    if state.status in FILLED_BEFORE_CLOSE:  # the fill came before the cancel or expiry
        status = state.status
    new = updated(
        state,
        status=status,
        filled_quantity=filled,
        filled_notional=notional,
        avg_fill_price=avg,
        fees=fees,
        applied=(*state.applied, fill.fill_id),
        fill_offsets=(
            *state.fill_offsets,
            *([-1] * (len(state.applied) - len(state.fill_offsets))),
            -1 if offset is None else offset,
        ),
        updated_at=fill.filled_at,
    )
    return new, True


def apply_fill_record(
    position: Position | None, state: OrderState, fill: Fill, offset: int
) -> tuple[Position, bool, OrderState]:
    """One ``fills`` record applied to its position and its order, as the fills agent and
    the reset's rebuild (``app.rebuild``) both do: the position, whether it applied the
    fill (the position decides, given where the order state applied it from), and the
    order state after it. Raises what either raises (the record is dead-lettered)."""
    new_position, applied = positions.apply_fill(
        position, fill, offset=offset, order_applied_at=state.applied_at(fill.fill_id)
    )
    new_state, _ = apply_fill(state, fill, offset)
    return new_position, applied, new_state


def _close(
    state: OrderState,
    to: OrderStatus,
    action: str,
    allowed: frozenset[OrderStatus],
    reason: str,
    at: datetime | None,
) -> OrderState:
    if state.status is to:
        return state  # a redelivered event: the first outcome stands
    if state.status not in allowed:
        raise InvalidTransition(state.order_id, state.status, action)
    when = at if at is not None else datetime.now(UTC)
    return updated(state, status=to, reason=reason, updated_at=when)


def reject(state: OrderState, reason: str, *, at: datetime | None = None) -> OrderState:
    """The order was refused before any fill (by risk checks or the venue)."""
    allowed = frozenset({OrderStatus.ACCEPTED})
    return _close(state, OrderStatus.REJECTED, "reject", allowed, reason, at)


def cancel(
    state: OrderState, reason: str = "cancelled", *, at: datetime | None = None
) -> OrderState:
    """The unfilled rest of an open order is cancelled; its fills stand."""
    return _close(state, OrderStatus.CANCELLED, "cancel", OPEN, reason, at)


def expire(state: OrderState, reason: str = "expired", *, at: datetime | None = None) -> OrderState:
    """The order's time in force ran out; its fills stand."""
    return _close(state, OrderStatus.EXPIRED, "expire", OPEN, reason, at)
