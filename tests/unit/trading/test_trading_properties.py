"""Property tests (hypothesis) of the fill simulator: invariants over random orders,
markets and model parameters."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.models import OrderType, Side, TimeInForce
from app.order_state import OrderStatus
from app.positions import replay
from app.trading.events import OrderEvent, to_fill
from app.trading.matching import Step, run
from app.trading.orders import TradingOrder
from app.trading.quotes import Quote
from app.trading.venue_config import VenueConfig
from tests.unit.trading.samples import T0, order, venue_configs

# Each example simulates a whole order against up to 10 quotes: fewer examples than the
# project's usual 200 keep the unit suite fast; together the properties run ~700 orders.
PROPERTY = settings(max_examples=80, deadline=None, database=None)

CENT = Decimal("0.01")
prices = st.integers(9_000, 11_000).map(lambda c: Decimal(c) * CENT)
probabilities = st.sampled_from(["0", "0.25", "0.5", "0.9", "1"])


@st.composite
def orders(draw: st.DrawFn, order_id: str | None = None) -> TradingOrder:
    kind = draw(st.sampled_from(list(OrderType)))
    stops = kind in (OrderType.STOP, OrderType.STOP_LIMIT)
    tifs = [TimeInForce.GTC, TimeInForce.DAY] if stops else list(TimeInForce)
    fields: dict[str, Any] = {
        "side": draw(st.sampled_from(list(Side))),
        "quantity": Decimal(draw(st.integers(1, 500))),
        "order_type": kind,
        "time_in_force": draw(st.sampled_from(tifs)),
        "reference_price": draw(prices),
    }
    if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        fields["limit_price"] = draw(prices)
    if stops:
        fields["stop_price"] = draw(prices)
    if order_id is not None:
        fields["order_id"] = order_id
    return order(**fields)


SIZES = st.none() | st.integers(0, 400).map(Decimal)
QUOTE_PARTS = st.tuples(
    st.integers(1, 400),  # ms since the previous quote
    prices,  # bid
    st.integers(0, 40),  # spread in cents
    st.booleans(),  # has a bid
    st.booleans(),  # has an ask
    st.none() | prices,  # last
    SIZES,
    SIZES,
)


@st.composite
def quotes(draw: st.DrawFn) -> list[Quote]:
    out = []
    at = T0
    for ms, bid, spread, has_bid, has_ask, last, bid_size, ask_size in draw(
        st.lists(QUOTE_PARTS, max_size=10)
    ):
        at += timedelta(milliseconds=ms)
        out.append(
            Quote(
                symbol="AAPL",
                bid=bid if has_bid else None,
                ask=bid + spread * CENT if has_ask else None,
                last=last,
                bid_size=bid_size,
                ask_size=ask_size,
                at=at,
            )
        )
    return out


def venues() -> st.SearchStrategy[VenueConfig]:
    return venue_configs(
        probabilities=probabilities,
        shares=["0.1", "0.5", "1"],
        max_step=300,
        latencies=[0, 100, 1000],
        increments=[None, "1", "0.5"],
        fixed_bps=["0", "1", "25"],
    )


def fills(events: tuple[OrderEvent, ...]) -> list[OrderEvent]:
    return [e for e in events if e.is_fill]


def simulate(o: TradingOrder, qs: list[Quote], v: VenueConfig, ref: bool) -> Step:
    return run(o, qs, v, use_reference=ref)


@PROPERTY
@given(orders(), quotes(), venues(), st.booleans())
def test_filled_never_exceeds_ordered(
    o: TradingOrder, qs: list[Quote], v: VenueConfig, ref: bool
) -> None:
    state, events = simulate(o, qs, v, ref)
    total = Decimal(0)
    for event in events:
        total += event.last_quantity
        assert event.cumulative_quantity == total <= o.quantity
        if event.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
            assert event.leaves_quantity == o.quantity - total
    assert state.cumulative_quantity == total
    assert (state.status is OrderStatus.FILLED) == (total == o.quantity)


@PROPERTY
@given(orders(), quotes(), venues(), st.booleans())
def test_events_are_ordered_unique_and_end_at_a_terminal_status(
    o: TradingOrder, qs: list[Quote], v: VenueConfig, ref: bool
) -> None:
    _, events = simulate(o, qs, v, ref)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert len({e.event_id for e in events}) == len(events)
    ids = [e.fill_id for e in fills(events)]
    assert len(set(ids)) == len(ids)
    terminal = [i for i, e in enumerate(events) if e.status.terminal]
    assert terminal in ([], [len(events) - 1])
    times = [e.event_time for e in events]
    assert times == sorted(times)


@PROPERTY
@given(st.lists(orders(), min_size=1, max_size=4), quotes(), venues())
def test_a_position_equals_the_signed_sum_of_its_fills(
    os: list[TradingOrder], qs: list[Quote], v: VenueConfig
) -> None:
    all_fills = []
    expected = Decimal(0)
    for n, o in enumerate(os):
        o = o.model_copy(update={"order_id": f"00000000-0000-4000-8000-{n:012d}"})
        for event in fills(simulate(o, qs, v, True).events):
            all_fills.append(to_fill(event))
            expected += event.last_quantity if o.side is Side.BUY else -event.last_quantity
    position = replay(all_fills)
    assert (position.quantity if position else Decimal(0)) == expected


@PROPERTY
@given(orders(), quotes(), venues(), st.booleans())
def test_fees_are_never_negative(
    o: TradingOrder, qs: list[Quote], v: VenueConfig, ref: bool
) -> None:
    _, events = simulate(o, qs, v, ref)
    running = Decimal(0)
    for event in events:
        assert event.commission >= 0
        running += event.commission
        assert event.cumulative_commission == running


@PROPERTY
@given(orders(), quotes(), venues(), st.booleans())
def test_ioc_never_rests(o: TradingOrder, qs: list[Quote], v: VenueConfig, ref: bool) -> None:
    o = o.model_copy(update={"time_in_force": TimeInForce.IOC})
    if o.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        return  # refused by validation: tested in test_trading_orders
    state, events = simulate(o, qs, v, ref)
    if state.steps > 0:
        assert not state.is_open
        # everything after "accepted" happened in one step, at one time
        assert len({e.event_time for e in events[1:]}) == 1
    else:
        assert len(events) == 1  # no quote reached it yet: only accepted


@PROPERTY
@given(orders(), quotes(), venues(), st.booleans())
def test_fok_fills_fully_or_not_at_all(
    o: TradingOrder, qs: list[Quote], v: VenueConfig, ref: bool
) -> None:
    o = o.model_copy(update={"time_in_force": TimeInForce.FOK})
    if o.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        return
    state, events = simulate(o, qs, v, ref)
    assert state.cumulative_quantity in (Decimal(0), o.quantity)
    assert len(fills(events)) <= 1
    if state.steps > 0:
        assert state.status in (OrderStatus.FILLED, OrderStatus.CANCELLED)


@PROPERTY
@given(orders(), quotes(), venues(), st.booleans())
def test_a_limit_never_fills_beyond_its_limit(
    o: TradingOrder, qs: list[Quote], v: VenueConfig, ref: bool
) -> None:
    _, events = simulate(o, qs, v, ref)
    if o.limit_price is None:
        return
    for event in fills(events):
        assert event.last_price is not None
        if o.side is Side.BUY:
            assert event.last_price <= o.limit_price
        else:
            assert event.last_price >= o.limit_price


@PROPERTY
@given(orders(), quotes(), venues(), st.booleans())
def test_same_inputs_and_seed_same_output_byte_for_byte(
    o: TradingOrder, qs: list[Quote], v: VenueConfig, ref: bool
) -> None:
    first = simulate(o, qs, v, ref)
    again = simulate(
        TradingOrder.model_validate_json(o.model_dump_json()),
        [Quote.model_validate_json(q.dumps()) for q in qs],
        VenueConfig.model_validate_json(v.model_dump_json()),
        ref,
    )
    assert [e.dumps() for e in again.events] == [e.dumps() for e in first.events]
    assert again.state.dumps() == first.state.dumps()


@PROPERTY
@given(orders(), quotes(), venues(), st.booleans())
def test_nothing_fills_before_the_latency(
    o: TradingOrder, qs: list[Quote], v: VenueConfig, ref: bool
) -> None:
    _, events = simulate(o, qs, v, ref)
    arrival = o.submitted_at + timedelta(milliseconds=v.defaults.latency_ms)
    assert all(e.event_time >= arrival for e in fills(events))
