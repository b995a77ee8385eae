"""The execution step with an external venue (``AT_STREAM_VENUE=alpaca``). Pure.

The simulator matches an order in the step itself. With an external venue the step does
everything up to matching (validation, the trading state, pre-trade risk: the engine's
:func:`~app.trading.engine.execute`), then hands the order to the venue
(:meth:`app.venues.base.Venue.submit`) and records what the venue says:

- the venue's answer to the submission (:func:`on_answer`), in the same batch as the
  order: ``accepted`` (the order is followed as a :class:`WorkingOrder` under
  ``v:<order id>`` in the partition's book table) or ``rejected`` with the venue's reason
  code (``venue_rejected``, ``venue_forbidden``, ``venue_auth``, ``circuit_open``,
  ``client_order_id_conflict``);
- every later event of the order (fills, cancels, expiries) arrives through the log: the
  venue service (:mod:`app.venues.service`) polls the venue and writes each
  :class:`~app.venues.base.VenueEvent` to ``orders`` (kind ``venue_event``, keyed like
  the order), and :func:`on_venue_event` turns it into our lifecycle events, in the
  order's partition, in order with everything else.

Idempotent: a venue event that does not move the order (a fill whose cumulative quantity
the order has, an event of a closed order, one polled twice or by two workers) gives
nothing. Our fill ids are the venue's (``venue_fill_id``: order id and cumulative
quantity), so a fill the venue reports again after a restart is the same fill. A
venue does not say whether a fill made or took liquidity: ``liquidity`` is unset.
"""

from __future__ import annotations

from decimal import Decimal

from app.order_state import OrderStatus
from app.trading.events import OrderEvent, ReasonCode, fill_event, rejected_event, status_event
from app.trading.orders import TradingOrder, WorkingOrder
from app.trusted import updated
from app.venues.base import VenueEvent

ZERO = Decimal(0)
_CLOSES = {
    OrderStatus.CANCELLED: (ReasonCode.VENUE_CANCELLED, "cancelled at the venue"),
    OrderStatus.EXPIRED: (ReasonCode.SESSION_END, "expired at the venue"),
    OrderStatus.REJECTED: (ReasonCode.VENUE_REJECTED, "rejected by the venue"),
}


def on_answer(
    order: TradingOrder, answer: VenueEvent
) -> tuple[WorkingOrder | None, tuple[OrderEvent, ...]]:
    """The venue's answer to the submission: the order to follow (None: not at the
    venue) and its first event."""
    if answer.status is OrderStatus.ACCEPTED:
        state = WorkingOrder(order=order, events=1, updated_at=answer.event_time)
        return state, (status_event(state, answer.event_time),)
    code = ReasonCode(answer.reason_code.value) if answer.reason_code else ReasonCode.VENUE_REJECTED
    reason = answer.reason or "rejected by the venue"
    return None, (rejected_event(order, code, reason, answer.event_time),)


def on_venue_event(
    state: WorkingOrder, event: VenueEvent
) -> tuple[WorkingOrder, tuple[OrderEvent, ...]]:
    """One event of the venue about the order ``state`` follows: the new state and our
    lifecycle events (none if it does not move the order)."""
    if not state.is_open or event.order_id != state.order_id:
        return state, ()
    if event.fill_id is not None and event.last_quantity > 0:
        return _fill(state, event)
    close = _CLOSES.get(event.status)
    if close is None:  # accepted again (a restart that follows the order anew): nothing
        return state, ()
    code, default = close
    if event.reason_code is not None:
        code = ReasonCode(event.reason_code.value)
    done = updated(state, status=event.status, events=state.events + 1, updated_at=event.event_time)
    return done, (status_event(done, event.event_time, code, event.reason or default),)


def _fill(state: WorkingOrder, event: VenueEvent) -> tuple[WorkingOrder, tuple[OrderEvent, ...]]:
    cum = min(event.cumulative_quantity, state.order.quantity)
    if cum <= state.cumulative_quantity or event.last_price is None:
        return state, ()  # had it already (or the venue sent no price: nothing to apply)
    quantity = cum - state.cumulative_quantity
    new = state.after_fill(quantity, event.last_price, event.commission, event.event_time)
    fill_id = event.fill_id
    assert fill_id is not None  # the caller checked
    fill = fill_event(
        new, event.event_time, fill_id, quantity, event.last_price, event.commission, None
    )
    return new, (fill,)
