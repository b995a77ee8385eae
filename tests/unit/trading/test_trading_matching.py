"""Unit tests of app.trading.matching: the lifecycle an order goes through, step by step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.ids import fill_id_for
from app.models import OrderType, Side, TimeInForce
from app.order_state import OrderStatus
from app.trading.errors import InvalidQuote
from app.trading.events import Liquidity, ReasonCode, event_id_for
from app.trading.matching import (
    cancel,
    expire_due,
    on_quote,
    on_reference_price,
    run,
    submit,
)
from app.trading.orders import TradingOrder
from tests.unit.trading.samples import ORDER_ID, T0, D, limit, order, quote, venue, working

NY_HOURS = {"timezone": "America/New_York", "open": "09:30", "close": "16:00"}


def statuses(events: tuple[object, ...]) -> list[str]:
    return [e.status.value for e in events]  # type: ignore[attr-defined]


# -- submit --------------------------------------------------------------------------------


def test_submit_accepts_with_a_deterministic_event() -> None:
    state, events = submit(order(), venue())
    assert state.status is OrderStatus.ACCEPTED and state.events == 1
    (event,) = events
    assert event.status is OrderStatus.ACCEPTED
    assert event.event_id == event_id_for(ORDER_ID, 1)
    assert event.seq == 1 and event.leaves_quantity == D(100)
    assert event.cumulative_quantity == 0 and event.average_price is None
    assert event.event_time == T0 and event.correlation_id == "corr-0001"
    assert submit(order(), venue())[1][0].dumps() == event.dumps()


def test_submit_rejects_an_unknown_symbol() -> None:
    state, (event,) = submit(order(symbol="TSLA"), venue())
    assert state.status is OrderStatus.REJECTED
    assert event.status is OrderStatus.REJECTED
    assert event.reason_code is ReasonCode.UNKNOWN_SYMBOL
    assert "TSLA" in (event.reason or "")
    assert event.leaves_quantity == 0


def test_submit_accepts_any_symbol_when_the_venue_allows_it() -> None:
    v = venue().model_copy(update={"reject_unknown_symbols": False})
    assert submit(order(symbol="TSLA"), v).state.status is OrderStatus.ACCEPTED


@pytest.mark.parametrize(
    ("at", "ok"),
    [
        (datetime(2024, 3, 4, 14, 29, tzinfo=UTC), False),  # 09:29 New York
        (datetime(2024, 3, 4, 14, 30, tzinfo=UTC), True),  # 09:30
        (datetime(2024, 3, 4, 20, 59, tzinfo=UTC), True),  # 15:59
        (datetime(2024, 3, 4, 21, 0, tzinfo=UTC), False),  # 16:00: closed
        (datetime(2024, 3, 9, 15, 0, tzinfo=UTC), False),  # Saturday
    ],
)
def test_submit_rejects_outside_trading_hours(at: datetime, ok: bool) -> None:
    _state, (event,) = submit(order(submitted_at=at), venue(trading_hours=NY_HOURS))
    if ok:
        assert event.status is OrderStatus.ACCEPTED
    else:
        assert event.reason_code is ReasonCode.OUTSIDE_TRADING_HOURS
        assert "09:30-16:00 America/New_York" in (event.reason or "")


def test_submit_rejects_an_invalid_order_with_its_reason() -> None:
    bad = TradingOrder.model_validate(
        {**order().model_dump(), "order_type": "stop", "stop_price": D(90), "time_in_force": "ioc"}
    )
    state, (event,) = submit(bad, venue())
    assert state.status is OrderStatus.REJECTED
    assert event.reason_code is ReasonCode.INVALID_ORDER
    assert "time_in_force" in (event.reason or "")


# -- market orders -------------------------------------------------------------------------


@pytest.mark.parametrize(("side", "price"), [("buy", "100.01"), ("sell", "99.99")])
def test_market_order_fills_at_the_touch(side: str, price: str) -> None:
    state, events = run(order(side=side), [quote()], venue())
    assert statuses(events) == ["accepted", "filled"]
    fill = events[1]
    assert fill.last_price == D(price) and fill.average_price == D(price)
    assert fill.last_quantity == fill.cumulative_quantity == D(100)
    assert fill.leaves_quantity == 0 and fill.liquidity is Liquidity.TAKER
    assert fill.fill_id == fill_id_for(ORDER_ID, 1)
    assert state.status is OrderStatus.FILLED


def test_market_order_with_no_touch_waits() -> None:
    state, events = run(order(), [quote(ask=None)], venue())
    assert statuses(events) == ["accepted"] and state.is_open


def test_market_order_fills_at_the_reference_price_without_quotes() -> None:
    _state, events = run(order(reference_price="187.25"), [], venue(), use_reference=True)
    assert statuses(events) == ["accepted", "filled"]
    assert events[1].last_price == D("187.25") and events[1].event_time == T0


def test_reference_price_respects_latency() -> None:
    _, events = run(order(), [], venue(latency_ms=250), use_reference=True)
    assert events[1].event_time == T0 + timedelta(milliseconds=250)


def test_no_reference_price_no_step() -> None:
    state = working(limit("99", reference_price=None))
    assert on_reference_price(state, venue()) == (state, ())


def test_partial_fills_by_share_of_quote_size_across_steps() -> None:
    v = venue(partial={"share_of_quote_size": "0.5"})
    quotes = [quote(ask_size="80", seconds=s) for s in (1, 2, 3)]
    _state, events = run(order(), quotes, v)
    assert statuses(events) == ["accepted", "partially_filled", "partially_filled", "filled"]
    assert [e.last_quantity for e in events[1:]] == [D(40), D(40), D(20)]
    assert [e.cumulative_quantity for e in events[1:]] == [D(40), D(80), D(100)]
    assert [e.leaves_quantity for e in events[1:]] == [D(60), D(20), D(0)]
    assert [e.fill_id for e in events[1:]] == [fill_id_for(ORDER_ID, n) for n in (1, 2, 3)]
    assert [e.seq for e in events] == [1, 2, 3, 4]


def test_max_per_step_caps_each_fill() -> None:
    _, events = run(
        order(), [quote(seconds=s) for s in (1, 2)], venue(partial={"max_per_step": "60"})
    )
    assert [e.last_quantity for e in events[1:]] == [D(60), D(40)]


def test_average_price_is_volume_weighted() -> None:
    v = venue(partial={"max_per_step": "50"})
    quotes = [quote(ask="100", seconds=1), quote(ask="101", seconds=2)]
    _, events = run(order(), quotes, v)
    assert events[-1].average_price == D("100.5")
    assert events[-1].last_price == D("101")


def test_latency_ignores_quotes_before_the_order_arrives() -> None:
    v = venue(latency_ms=500)
    quotes = [quote(ask="100.01", seconds=0.2), quote(ask="100.50", seconds=0.6)]
    _, events = run(order(), quotes, v)
    assert events[1].last_price == D("100.50")
    assert events[1].event_time == T0 + timedelta(seconds=0.6)


def test_fixed_bps_slippage_is_adverse_and_rounded_to_the_tick() -> None:
    v = venue(slippage={"fixed_bps": "10"})
    _, buy = run(order(), [quote(ask="100")], v)
    _, sell = run(order(side="sell"), [quote(bid="100")], v)
    assert buy[1].last_price == D("100.10") and sell[1].last_price == D("99.90")


def test_prob_slippage_one_moves_one_tick() -> None:
    _, events = run(order(), [quote(ask="100")], venue(slippage={"prob_slippage": "1"}))
    assert events[1].last_price == D("100.01")


# -- limit orders --------------------------------------------------------------------------


def test_marketable_limit_fills_at_the_touch_as_taker() -> None:
    _, events = run(limit("101"), [quote(ask="100.50")], venue())
    assert events[1].last_price == D("100.50") and events[1].liquidity is Liquidity.TAKER


def test_marketable_limit_slippage_stops_at_the_limit() -> None:
    _, events = run(limit("100.55"), [quote(ask="100.50")], venue(slippage={"fixed_bps": "50"}))
    assert events[1].last_price == D("100.55")


def test_limit_rests_until_the_market_crosses_then_fills_at_its_limit() -> None:
    quotes = [
        quote(ask="100.50", seconds=1),
        quote(ask="100.20", seconds=2),
        quote(ask="99.50", seconds=3),
    ]
    state, events = run(limit("100"), quotes, venue())
    assert statuses(events) == ["accepted", "filled"]
    assert events[1].last_price == D(100) and events[1].liquidity is Liquidity.MAKER
    assert events[1].event_time == T0 + timedelta(seconds=3)
    assert state.resting


def test_sell_limit_rests_until_the_bid_reaches_it() -> None:
    quotes = [quote(bid="99", seconds=1), quote(bid="101", ask="101.5", seconds=2)]
    _, events = run(limit("100.5", side="sell"), quotes, venue())
    assert events[1].last_price == D("100.5")


def test_last_trade_through_the_limit_fills_a_resting_order() -> None:
    quotes = [quote(ask="100.50", seconds=1), quote(ask="100.50", last="99.90", seconds=2)]
    _, events = run(limit("100"), quotes, venue())
    assert statuses(events) == ["accepted", "filled"]


@pytest.mark.parametrize(("prob", "fills"), [("0", False), ("1", True)])
def test_touched_limit_fills_with_prob_fill_on_limit(prob: str, fills: bool) -> None:
    quotes = [quote(ask="100.50", seconds=1), quote(ask="100", seconds=2)]
    state, _events = run(limit("100"), quotes, venue(prob_fill_on_limit=prob))
    assert (state.status is OrderStatus.FILLED) is fills
    crossed = [*quotes, quote(ask="99.99", seconds=3)]
    assert (
        run(limit("100"), crossed, venue(prob_fill_on_limit="0")).state.status is OrderStatus.FILLED
    )


def test_half_probability_fills_some_touched_orders_deterministically() -> None:
    v = venue(prob_fill_on_limit="0.5")
    quotes = [quote(ask="100.50", seconds=1), quote(ask="100", seconds=2)]
    results = []
    for n in range(200):
        o = limit("100", order_id=f"00000000-0000-4000-8000-{n:012d}")
        results.append(run(o, quotes, v).state.status is OrderStatus.FILLED)
        assert run(o, quotes, v).state.status is (
            OrderStatus.FILLED if results[-1] else OrderStatus.ACCEPTED
        )
    assert 60 < sum(results) < 140


# -- stops ---------------------------------------------------------------------------------


def test_buy_stop_triggers_when_the_ask_reaches_it_then_fills_at_market() -> None:
    o = order(order_type="stop", stop_price="101", reference_price=None)
    quotes = [quote(ask="100.50", seconds=1), quote(bid="101.00", ask="101.02", seconds=2)]
    state, events = run(o, quotes, venue())
    assert statuses(events) == ["accepted", "filled"]
    assert events[1].last_price == D("101.02") and state.triggered


def test_sell_stop_triggers_on_the_last_trade() -> None:
    o = order(order_type="stop", side="sell", stop_price="95", reference_price=None)
    quotes = [
        quote(bid="96", ask="96.1", seconds=1),
        quote(bid="96", ask="96.1", last="95", seconds=2),
    ]
    _, events = run(o, quotes, venue())
    assert statuses(events) == ["accepted", "filled"] and events[1].last_price == D(96)


def test_stop_limit_triggers_then_rests_at_its_limit() -> None:
    o = order(order_type="stop_limit", stop_price="101", limit_price="101.10", reference_price=None)
    quotes = [
        quote(bid="101.20", ask="101.30", seconds=1),  # triggers, not marketable at 101.10
        quote(bid="101.15", ask="101.25", seconds=2),
        quote(bid="101.00", ask="101.05", seconds=3),  # crosses the resting limit
    ]
    _state, events = run(o, quotes, venue())
    assert statuses(events) == ["accepted", "filled"]
    assert events[1].last_price == D("101.10") and events[1].liquidity is Liquidity.MAKER
    assert events[1].event_time == T0 + timedelta(seconds=3)


def test_untriggered_stop_does_not_fill() -> None:
    o = order(order_type="stop", stop_price="105", reference_price=None)
    state, events = run(o, [quote(seconds=s) for s in (1, 2, 3)], venue())
    assert statuses(events) == ["accepted"] and not state.triggered and state.steps == 3


# -- IOC / FOK -----------------------------------------------------------------------------


def test_ioc_fills_what_it_can_and_cancels_the_rest() -> None:
    v = venue(partial={"share_of_quote_size": "1"})
    state, events = run(order(time_in_force="ioc"), [quote(ask_size="30")], v)
    assert statuses(events) == ["accepted", "partially_filled", "cancelled"]
    assert events[2].reason_code is ReasonCode.IOC_REMAINDER
    assert events[2].cumulative_quantity == D(30) and events[2].leaves_quantity == 0
    assert state.status is OrderStatus.CANCELLED


def test_ioc_limit_not_marketable_is_cancelled_at_once() -> None:
    _, events = run(limit("99", time_in_force="ioc"), [quote()], venue())
    assert statuses(events) == ["accepted", "cancelled"]


def test_fok_fills_completely() -> None:
    v = venue(partial={"share_of_quote_size": "1"})
    _, events = run(order(time_in_force="fok"), [quote(ask_size="100")], v)
    assert statuses(events) == ["accepted", "filled"]


def test_fok_that_cannot_fill_completely_is_cancelled_without_a_fill() -> None:
    v = venue(partial={"share_of_quote_size": "1"})
    state, events = run(order(time_in_force="fok"), [quote(ask_size="99")], v)
    assert statuses(events) == ["accepted", "cancelled"]
    assert events[1].reason_code is ReasonCode.FOK_NOT_FILLABLE
    assert state.cumulative_quantity == 0


# -- day orders, market hours, cancel ------------------------------------------------------


def test_day_order_expires_at_the_session_close() -> None:
    v = venue(trading_hours=NY_HOURS)
    o = limit("90", time_in_force="day")
    close = datetime(2024, 3, 4, 21, 0, tzinfo=UTC)
    _state, events = run(o, [quote(seconds=1), quote(at=close + timedelta(minutes=5))], v)
    assert statuses(events) == ["accepted", "expired"]
    assert events[1].reason_code is ReasonCode.SESSION_END
    assert expire_due(working(o), close - timedelta(seconds=1), v).events == ()
    expired = expire_due(working(o), close, v)
    assert expired.events[0].event_time == close
    assert expire_due(expired.state, close, v).events == ()


def test_day_order_without_hours_expires_at_midnight_utc() -> None:
    o = limit("90", time_in_force="day")
    midnight = datetime(2024, 3, 5, tzinfo=UTC)
    assert expire_due(working(o), midnight, venue()).state.status is OrderStatus.EXPIRED


def test_gtc_order_never_expires() -> None:
    state = working(limit("90"))
    assert expire_due(state, T0 + timedelta(days=30), venue()).events == ()


def test_resting_gtc_order_does_not_match_while_the_market_is_closed() -> None:
    v = venue(trading_hours=NY_HOURS)
    night = datetime(2024, 3, 5, 2, 0, tzinfo=UTC)
    state, events = on_quote(working(limit("100")), quote(ask="99", at=night), v)
    assert events == () and state.steps == 0


def test_cancel_is_idempotent_and_keeps_fills() -> None:
    v = venue(partial={"max_per_step": "40"})
    state, _ = run(order(), [quote()], v)
    assert state.status is OrderStatus.PARTIALLY_FILLED
    done, (event,) = cancel(state, T0 + timedelta(seconds=5))
    assert (
        event.status is OrderStatus.CANCELLED and event.reason_code is ReasonCode.CANCEL_REQUESTED
    )
    assert event.cumulative_quantity == D(40) and event.leaves_quantity == 0
    assert cancel(done, T0 + timedelta(seconds=6)) == (done, ())
    assert on_quote(done, quote(seconds=7), v) == (done, ())


def test_quote_of_another_symbol_is_refused() -> None:
    with pytest.raises(InvalidQuote, match="MSFT"):
        on_quote(working(order()), quote(symbol="MSFT"), venue())


def test_fees_accumulate_with_a_per_order_minimum() -> None:
    v = venue(partial={"max_per_step": "50"}, fees={"per_share": "0.005", "minimum": "1"})
    _, events = run(order(quantity="300"), [quote(seconds=s) for s in range(1, 7)], v)
    fills = [e for e in events if e.is_fill]
    assert [e.commission for e in fills] == [D(1), 0, 0, 0, D("0.25"), D("0.25")]
    assert fills[-1].cumulative_commission == D("1.5")


def test_working_order_round_trips() -> None:
    state, _ = run(order(), [quote()], venue(partial={"max_per_step": "10"}))
    again = type(state).loads(state.dumps())
    assert again == state and again.dumps() == state.dumps()


def test_types_are_the_wire_vocabulary() -> None:
    o = order()
    assert o.order_type is OrderType.MARKET and o.time_in_force is TimeInForce.GTC
    assert o.side is Side.BUY
