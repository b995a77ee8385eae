"""The matching step: an order's state and a market event in, its new state and its
lifecycle events out. Pure: the caller stores the state and publishes the events.

- :func:`submit`: validation and the venue's rejects (``rejected``), else ``accepted``.
- :func:`on_quote`: one quote of the order's symbol. Before the order's latency has
  passed, or while the market is closed, nothing happens. A ``day`` order past its
  session's close expires. Then:

  * a stop (stop-limit) that the quote reaches triggers and works as a market (limit)
    order from this step on;
  * a market order fills at the touch (a buy at the ask, a sell at the bid), slipped;
  * a limit order that is marketable when it arrives (or triggers) fills at the touch
    as a taker, never beyond its limit; otherwise it rests, and later fills as a maker
    at its limit price: for sure when the market crosses it, with ``prob_fill_on_limit``
    when the market only touches it;
  * each step fills at most what the partial-fill model allows; what is left rests;
  * ``ioc``: the rest is cancelled at once (``ioc_remainder``): it never rests;
  * ``fok``: fills completely in this step, or is cancelled without a fill
    (``fok_not_fillable``).

- :func:`on_reference_price`: the same step against the signal's reference price (a
  quote with bid = ask = last = that price, sizes unknown), at the order's eligible time.
- :func:`cancel`, :func:`expire_due`: a cancel request, and a ``day`` order's expiry.
- :func:`run`: :func:`submit`, then every quote in order: all the order's events.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from app.ids import fill_id_for
from app.models import OrderType, Side, TimeInForce
from app.order_state import OrderStatus
from app.trading.errors import InvalidOrder, InvalidQuote
from app.trading.events import (
    Liquidity,
    OrderEvent,
    ReasonCode,
    fill_event,
    rejected_event,
    status_event,
)
from app.trading.fill_models import (
    Draw,
    Match,
    chance,
    commission,
    eligible_at,
    limit_match,
    slipped_price,
    step_quantity,
    stop_triggered,
    venue_reject,
)
from app.trading.orders import NEEDS_STOP, TradingOrder, WorkingOrder, validate_order
from app.trading.quotes import Quote, reference_quote
from app.trading.venue_config import SymbolConfig, VenueConfig
from app.trusted import trusted, updated

ZERO = Decimal(0)


class Step(NamedTuple):
    state: WorkingOrder
    events: tuple[OrderEvent, ...]


def submit(order: TradingOrder, venue: VenueConfig) -> Step:
    """The order's first event: ``rejected`` (invalid, unknown symbol, market closed) or
    ``accepted``. Risk checks come before this (:mod:`app.trading.risk`)."""
    # a WorkingOrder of a valid order's fields: not validated again
    state = trusted(WorkingOrder, order=order, updated_at=order.submitted_at)
    try:
        validate_order(order)
    except InvalidOrder as exc:
        return _reject(state, ReasonCode.INVALID_ORDER, str(exc))
    refused = venue_reject(order, venue)
    if refused is not None:
        return _reject(state, *refused)
    accepted = trusted(WorkingOrder, order=order, updated_at=order.submitted_at, events=1)
    return Step(accepted, (status_event(accepted, order.submitted_at),))


def _reject(state: WorkingOrder, code: ReasonCode, reason: str) -> Step:
    event = rejected_event(state.order, code, reason)
    done = updated(state, status=OrderStatus.REJECTED, events=1)
    return Step(done, (event,))


def _config(venue: VenueConfig, symbol: str) -> SymbolConfig:
    # An accepted order's symbol was known; a config reloaded without it keeps working
    # the order with the defaults rather than stranding it.
    return venue.for_symbol(symbol) or venue.defaults


def _close(
    state: WorkingOrder, status: OrderStatus, at: datetime, code: ReasonCode, reason: str
) -> tuple[WorkingOrder, OrderEvent]:
    done = updated(state, status=status, events=state.events + 1, updated_at=at)
    return done, status_event(done, at, code, reason)


def _fill(
    state: WorkingOrder,
    at: datetime,
    quantity: Decimal,
    price: Decimal,
    liquidity: Liquidity,
    config: SymbolConfig,
) -> tuple[WorkingOrder, OrderEvent]:
    fee = commission(config.fees, state.cumulative_quantity, quantity, price, liquidity)
    new = state.after_fill(quantity, price, fee, at)
    fill_id = fill_id_for(state.order_id, new.fills)
    return new, fill_event(new, at, fill_id, quantity, price, fee, liquidity)


def _price(
    state: WorkingOrder, quote: Quote, config: SymbolConfig, seed: int
) -> tuple[Decimal, Liquidity] | None:
    """The price and liquidity at which this step can fill, or None."""
    order = state.order
    side = order.side
    slip = chance(config.slippage.prob_slippage, seed, order.order_id, state.steps, Draw.SLIPPAGE)
    if order.order_type in (OrderType.MARKET, OrderType.STOP):
        touch = quote.touch(side)
        if touch is None:
            return None
        return slipped_price(touch, side, config, extra_tick=slip), Liquidity.TAKER
    limit = order.limit_price
    assert limit is not None  # validated: limit and stop-limit orders have one
    if not state.resting:  # arriving (or just triggered): marketable only at the touch
        touch = quote.touch(side)
        marketable = touch is not None and (touch <= limit if side is Side.BUY else touch >= limit)
        if not marketable or touch is None:
            return None
        price = slipped_price(touch, side, config, extra_tick=slip, limit=limit)
        return price, Liquidity.TAKER
    match = limit_match(side, limit, quote)
    if match is Match.CROSS or (
        match is Match.TOUCH
        and chance(config.prob_fill_on_limit, seed, order.order_id, state.steps, Draw.FILL_ON_LIMIT)
    ):
        return limit, Liquidity.MAKER
    return None


def on_quote(state: WorkingOrder, quote: Quote, venue: VenueConfig) -> Step:
    """One matching step of ``state`` against ``quote`` (see the module's docstring)."""
    order = state.order
    if quote.symbol != order.symbol:
        raise InvalidQuote(quote.symbol, f"does not match order {order.order_id} of {order.symbol}")
    config = _config(venue, order.symbol)
    if not state.is_open or quote.at < eligible_at(order, config):
        return Step(state, ())
    if order.time_in_force is TimeInForce.DAY and quote.at >= config.session_end(
        order.submitted_at
    ):
        done, event = _close(
            state,
            OrderStatus.EXPIRED,
            quote.at,
            ReasonCode.SESSION_END,
            "the order's trading session ended",
        )
        return Step(done, (event,))
    hours = config.trading_hours
    if hours is not None and not hours.is_open(quote.at):
        return Step(state, ())
    state = updated(state, steps=state.steps + 1, updated_at=quote.at)
    if order.order_type in NEEDS_STOP and not state.triggered:
        if not stop_triggered(order.side, order.stop_price or ZERO, quote):
            return Step(state, ())
        state = updated(state, triggered=True)
    events: list[OrderEvent] = []
    found = _price(state, quote, config, venue.seed)
    quantity = ZERO
    if found is not None:
        quantity = step_quantity(
            state.leaves_quantity,
            quote.touch_size(order.side),
            config.partial,
            config.quantity_increment,
        )
    if order.time_in_force is TimeInForce.FOK and quantity < state.leaves_quantity:
        done, event = _close(
            state,
            OrderStatus.CANCELLED,
            quote.at,
            ReasonCode.FOK_NOT_FILLABLE,
            f"could not fill all {state.leaves_quantity} at once",
        )
        return Step(done, (event,))
    if found is not None and quantity > 0:
        state, event = _fill(state, quote.at, quantity, found[0], found[1], config)
        events.append(event)
    if state.is_open and order.time_in_force is TimeInForce.IOC:
        state, event = _close(
            state,
            OrderStatus.CANCELLED,
            quote.at,
            ReasonCode.IOC_REMAINDER,
            f"immediate-or-cancel: {state.leaves_quantity} unfilled",
        )
        events.append(event)
    if state.is_open and not state.resting:
        state = updated(state, resting=True)
    return Step(state, tuple(events))


def on_reference_price(state: WorkingOrder, venue: VenueConfig) -> Step:
    """One step against the order's reference price, at its eligible time; nothing if
    the order has none."""
    order = state.order
    if order.reference_price is None:
        return Step(state, ())
    at = eligible_at(order, _config(venue, order.symbol))
    return on_quote(state, reference_quote(order.symbol, order.reference_price, at), venue)


def cancel(state: WorkingOrder, at: datetime, reason: str = "cancel requested") -> Step:
    """Cancel the open rest of the order (its fills stand). Idempotent: an order that is
    already terminal (cancelled by an earlier request, filled, ...) yields no event;
    :meth:`WorkingOrder.require_open` lets a caller report that instead."""
    if not state.is_open:
        return Step(state, ())
    done, event = _close(state, OrderStatus.CANCELLED, at, ReasonCode.CANCEL_REQUESTED, reason)
    return Step(done, (event,))


def expire_due(state: WorkingOrder, now: datetime, venue: VenueConfig) -> Step:
    """Expire an open ``day`` order whose session has closed by ``now`` (for a timer, so an
    order expires even when no quote comes)."""
    order = state.order
    if not state.is_open or order.time_in_force is not TimeInForce.DAY:
        return Step(state, ())
    end = _config(venue, order.symbol).session_end(order.submitted_at)
    if now < end:
        return Step(state, ())
    done, event = _close(
        state, OrderStatus.EXPIRED, end, ReasonCode.SESSION_END, "the order's trading session ended"
    )
    return Step(done, (event,))


def run(
    order: TradingOrder, quotes: Iterable[Quote], venue: VenueConfig, *, use_reference: bool = False
) -> Step:
    """Submit ``order`` and match it against ``quotes`` in order (first against its
    reference price if ``use_reference``): the final state and every event."""
    state, events = submit(order, venue)
    collected = list(events)
    if use_reference:
        state, events = on_reference_price(state, venue)
        collected.extend(events)
    for quote in quotes:
        if not state.is_open:
            break
        state, events = on_quote(state, quote, venue)
        collected.extend(events)
    return Step(state, tuple(collected))
