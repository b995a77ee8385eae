"""The one interface the execution step talks to a venue through.

A venue takes our :class:`app.models.Order` (``submit``), cancels it by our order id
(``cancel``), lists what it holds (``open_orders``, ``positions``) and reports what happened
to our orders as :class:`VenueEvent` s, in our lifecycle vocabulary
(:class:`app.order_state.OrderStatus`: accepted, rejected, partially_filled, filled,
cancelled, expired) through ``poll`` / ``updates``. ``start`` reconciles the venue with our
state before any of it (see :mod:`app.venues.reconcile`).

Outcomes, the same for every venue:

- ``submit`` returns ``accepted`` or ``rejected`` (with a :class:`RejectCode`); fills,
  cancels and expiries come later through ``poll``. A ``rejected`` is definitive: the order
  is not at the venue (the venue refused it, or it was never sent because the breaker was
  open).
- :class:`VenueUnavailable` is raised when the outcome is not known (transient errors
  outlasted the retries; a submission may have reached the venue): the caller retries the
  same order later, which is safe because the venue dedupes on our deterministic order id.
- Every event id and fill id derives from its cause (order id, status, cumulative
  quantity), so a repeated poll or a restart yields the same ids.

Quantities and prices are ``Decimal`` and serialize as plain strings (``app.decimals``).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from app.decimals import PlainDecimal, plain
from app.errors import AtStreamError
from app.ids import derive
from app.logs import fields
from app.models import Order, OrderType, Side, TimeInForce
from app.order_state import OrderStatus

if TYPE_CHECKING:
    from app.venues.reconcile import OurOrder, ReconciliationReport

log = logging.getLogger(__name__)

ZERO = Decimal(0)


class RejectCode(StrEnum):
    """Why a venue order was rejected (``VenueEvent.reason_code``)."""

    VENUE_REJECTED = "venue_rejected"
    """The venue refused the order (Alpaca: 422, or the order's status became rejected)."""
    VENUE_FORBIDDEN = "venue_forbidden"
    """Not allowed for this account (Alpaca 403: buying power, shorting, day-trading rules)."""
    VENUE_AUTH = "venue_auth"
    """The venue refused our credentials (401)."""
    CIRCUIT_OPEN = "circuit_open"
    """The venue failed repeatedly; the breaker is open and the order was not sent."""
    CLIENT_ORDER_ID_CONFLICT = "client_order_id_conflict"
    """The venue holds another order (symbol, side or quantity) under our order id."""


class CancelOutcome(StrEnum):
    REQUESTED = "cancel_requested"
    """The venue took the request; the ``cancelled`` event follows on ``updates``."""
    ALREADY_CLOSED = "already_closed"
    """Nothing to cancel: the order is filled, cancelled, expired or rejected."""
    UNKNOWN_ORDER = "unknown_order"
    """The venue has no order under this id."""
    REFUSED = "refused"
    """The venue refused the cancel (its reason is given)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VenueEvent(_Frozen):
    """One step of an order's life at a venue.

    ``last_quantity``/``last_price`` are this fill's; ``cumulative_quantity`` and
    ``average_price`` are the order's totals after it (volume weighted). An event without a
    fill has ``last_quantity`` 0 and no ``last_price``.
    """

    v: Literal[1] = 1
    event_id: str
    venue: str
    order_id: str
    venue_order_id: str | None = None
    status: OrderStatus
    reason_code: RejectCode | None = None
    reason: str | None = None
    event_time: AwareDatetime
    fill_id: str | None = None
    last_quantity: PlainDecimal = ZERO
    last_price: PlainDecimal | None = None
    cumulative_quantity: PlainDecimal = ZERO
    average_price: PlainDecimal | None = None
    commission: PlainDecimal = ZERO
    correlation_id: str | None = None


class VenueOrder(_Frozen):
    """An order as the venue holds it; ``order_id`` is the client order id (ours if ours)."""

    order_id: str
    venue_order_id: str
    symbol: str
    side: Side
    quantity: PlainDecimal
    order_type: OrderType | None = None
    time_in_force: TimeInForce | None = None
    limit_price: PlainDecimal | None = None
    stop_price: PlainDecimal | None = None
    status: OrderStatus
    venue_status: str
    filled_quantity: PlainDecimal = ZERO
    average_price: PlainDecimal | None = None
    submitted_at: AwareDatetime | None = None


class VenuePosition(_Frozen):
    """A position at the venue: ``quantity`` is signed (negative: short)."""

    symbol: str
    quantity: PlainDecimal
    average_entry_price: PlainDecimal | None = None


class CancelResult(_Frozen):
    order_id: str
    outcome: CancelOutcome
    reason: str | None = None


class VenueError(AtStreamError):
    """A venue call that did not give an answer we can act on."""

    def __init__(self, venue: str, operation: str, reason: str) -> None:
        self.venue = venue
        self.operation = operation
        self.reason = reason
        super().__init__(f"{venue} {operation}: {reason}")


class VenueUnavailable(VenueError):
    """Transient failures outlasted the retries, or the breaker is open.

    ``in_doubt``: a request of this call was sent and not answered, so a submission may
    have reached the venue (retry the same order; never report it rejected).
    """

    def __init__(
        self, venue: str, operation: str, reason: str, *, attempts: int = 0, in_doubt: bool = False
    ) -> None:
        self.attempts = attempts
        self.in_doubt = in_doubt
        super().__init__(venue, operation, reason)


class CircuitOpen(VenueUnavailable):
    """The call was refused locally: the venue's breaker is open."""


class VenueProtocolError(VenueError):
    """The venue answered something its documented API does not say it sends."""


def venue_event_id(venue: str, order_id: str, status: OrderStatus, cumulative: Decimal) -> str:
    """The id of the event that took ``order_id`` to ``status`` at ``cumulative`` filled."""
    return derive("venue-event", venue, order_id, status.value, _key(cumulative))


def venue_fill_id(venue: str, order_id: str, cumulative: Decimal) -> str:
    """The fill that brought ``order_id``'s filled quantity to ``cumulative``."""
    return derive("venue-fill", venue, order_id, _key(cumulative))


def _key(value: Decimal) -> str:
    return plain(value.normalize()) if value else "0"


def accepted_event(
    venue: str, order_id: str, venue_order_id: str | None, at: datetime, correlation_id: str | None
) -> VenueEvent:
    return VenueEvent(
        event_id=venue_event_id(venue, order_id, OrderStatus.ACCEPTED, ZERO),
        venue=venue,
        order_id=order_id,
        venue_order_id=venue_order_id,
        status=OrderStatus.ACCEPTED,
        event_time=at,
        correlation_id=correlation_id,
    )


def rejected_event(
    venue: str,
    order_id: str,
    code: RejectCode,
    reason: str,
    at: datetime,
    *,
    venue_order_id: str | None = None,
    correlation_id: str | None = None,
) -> VenueEvent:
    return VenueEvent(
        event_id=venue_event_id(venue, order_id, OrderStatus.REJECTED, ZERO),
        venue=venue,
        order_id=order_id,
        venue_order_id=venue_order_id,
        status=OrderStatus.REJECTED,
        reason_code=code,
        reason=reason,
        event_time=at,
        correlation_id=correlation_id,
    )


class Venue(ABC):
    """What the execution step needs of a venue (the simulator, Alpaca, ...)."""

    name: str = "venue"
    poll_interval_seconds: float = 1.0

    @abstractmethod
    async def submit(self, order: Order, *, correlation_id: str | None = None) -> VenueEvent:
        """``accepted`` or ``rejected``; submitting the same order again is harmless."""

    @abstractmethod
    async def cancel(self, order_id: str) -> CancelResult:
        """Ask the venue to cancel our order ``order_id``; idempotent."""

    @abstractmethod
    async def open_orders(self) -> list[VenueOrder]: ...

    @abstractmethod
    async def positions(self) -> list[VenuePosition]: ...

    @abstractmethod
    async def poll(self) -> list[VenueEvent]:
        """What happened to the orders we follow since the last poll (no duplicates)."""

    @abstractmethod
    async def start(
        self, ours: Sequence[OurOrder], our_positions: Mapping[str, Decimal]
    ) -> ReconciliationReport:
        """Reconcile the venue with our open orders and positions, and follow our orders."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections."""

    async def updates(self, interval: float | None = None) -> AsyncGenerator[VenueEvent, None]:
        """``poll`` every ``interval`` seconds, forever; an unavailable venue is logged."""
        every = self.poll_interval_seconds if interval is None else interval
        while True:
            try:
                events = await self.poll()
            except VenueError as exc:
                log.warning("venue poll failed", extra=fields(venue=self.name, reason=exc.reason))
                events = []
            for event in events:
                yield event
            await asyncio.sleep(every)
