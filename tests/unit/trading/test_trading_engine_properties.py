"""Property tests (hypothesis) of app.trading.engine: invariants over random sequences of
orders, targets, cancels and quotes of one symbol, through ``handle`` and one store."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.models import Fill, Order, OrderType, Side, TimeInForce
from app.order_state import OrderStatus
from app.trading.commands import Command
from app.trading.engine import Engine, handle
from app.trading.events import OrderEvent, to_fill
from app.trading.orders import IMMEDIATE
from app.trading.venue_config import VenueConfig
from tests.unit.trading.engine_store import (
    MemoryStore,
    cancel_cmd,
    engine,
    order_cmd,
    order_id,
    signed_fills,
    target_cmd,
    tick,
)
from tests.unit.trading.samples import CORRELATION, T0, venue_configs

# Each example runs up to 30 commands through the engine: modest, to keep the suite fast.
PROPERTY = settings(max_examples=60, deadline=None, database=None)

CENT = Decimal("0.01")
ACCOUNTS = ("acct-1", "acct-2")
cents = st.integers(-60, 60)  # around 100.00
probabilities = st.sampled_from(["0", "0.3", "0.7", "1"])
sizes = st.none() | st.integers(0, 40).map(Decimal)


def price(offset: int) -> Decimal:
    return Decimal(100) + offset * CENT


def venues() -> st.SearchStrategy[VenueConfig]:
    return venue_configs(
        probabilities=probabilities,
        shares=["0.25", "0.5", "1"],
        max_step=30,
        latencies=[0, 0, 250],
        increments=[None, "1"],
        fixed_bps=["0", "5"],
    )


KINDS = [OrderType.MARKET, OrderType.LIMIT, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT]


@st.composite
def order_fields(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    tif = draw(st.sampled_from(list(TimeInForce)))
    stops = kind in (OrderType.STOP, OrderType.STOP_LIMIT)
    if stops and tif in IMMEDIATE and draw(st.integers(0, 9)) < 9:
        # a stop with ioc or fok is invalid (rejected): now and then, not half the time
        tif = TimeInForce.GTC if tif is TimeInForce.IOC else TimeInForce.DAY
    fields: dict[str, Any] = {
        "account": draw(st.sampled_from(ACCOUNTS)),
        "side": draw(st.sampled_from(list(Side))),
        "quantity": str(draw(st.integers(1, 40))),
        "order_type": kind,
        "time_in_force": tif,
        "price": draw(st.none() | cents.map(price)),
    }
    if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        fields["limit_price"] = price(draw(cents))
    if stops:
        fields["stop_price"] = price(draw(cents))
    return fields


quote_parts = st.tuples(cents, st.integers(0, 20), st.booleans(), st.booleans(), sizes, sizes)
steps = st.one_of(
    st.tuples(st.just("quote"), quote_parts),
    st.tuples(st.just("repeat"), st.none()),  # the last quote again (a redelivered copy)
    st.tuples(st.just("order"), order_fields()),
    st.tuples(st.just("order"), order_fields()),
    st.tuples(st.just("target"), st.tuples(st.sampled_from(ACCOUNTS), st.integers(-30, 30))),
    st.tuples(st.just("cancel"), st.integers(0, 29)),
)


@dataclass
class Run:
    """What a sequence did: every event, by order too, and each order's fields."""

    store: MemoryStore
    events: list[OrderEvent] = field(default_factory=list)
    by_order: dict[str, list[OrderEvent]] = field(default_factory=lambda: defaultdict(list))
    orders: dict[str, Order] = field(default_factory=dict)
    in_book_after: list[set[str]] = field(default_factory=list)
    """The ids of the orders open in the book after each command."""


def execute(eng: Engine, plan: list[tuple[str, Any]], ms: list[int]) -> Run:
    store = MemoryStore()
    out = Run(store)
    at = T0
    offset = 0
    last_quote: Command | None = None
    ids: list[str] = []
    for n, ((kind, data), gap) in enumerate(zip(plan, ms, strict=True)):
        at += timedelta(milliseconds=gap)
        command: Command | None = None
        if kind == "quote":
            mid, spread, has_bid, has_ask, bid_size, ask_size = data
            bid = price(mid)
            offset += 1
            command = tick(
                str(bid) if has_bid or not has_ask else None,
                str(bid + spread * CENT) if has_ask else None,
                offset,
                seconds=(at - T0).total_seconds(),
                bid_size=bid_size,
                ask_size=ask_size,
            )
            last_quote = command
        elif kind == "repeat":
            command = last_quote
        elif kind == "order":
            command = order_cmd(n, created_at=at, **data)
            out.orders[command.order_id] = command
            ids.append(command.order_id)
        elif kind == "target":
            account, goal = data
            command = target_cmd(n, goal, account=account, created_at=at)
            ids.append(order_id(n))
        elif ids:
            command = cancel_cmd(ids[data % len(ids)])
        if command is None:
            continue
        for event in handle(store, eng, command, CORRELATION).events:
            out.events.append(event)
            out.by_order[event.order_id].append(event)
        out.in_book_after.append({w.order_id for w in store.book("AAPL").open})
    return out


