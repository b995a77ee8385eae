"""The execution step over one partition's book: a command of ``orders`` in, the lifecycle
events it causes out. Pure: the caller gives a :class:`Store` (the partition's state, as
its batch sees it) and publishes the events.

Per command (``app.trading.commands``):

- an order (``order`` intent) or a target (``target_position``/``close``: the delta from
  the account's executed position plus its open orders' unfilled quantity; nothing when
  that is 0): validation (``invalid_order``), the trading state and pre-trade risk
  (``app.trading.risk``), the venue's rejects, then ``accepted`` and one matching step at
  once against the symbol's last quote (as of the order's eligible time), else against
  the order's reference price. What stays open rests in the symbol's book. An IOC or FOK
  order with no price to match against is cancelled at once: it never rests.
- a quote: one matching step of every resting order of its symbol, in arrival order.
- a cancel: the order's open rest is cancelled (an order not open: no event).
- a kill-switch change: the partition's trading states (``app.trading.trading_state``).
- a clock tick: every resting ``day`` order whose session has closed expires.

An order id seen before (its signal reached ``signals`` twice) is executed once.

The executed position (``holding``) is this step's own, updated with every fill it
emits, so a target sent right after a fill sees that fill (the ``positions`` table, fed
by ``fills``, trails it). It keeps one applied fill id, not a window: the step makes its
fills itself, once per command (a redelivered command is skipped by its offset).

Risk limits over a whole account (gross notional, daily loss, orders per second) see the
account's state in this partition: its positions in the symbols that hash here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict

from app.models import Order, Side, TimeInForce
from app.order_state import OrderStatus
from app.positions import Position, apply_fill
from app.trading import matching, venue_steps
from app.trading.commands import CancelRequest, ClockTick, Command, QuoteTick, TargetRequest
from app.trading.errors import InvalidOrder
from app.trading.events import OrderEvent, ReasonCode, rejected_event, status_event, to_fill
from app.trading.fill_models import eligible_at
from app.trading.orders import TradingOrder, WorkingOrder, order_fields, validate_order
from app.trading.quotes import Quote
from app.trading.risk import AccountRisk, Exposure, RiskConfig, check_order, exposure_from
from app.trading.trading_state import TradingStateChange, TradingStates, apply_change
from app.trading.venue_config import VenueConfig
from app.trusted import trusted, updated
from app.venues.base import VenueEvent

log = logging.getLogger(__name__)

ZERO = Decimal(0)


class Book(BaseModel):
    """One symbol's market and resting orders in one partition."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    quote: Quote | None = None
    quote_from: tuple[int, int] | None = None
    """(partition, offset) on ``quotes`` of the last quote applied."""
    open: tuple[WorkingOrder, ...] = ()

    def dumps(self) -> bytes:
        return self.model_dump_json().encode()


class Store(Protocol):
    """One partition's execution state, read and staged by the caller."""

    def book(self, symbol: str) -> Book: ...
    def put_book(self, book: Book) -> None: ...
    def resting_symbols(self) -> list[str]:
        """The symbols whose book in this partition has open orders."""
        ...

    def holding(self, account: str, symbol: str) -> Position | None: ...
    def holdings(self, account: str) -> dict[str, Position]:
        """Every position of ``account`` in this partition, by symbol."""
        ...

    def put_holding(self, position: Position) -> None: ...
    def trading(self) -> TradingStates: ...
    def put_trading(self, states: TradingStates) -> None: ...
    def risk(self, account: str) -> AccountRisk | None: ...
    def put_risk(self, risk: AccountRisk) -> None: ...
    def seen(self, order_id: str) -> bool: ...
    def see(self, order_id: str) -> None: ...
    def venue_order(self, order_id: str) -> WorkingOrder | None:
        """An order at an external venue that the step follows (``app.trading.venue_steps``)."""
        ...

    def put_venue_order(self, state: WorkingOrder) -> None: ...


@dataclass(frozen=True)
class Engine:
    venue: VenueConfig
    risk: RiskConfig
    external: bool = False
    """True: orders that pass risk go to an external venue (``Outcome.submit``), not to
    the simulator's matching."""


class Outcome(NamedTuple):
    events: tuple[OrderEvent, ...]
    note: str | None = None
    """Why the command caused no event, when that is worth a log line."""
    submit: TradingOrder | None = None
    """For the caller to submit to the external venue (then :func:`on_answer`)."""
    cancel: str | None = None
    """An order id for the caller to cancel at the external venue."""


def trading_order(order: Order, correlation_id: str) -> TradingOrder:
    """An ``orders`` record as the execution step works it (validated later, so that an
    invalid combination becomes a ``rejected`` event, not an exception). Not validated
    again: its fields are the validated record's, of the same types."""
    return trusted(TradingOrder, **order_fields(order, correlation_id))


def handle(store: Store, engine: Engine, command: Command, correlation_id: str) -> Outcome:
    """Apply one command of ``orders`` to the partition's state (see the module's doc)."""
    if isinstance(command, Order):
        return execute(store, engine, trading_order(command, correlation_id))
    if isinstance(command, TargetRequest):
        return target(store, engine, command, correlation_id)
    if isinstance(command, QuoteTick):
        return on_quote(store, engine, command)
    if isinstance(command, CancelRequest):
        return cancel(store, command)
    if isinstance(command, VenueEvent):
        return on_venue_event(store, command)
    if isinstance(command, ClockTick):
        return on_clock(store, engine, command)
    return set_trading_state(store, command)


def _apply_fills(store: Store, events: tuple[OrderEvent, ...]) -> None:
    for event in events:
        if event.is_fill:
            fill = to_fill(event)
            held = store.holding(fill.account, fill.symbol)
            position, _ = apply_fill(held, fill, window=1)  # see the module's doc
            store.put_holding(position)


def _exposure(store: Store, account: str, book: Book) -> Exposure:
    """The account's positions in this partition, each marked at its symbol's last trade
    price here (else its average price), and its open orders in the order's symbol."""
    held = store.holdings(account)
    marks: dict[str, Decimal] = {}
    for symbol in held:
        quote = book.quote if symbol == book.symbol else store.book(symbol).quote
        if quote is not None and quote.last is not None:
            marks[symbol] = quote.last
    if book.quote is not None and book.quote.last is not None:
        marks[book.symbol] = book.quote.last
    buys = sells = ZERO
    for working in book.open:
        if working.order.account == account:
            if working.order.side is Side.BUY:
                buys += working.leaves_quantity
            else:
                sells += working.leaves_quantity
    return exposure_from(held, marks, {book.symbol: (buys, sells)})


def _immediate_cancel(state: WorkingOrder, at: datetime) -> tuple[WorkingOrder, OrderEvent]:
    fok = state.order.time_in_force is TimeInForce.FOK
    code = ReasonCode.FOK_NOT_FILLABLE if fok else ReasonCode.IOC_REMAINDER
    done = updated(state, status=OrderStatus.CANCELLED, events=state.events + 1, updated_at=at)
    return done, status_event(done, at, code, "no quote or reference price to fill against")


def execute(store: Store, engine: Engine, order: TradingOrder) -> Outcome:
    """Risk, then the venue, then one matching step; the rest rests in the book."""
    if store.seen(order.order_id):
        return Outcome((), f"order {order.order_id} seen before (its signal came twice)")
    store.see(order.order_id)
    try:
        validate_order(order)
    except InvalidOrder as exc:
        return Outcome((rejected_event(order, ReasonCode.INVALID_ORDER, str(exc)),))
    book = store.book(order.symbol)
    exposure = _exposure(store, order.account, book)
    touch = book.quote.touch(order.side) if book.quote else None
    decision = check_order(
        order,
        engine.risk.for_account(order.account),
        exposure,
        store.risk(order.account),
        store.trading().effective(order.account),
        price=touch,
    )
    store.put_risk(decision.account)
    if decision.rejection is not None:
        return Outcome((decision.rejection,))
    if engine.external:
        return Outcome((), submit=order)
    state, first = matching.submit(order, engine.venue)
    if not state.is_open:
        return Outcome(first)
    config = engine.venue.for_symbol(order.symbol) or engine.venue.defaults
    if book.quote is not None:  # the market as last known, when the venue has the order
        at = max(book.quote.at, eligible_at(order, config))
        market = updated(book.quote, at=at)
        state, more = matching.on_quote(state, market, engine.venue)
    elif order.reference_price is not None:
        state, more = matching.on_reference_price(state, engine.venue)
    else:  # no market known: the order rests at the venue, and fills as a maker later
        state, more = updated(state, resting=True), ()
    events = (*first, *more)
    if state.is_open and order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        state, event = _immediate_cancel(state, eligible_at(order, config))
        events = (*events, event)
    _apply_fills(store, events)
    if state.is_open:
        store.put_book(updated(book, open=(*book.open, state)))
    return Outcome(events)