plans = st.lists(steps, min_size=4, max_size=30)
gaps = st.lists(st.integers(0, 600), min_size=30, max_size=30)


def _run(v: VenueConfig, plan: list[tuple[str, Any]], ms: list[int]) -> Run:
    return execute(engine(v), plan, ms[: len(plan)])


@PROPERTY
@given(venues(), plans, gaps)
def test_filled_never_exceeds_ordered(
    v: VenueConfig, plan: list[tuple[str, Any]], ms: list[int]
) -> None:
    result = _run(v, plan, ms)
    for events in result.by_order.values():
        total = Decimal(0)
        for event in events:
            total += event.last_quantity
            assert event.cumulative_quantity == total <= event.order_quantity
            if event.status.terminal:
                assert event.leaves_quantity == 0
            else:
                assert event.leaves_quantity == event.order_quantity - total
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        terminal = [i for i, e in enumerate(events) if e.status.terminal]
        assert terminal in ([], [len(events) - 1])


@PROPERTY
@given(venues(), plans, gaps)
def test_each_holding_equals_the_signed_sum_of_its_fills(
    v: VenueConfig, plan: list[tuple[str, Any]], ms: list[int]
) -> None:
    result = _run(v, plan, ms)
    for account in ACCOUNTS:
        assert result.store.held(account) == signed_fills(result.events, account)


@PROPERTY
@given(venues(), plans, gaps)
def test_commissions_are_never_negative(
    v: VenueConfig, plan: list[tuple[str, Any]], ms: list[int]
) -> None:
    result = _run(v, plan, ms)
    for events in result.by_order.values():
        running = Decimal(0)
        for event in events:
            assert event.commission >= 0
            running += event.commission
            assert event.cumulative_commission == running


@PROPERTY
@given(venues(), plans, gaps)
def test_immediate_orders_never_rest_and_fok_is_all_or_nothing(
    v: VenueConfig, plan: list[tuple[str, Any]], ms: list[int]
) -> None:
    result = _run(v, plan, ms)
    immediate = {oid for oid, o in result.orders.items() if o.time_in_force in IMMEDIATE}
    for open_ids in result.in_book_after:
        assert not open_ids & immediate
    for oid in immediate:
        events = result.by_order[oid]
        last = events[-1]
        assert last.status.terminal  # decided by the command that brought it
        if result.orders[oid].time_in_force is TimeInForce.FOK:
            filled = [e for e in events if e.is_fill]
            if last.status is OrderStatus.FILLED:
                assert len(filled) == 1 and filled[0].last_quantity == last.order_quantity
            else:
                assert last.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED)
                assert filled == [] and last.cumulative_quantity == 0


@PROPERTY
@given(venues(), plans, gaps)
def test_limit_fills_are_never_beyond_the_limit(
    v: VenueConfig, plan: list[tuple[str, Any]], ms: list[int]
) -> None:
    result = _run(v, plan, ms)
    for oid, o in result.orders.items():
        if o.limit_price is None:
            continue
        for event in result.by_order[oid]:
            if event.last_price is None:
                continue
            if o.side is Side.BUY:
                assert event.last_price <= o.limit_price
            else:
                assert event.last_price >= o.limit_price


@PROPERTY
@given(venues(), plans, gaps)
def test_a_replay_gives_the_same_events(
    v: VenueConfig, plan: list[tuple[str, Any]], ms: list[int]
) -> None:
    first, second = _run(v, plan, ms), _run(v, plan, ms)
    assert [e.dumps() for e in first.events] == [e.dumps() for e in second.events]
    assert first.store.dump() == second.store.dump()


@PROPERTY
@given(venues(), plans, gaps)
def test_every_event_and_fill_is_valid_on_the_wire(
    v: VenueConfig, plan: list[tuple[str, Any]], ms: list[int]
) -> None:
    """The engine builds its events without validating them again (their fields come from
    validated ones): what it writes must still be what the schemas accept."""
    for event in _run(v, plan, ms).events:
        again = OrderEvent.model_validate_json(event.dumps())
        assert again == event and again.dumps() == event.dumps()
        if event.is_fill:
            fill = to_fill(event)
            assert Fill.model_validate_json(fill.dumps()).dumps() == fill.dumps()