def target(store: Store, engine: Engine, request: TargetRequest, correlation_id: str) -> Outcome:
    """The order that takes the account to ``request.target``, executed; none if it is
    there already (counting its open orders)."""
    book = store.book(request.symbol)
    holding = store.holding(request.account, request.symbol)
    held = holding.quantity if holding else ZERO
    for working in book.open:
        if working.order.account == request.account:
            held += working.order.sign * working.leaves_quantity
    delta = request.target - held
    if delta == 0:
        if not store.seen(request.order_id):
            store.see(request.order_id)
        return Outcome((), f"{request.account} {request.symbol} is at {held} already")
    order = TradingOrder(
        order_id=request.order_id,
        signal_id=request.signal_id,
        correlation_id=correlation_id,
        account=request.account,
        strategy=request.strategy,
        symbol=request.symbol,
        side=Side.BUY if delta > 0 else Side.SELL,
        quantity=abs(delta),
        order_type=request.order_type,
        time_in_force=request.time_in_force,
        limit_price=request.limit_price,
        stop_price=request.stop_price,
        reference_price=request.price,
        submitted_at=request.created_at,
    )
    return execute(store, engine, order)


def on_quote(store: Store, engine: Engine, tick: QuoteTick) -> Outcome:
    """Every resting order of the quote's symbol, matched against it in arrival order."""
    quote = tick.quote
    book = store.book(quote.symbol)
    source = (tick.source_partition, tick.source_offset)
    last = book.quote_from
    if last is not None and last[0] == source[0] and source[1] <= last[1]:
        return Outcome((), f"quote {source} applied before")
    events: list[OrderEvent] = []
    still: list[WorkingOrder] = []
    for working in book.open:
        working, caused = matching.on_quote(working, quote, engine.venue)
        events.extend(caused)
        if working.is_open:
            still.append(working)
    _apply_fills(store, tuple(events))
    update = {"quote": quote, "quote_from": source, "open": tuple(still)}
    store.put_book(updated(book, **update))
    return Outcome(tuple(events))


def on_clock(store: Store, engine: Engine, tick: ClockTick) -> Outcome:
    """Every resting ``day`` order whose session closed by ``tick.at`` expires."""
    events: list[OrderEvent] = []
    for symbol in store.resting_symbols():
        book = store.book(symbol)
        still: list[WorkingOrder] = []
        for working in book.open:
            working, caused = matching.expire_due(working, tick.at, engine.venue)
            events.extend(caused)
            if working.is_open:
                still.append(working)
        if len(still) != len(book.open):
            store.put_book(updated(book, open=tuple(still)))
    return Outcome(tuple(events))


def on_answer(store: Store, order: TradingOrder, answer: VenueEvent) -> Outcome:
    """The external venue's answer to ``order``'s submission (``Outcome.submit``)."""
    state, events = venue_steps.on_answer(order, answer)
    if state is not None:
        store.put_venue_order(state)
    return Outcome(events)


def on_venue_event(store: Store, event: VenueEvent) -> Outcome:
    """A later event of an order at the external venue (a fill, a cancel, an expiry)."""
    state = store.venue_order(event.order_id)
    if state is None:
        return Outcome(
            (), f"venue event {event.event_id}: order {event.order_id} not followed here"
        )
    new, events = venue_steps.on_venue_event(state, event)
    if not events:
        return Outcome((), f"venue event {event.event_id} applied before")
    _apply_fills(store, events)
    store.put_venue_order(new)
    return Outcome(events)


def cancel(store: Store, request: CancelRequest) -> Outcome:
    followed = store.venue_order(request.order_id)
    if followed is not None and followed.is_open:  # at the external venue: ask it there
        return Outcome(
            (), f"order {request.order_id}: cancel sent to the venue", cancel=request.order_id
        )
    book = store.book(request.symbol)
    for i, working in enumerate(book.open):
        if working.order_id == request.order_id:
            _, events = matching.cancel(working, request.requested_at, request.reason)
            rest = (*book.open[:i], *book.open[i + 1 :])
            store.put_book(updated(book, open=rest))
            return Outcome(events)
    return Outcome((), f"order {request.order_id} is not open here: nothing to cancel")


def set_trading_state(store: Store, change: TradingStateChange) -> Outcome:
    states, changed = apply_change(store.trading(), change)
    if changed:
        store.put_trading(states)
        return Outcome((), f"trading state of {change.scope} is {change.state.value}")
    return Outcome((), f"trading-state change {change.change_id} applied before")
