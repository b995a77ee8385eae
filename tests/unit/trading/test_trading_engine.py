"""Unit tests of app.trading.engine: commands of ``orders`` through ``handle``, against an
in-memory store, and the lifecycle events they cause."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.ids import fill_id_for
from app.models import Intent, TimeInForce
from app.order_state import OrderStatus
from app.trading.commands import Command
from app.trading.engine import Book, Engine, handle
from app.trading.events import Liquidity, ReasonCode
from app.trading.risk import RiskConfig
from app.trading.trading_state import GLOBAL, TradingState
from app.trading.venue_config import VenueConfig
from tests.unit.trading.engine_store import (
    MemoryStore,
    cancel_cmd,
    engine,
    fills,
    limit_cmd,
    order_cmd,
    order_id,
    run,
    signed_fills,
    state_change,
    statuses,
    target_cmd,
    tick,
)
from tests.unit.trading.samples import CORRELATION, T0, D, venue

ENGINE = engine()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def only_open(store: MemoryStore, symbol: str = "AAPL") -> list[str]:
    return [w.order_id for w in store.book(symbol).open]


# -- orders: fill at once or rest --------------------------------------------------------


def test_a_market_order_with_a_reference_price_fills_at_once() -> None:
    store = MemoryStore()
    outcome = handle(store, ENGINE, order_cmd(1), CORRELATION)
    accepted, filled = outcome.events
    assert outcome.note is None
    assert accepted.status is OrderStatus.ACCEPTED and accepted.seq == 1
    assert filled.status is OrderStatus.FILLED and filled.seq == 2
    assert filled.fill_id == fill_id_for(order_id(1), 1)
    assert filled.last_quantity == D(10) and filled.last_price == D(100)
    assert filled.liquidity is Liquidity.TAKER and filled.leaves_quantity == 0
    assert filled.correlation_id == CORRELATION
    assert store.held() == D(10)
    assert only_open(store) == []


def test_a_market_order_takes_the_last_quote_over_its_reference_price() -> None:
    store = MemoryStore()
    assert run(store, ENGINE, [tick("100.50", "100.60", 1)]) == []
    (_, filled) = run(store, ENGINE, [order_cmd(1, created_at=at(2))])
    assert filled.last_price == D("100.60")  # a buy takes the ask
    assert filled.event_time == at(2)  # the order's eligible time, after the quote's
    (_, sold) = run(store, ENGINE, [order_cmd(2, side="sell", created_at=at(3))])
    assert sold.last_price == D("100.50")  # a sell takes the bid
    assert store.held() == D(0)


def test_a_limit_below_the_market_rests_then_fills_at_its_limit_as_maker() -> None:
    store = MemoryStore()
    (accepted,) = run(store, ENGINE, [limit_cmd(1, "99")])  # reference 100: not marketable
    assert accepted.status is OrderStatus.ACCEPTED
    assert only_open(store) == [order_id(1)]
    assert run(store, ENGINE, [tick("99.50", "99.60", 1)]) == []  # above the limit
    assert only_open(store) == [order_id(1)]
    (filled,) = run(store, ENGINE, [tick("98.40", "98.50", 2)])  # the ask crosses 99
    assert filled.status is OrderStatus.FILLED
    assert filled.last_price == D(99) and filled.liquidity is Liquidity.MAKER
    assert filled.fill_id == fill_id_for(order_id(1), 1)
    assert filled.event_time == at(2)
    assert only_open(store) == []
    assert store.held() == D(10)


def test_a_limit_rests_against_the_book_quote_then_fills_as_maker() -> None:
    store = MemoryStore()
    run(store, ENGINE, [tick("99.90", "100.10", 1)])
    (accepted,) = run(store, ENGINE, [limit_cmd(1, "99", price=None, created_at=at(2))])
    assert accepted.status is OrderStatus.ACCEPTED
    (filled,) = run(store, ENGINE, [tick("98", "98.50", 3)])
    assert (filled.last_price, filled.liquidity) == (D(99), Liquidity.MAKER)


def test_a_quote_applied_twice_is_skipped() -> None:
    store = MemoryStore()
    run(store, ENGINE, [tick("99.90", "100.10", 5)])
    run(store, ENGINE, [limit_cmd(1, "99", price=None)])
    crossing = tick("98", "98.50", 5)  # another copy of offset 5 of the same partition
    outcome = handle(store, ENGINE, crossing, CORRELATION)
    assert outcome.events == ()
    assert outcome.note is not None and "applied before" in outcome.note
    older = handle(store, ENGINE, tick("98", "98.50", 4), CORRELATION)
    assert older.events == () and older.note is not None
    book = store.book("AAPL")
    assert book.quote_from == (0, 5) and book.quote is not None
    assert book.quote.ask == D("100.10")  # the first copy's quote stays
    assert only_open(store) == [order_id(1)]
    (filled,) = run(store, ENGINE, [tick("98", "98.50", 6)])
    assert filled.status is OrderStatus.FILLED


@pytest.mark.parametrize(
    ("partial", "book_first"),
    [({"share_of_quote_size": "0.5"}, True), ({"max_per_step": "4"}, False)],
    ids=["share_of_quote_size", "max_per_step"],
)
def test_an_ioc_fills_what_it_can_and_cancels_the_rest(
    partial: dict[str, str], book_first: bool
) -> None:
    eng = engine(venue(partial=partial))
    store = MemoryStore()
    if book_first:  # 8 offered at the ask: half of it may fill
        run(store, eng, [tick("99.90", "100", 1, ask_size="8")])
    ioc = order_cmd(1, time_in_force="ioc", created_at=at(2))
    accepted, partly, cancelled = run(store, eng, [ioc])
    assert accepted.status is OrderStatus.ACCEPTED
    assert partly.status is OrderStatus.PARTIALLY_FILLED
    assert partly.last_quantity == D(4) and partly.last_price == D(100)
    assert partly.fill_id == fill_id_for(order_id(1), 1)
    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.reason_code is ReasonCode.IOC_REMAINDER
    assert cancelled.cumulative_quantity == D(4) and cancelled.leaves_quantity == 0
    assert only_open(store) == []
    assert store.held() == D(4)


def test_a_fok_that_cannot_fill_at_once_is_cancelled_without_a_fill() -> None:
    eng = engine(venue(partial={"max_per_step": "5"}))
    store = MemoryStore()
    events = run(store, eng, [order_cmd(1, time_in_force="fok")])
    assert statuses(events) == ["accepted", "cancelled"]
    assert events[1].reason_code is ReasonCode.FOK_NOT_FILLABLE
    assert events[1].cumulative_quantity == 0
    assert fills(events) == [] and store.holding("acct-1", "AAPL") is None
    assert only_open(store) == []


def test_a_fok_that_can_fill_fills_completely() -> None:
    eng = engine(venue(partial={"max_per_step": "10"}))
    events = run(MemoryStore(), eng, [order_cmd(1, time_in_force="fok")])
    assert statuses(events) == ["accepted", "filled"]


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (order_cmd(1, time_in_force="ioc", price=None), ReasonCode.IOC_REMAINDER),
        (limit_cmd(1, "99", time_in_force="ioc", price=None), ReasonCode.IOC_REMAINDER),
        (order_cmd(1, time_in_force="fok", price=None), ReasonCode.FOK_NOT_FILLABLE),
    ],
    ids=["ioc-market", "ioc-limit", "fok-market"],
)
def test_an_immediate_order_with_nothing_to_match_is_cancelled_at_once(
    command: Command, code: ReasonCode
) -> None:
    store = MemoryStore()
    accepted, cancelled = run(store, ENGINE, [command])
    assert accepted.status is OrderStatus.ACCEPTED
    assert cancelled.status is OrderStatus.CANCELLED and cancelled.reason_code is code
    assert cancelled.seq == 2 and cancelled.leaves_quantity == 0
    assert only_open(store) == []  # it never rests
    assert run(store, ENGINE, [tick("90", "90.01", 1)]) == []  # a later quote finds nothing


def test_a_market_order_with_no_price_rests_until_a_quote_comes() -> None:
    store = MemoryStore()
    (accepted,) = run(store, ENGINE, [order_cmd(1, price=None)])
    assert accepted.status is OrderStatus.ACCEPTED
    (filled,) = run(store, ENGINE, [tick("101", "101.05", 1)])
    assert filled.last_price == D("101.05")


@pytest.mark.parametrize(
    ("side", "stop", "miss", "reach", "price"),
    [
        ("sell", "95", ("96", "96.10"), ("94.90", "95"), "94.90"),
        ("buy", "105", ("104", "104.10"), ("104.90", "105.10"), "105.10"),
    ],
)
def test_a_stop_triggers_when_a_quote_reaches_it(
    side: str, stop: str, miss: tuple[str, str], reach: tuple[str, str], price: str
) -> None:
    store = MemoryStore()
    stop_order = order_cmd(1, side=side, order_type="stop", stop_price=stop)
    (accepted,) = run(store, ENGINE, [stop_order])  # reference 100: not reached
    assert accepted.status is OrderStatus.ACCEPTED
    assert run(store, ENGINE, [tick(*miss, 1)]) == []
    assert only_open(store) == [order_id(1)]
    (filled,) = run(store, ENGINE, [tick(*reach, 2)])
    assert filled.status is OrderStatus.FILLED
    assert filled.last_price == D(price) and filled.liquidity is Liquidity.TAKER
    assert only_open(store) == []


def test_a_duplicate_order_id_executes_once() -> None:
    store = MemoryStore()
    first = handle(store, ENGINE, order_cmd(1), CORRELATION)
    again = handle(store, ENGINE, order_cmd(1), CORRELATION)
    assert statuses(first.events) == ["accepted", "filled"]
    assert again.events == ()
    assert again.note is not None and order_id(1) in again.note
    assert store.held() == D(10)


def test_a_duplicate_of_a_resting_order_does_not_rest_twice() -> None:
    store = MemoryStore()
    run(store, ENGINE, [limit_cmd(1, "99"), limit_cmd(1, "99")])
    assert only_open(store) == [order_id(1)]


def test_the_book_round_trips_through_its_bytes() -> None:
    store = MemoryStore()
    run(store, ENGINE, [tick("99", "99.10", 1), limit_cmd(1, "98", created_at=at(2))])
    book = store.book("AAPL")
    assert Book.model_validate_json(book.dumps()) == book
    assert book.open[0].resting


# -- targets --------------------------------------------------------------------------


def test_targets_trade_the_delta_from_the_executed_position() -> None:
    store = MemoryStore()
    (_, bought) = run(store, ENGINE, [target_cmd(1, 10)])
    assert (bought.side.value, bought.last_quantity) == ("buy", D(10))
    assert bought.order_id == order_id(1)
    assert store.held() == D(10)

    repeat = handle(store, ENGINE, target_cmd(2, 10), CORRELATION)
    assert repeat.events == ()
    assert repeat.note is not None and "10" in repeat.note

    (_, sold) = run(store, ENGINE, [target_cmd(3, -5, created_at=at(1))])
    assert (sold.side.value, sold.last_quantity) == ("sell", D(15))
    assert store.held() == D(-5)

    close = target_cmd(4, 0, intent=Intent.CLOSE, created_at=at(2))
    (_, flattened) = run(store, ENGINE, [close])
    assert (flattened.side.value, flattened.last_quantity) == ("buy", D(5))
    assert store.held() == D(0)
    assert handle(store, ENGINE, target_cmd(5, 0, intent=Intent.CLOSE), CORRELATION).events == ()


def test_a_target_counts_the_accounts_open_orders() -> None:
    store = MemoryStore()
    run(store, ENGINE, [limit_cmd(1, "90")])  # a resting buy of 10
    other = limit_cmd(2, "90", account="acct-2")  # another account's order does not count
    run(store, ENGINE, [other])
    assert len(only_open(store)) == 2
    nothing = handle(store, ENGINE, target_cmd(3, 10), CORRELATION)
    assert nothing.events == () and nothing.note is not None
    (_, more) = run(store, ENGINE, [target_cmd(4, 15)])
    assert more.last_quantity == D(5)
    assert store.held() == D(5)  # + 10 still resting: at 15


def test_a_duplicate_target_is_executed_once() -> None:
    store = MemoryStore()
    run(store, ENGINE, [target_cmd(1, 10)])
    run(store, ENGINE, [order_cmd(2, side="sell", quantity="10")])  # back to flat
    again = handle(store, ENGINE, target_cmd(1, 10), CORRELATION)
    assert again.events == () and again.note is not None and "seen before" in again.note
    assert store.held() == D(0)


# -- cancels --------------------------------------------------------------------------


def test_a_cancel_cancels_a_resting_order_once() -> None:
    store = MemoryStore()
    run(store, ENGINE, [limit_cmd(1, "99")])
    (cancelled,) = run(store, ENGINE, [cancel_cmd(order_id(1))])
    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.reason_code is ReasonCode.CANCEL_REQUESTED
    assert cancelled.seq == 2 and cancelled.leaves_quantity == 0
    assert only_open(store) == []
    again = handle(store, ENGINE, cancel_cmd(order_id(1)), CORRELATION)
    assert again.events == () and again.note is not None
    assert run(store, ENGINE, [tick("97", "98", 1)]) == []  # nothing left to fill


def test_a_cancel_keeps_the_fills_of_a_partly_filled_order() -> None:
    eng = engine(venue(partial={"max_per_step": "4"}))
    store = MemoryStore()
    run(store, eng, [limit_cmd(1, "99"), tick("98", "98.50", 1)])
    assert store.held() == D(4)
    (cancelled,) = run(store, eng, [cancel_cmd(order_id(1))])
    assert cancelled.cumulative_quantity == D(4)
    assert store.held() == D(4)


def test_a_cancel_of_an_order_never_seen_does_nothing() -> None:
    store = MemoryStore()
    outcome = handle(store, ENGINE, cancel_cmd(order_id(9)), CORRELATION)
    assert outcome.events == () and outcome.note is not None


# -- kill switch ----------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["acct-1", GLOBAL])
def test_halted_rejects_the_next_order(scope: str) -> None:
    store = MemoryStore()
    changed = handle(store, ENGINE, state_change(scope, TradingState.HALTED), CORRELATION)
    assert changed.events == () and changed.note is not None
    (rejected,) = run(store, ENGINE, [order_cmd(1, created_at=at(2))])
    assert rejected.status is OrderStatus.REJECTED
    assert rejected.reason_code is ReasonCode.TRADING_HALTED
    assert store.holding("acct-1", "AAPL") is None
    other = run(store, ENGINE, [order_cmd(2, account="acct-2", created_at=at(2))])
    expected = ["rejected"] if scope == GLOBAL else ["accepted", "filled"]
    assert statuses(other) == expected


def test_a_halt_is_lifted_by_a_newer_change_only() -> None:
    store = MemoryStore()
    run(store, ENGINE, [state_change("acct-1", TradingState.HALTED, 2)])
    stale = handle(store, ENGINE, state_change("acct-1", TradingState.ACTIVE, 1), CORRELATION)
    assert stale.note is not None and "applied before" in stale.note
    assert statuses(run(store, ENGINE, [order_cmd(1, created_at=at(3))])) == ["rejected"]
    run(store, ENGINE, [state_change("acct-1", TradingState.ACTIVE, 4)])
    assert statuses(run(store, ENGINE, [order_cmd(2, created_at=at(5))])) == [
        "accepted",
        "filled",
    ]


def test_reducing_lets_reducing_orders_through_only() -> None:
    store = MemoryStore()
    run(store, ENGINE, [order_cmd(1)])  # long 10
    run(store, ENGINE, [state_change("acct-1", TradingState.REDUCING, 1)])
    (opening,) = run(store, ENGINE, [order_cmd(2, created_at=at(2))])
    assert opening.reason_code is ReasonCode.REDUCING_ONLY
    (crossing,) = run(store, ENGINE, [order_cmd(3, side="sell", quantity="20", created_at=at(3))])
    assert crossing.reason_code is ReasonCode.REDUCING_ONLY
    reducing = run(store, ENGINE, [order_cmd(4, side="sell", quantity="4", created_at=at(4))])
    assert statuses(reducing) == ["accepted", "filled"]
    assert store.held() == D(6)


# -- risk and venue rejects -----------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "overrides", "code"),
    [
        ({"max_order_notional": "500"}, {}, ReasonCode.MAX_ORDER_NOTIONAL),
        ({"max_position": "5"}, {}, ReasonCode.MAX_POSITION_SYMBOL),
        ({"max_position_by_symbol": {"AAPL": "9"}}, {}, ReasonCode.MAX_POSITION_SYMBOL),
        ({"deny_symbols": ["AAPL"]}, {}, ReasonCode.SYMBOL_DENIED),
        ({"allow_symbols": ["MSFT"]}, {}, ReasonCode.SYMBOL_NOT_ALLOWED),
        ({"max_order_notional": "500"}, {"price": None}, ReasonCode.NO_PRICE),
    ],
    ids=lambda v: v.value if isinstance(v, ReasonCode) else None,
)
def test_risk_rejects_through_the_engine(
    limits: dict[str, Any], overrides: dict[str, Any], code: ReasonCode
) -> None:
    store = MemoryStore()
    (rejected,) = run(store, engine(**limits), [order_cmd(1, **overrides)])
    assert rejected.status is OrderStatus.REJECTED and rejected.reason_code is code
    assert rejected.seq == 1 and rejected.leaves_quantity == 0
    assert only_open(store) == [] and store.holding("acct-1", "AAPL") is None


def test_max_order_notional_values_the_order_at_the_quote() -> None:
    store = MemoryStore()
    eng = engine(max_order_notional="1050")
    run(store, eng, [tick("104.90", "105.10", 1)])  # 10 x 105.10 > 1050 (reference: 1000)
    (rejected,) = run(store, eng, [order_cmd(1, created_at=at(2))])
    assert rejected.reason_code is ReasonCode.MAX_ORDER_NOTIONAL


def test_max_position_counts_the_executed_position() -> None:
    store = MemoryStore()
    eng = engine(max_position="15")
    assert statuses(run(store, eng, [order_cmd(1)])) == ["accepted", "filled"]
    (rejected,) = run(store, eng, [order_cmd(2, created_at=at(1))])
    assert rejected.reason_code is ReasonCode.MAX_POSITION_SYMBOL
    sell = run(store, eng, [order_cmd(3, side="sell", created_at=at(2))])
    assert statuses(sell) == ["accepted", "filled"]  # reducing passes


def test_max_order_rate_counts_orders_within_one_second() -> None:
    store = MemoryStore()
    eng = engine(max_orders_per_second=2)
    times = [0, 0.3, 0.6, 1.5]
    events = [run(store, eng, [order_cmd(n, created_at=at(s))]) for n, s in enumerate(times)]
    assert statuses(events[0]) == statuses(events[1]) == ["accepted", "filled"]
    (rejected,) = events[2]
    assert rejected.reason_code is ReasonCode.MAX_ORDER_RATE
    assert statuses(events[3]) == ["accepted", "filled"]  # 0 and 0.3 are over 1 s ago


def test_risk_limits_per_account() -> None:
    risk = RiskConfig.model_validate(
        {"default": {"max_position": "5"}, "accounts": {"acct-2": {"max_position": "50"}}}
    )
    eng = Engine(venue=venue(), risk=risk)
    store = MemoryStore()
    (rejected,) = run(store, eng, [order_cmd(1)])
    assert rejected.reason_code is ReasonCode.MAX_POSITION_SYMBOL
    assert statuses(run(store, eng, [order_cmd(2, account="acct-2")])) == ["accepted", "filled"]


def test_the_venue_rejects_an_unknown_symbol() -> None:
    store = MemoryStore()
    (rejected,) = run(store, ENGINE, [order_cmd(1, symbol="TSLA")])
    assert rejected.reason_code is ReasonCode.UNKNOWN_SYMBOL
    assert only_open(store, "TSLA") == []
    lenient = engine(VenueConfig(reject_unknown_symbols=False))
    assert statuses(run(MemoryStore(), lenient, [order_cmd(1, symbol="TSLA")])) == [
        "accepted",
        "filled",
    ]


@pytest.mark.parametrize(
    "overrides",
    [
        {"order_type": "stop", "stop_price": "95", "time_in_force": "ioc"},
        {"order_type": "stop", "stop_price": "95", "time_in_force": "fok"},
        {"order_type": "limit"},  # no limit price
        {"order_type": "market", "limit_price": "99"},
    ],
    ids=["stop-ioc", "stop-fok", "limit-without-price", "market-with-limit"],
)
def test_an_invalid_order_is_rejected(overrides: dict[str, Any]) -> None:
    store = MemoryStore()
    (rejected,) = run(store, ENGINE, [order_cmd(1, **overrides)])
    assert rejected.status is OrderStatus.REJECTED
    assert rejected.reason_code is ReasonCode.INVALID_ORDER
    assert rejected.reason
    assert only_open(store) == []
    assert handle(store, ENGINE, order_cmd(1, **overrides), CORRELATION).events == ()


def test_a_day_order_expires_at_the_session_end() -> None:
    store = MemoryStore()
    run(store, ENGINE, [limit_cmd(1, "90", time_in_force=TimeInForce.DAY)])
    assert run(store, ENGINE, [tick("95", "95.10", 3600)]) == []
    (expired,) = run(store, ENGINE, [tick("95", "95.10", 9 * 3600 + 1)])  # past midnight UTC
    assert expired.status is OrderStatus.EXPIRED
    assert expired.reason_code is ReasonCode.SESSION_END
    assert only_open(store) == []


# -- holding and fees -----------------------------------------------------------------


def test_the_holding_equals_the_signed_sum_of_the_fills() -> None:
    eng = engine(
        venue(
            partial={"share_of_quote_size": "0.5"},
            fees={"per_share": "0.01", "minimum": "1"},
        )
    )
    store = MemoryStore()
    commands: list[Command] = [
        order_cmd(1),
        limit_cmd(2, "99", side="buy", quantity="7"),
        order_cmd(3, side="sell", quantity="3", account="acct-2"),
        tick("98.50", "98.90", 1, ask_size="6", bid_size="2"),
        order_cmd(4, side="sell", quantity="12", created_at=at(2)),
        target_cmd(5, -2, created_at=at(3)),
        tick("98", "98.20", 4, ask_size="20", bid_size="20"),
        target_cmd(6, 4, account="acct-2", created_at=at(5)),
        tick("97", "97.10", 6),
        cancel_cmd(order_id(4)),
    ]
    events = run(store, eng, commands)
    assert fills(events)
    for account in ("acct-1", "acct-2"):
        assert store.held(account) == signed_fills(events, account)
    assert all(e.commission >= 0 for e in events)
    position = store.holding("acct-1", "AAPL")
    assert position is not None
    assert position.fees == sum(
        (e.commission for e in fills(events) if e.account == "acct-1"), D(0)
    )


# -- determinism ----------------------------------------------------------------------


def _random_venue() -> VenueConfig:
    return VenueConfig.model_validate(
        {
            "seed": 20240304,
            "defaults": {
                "latency_ms": 50,
                "prob_fill_on_limit": "0.5",
                "slippage": {"fixed_bps": "1", "prob_slippage": "0.4"},
                "partial": {"share_of_quote_size": "0.5"},
                "fees": {"per_share": "0.005", "minimum": "1", "taker_bps": "2"},
            },
            "symbols": {"AAPL": {}, "MSFT": {}},
        }
    )


def _sequence() -> list[Command]:
    commands: list[Command] = []
    for n in range(12):
        mid = Decimal(100) + Decimal(n % 5) / 4 - Decimal(n % 3) / 2
        side = "buy" if n % 2 else "sell"
        limit = mid + (Decimal("-0.25") if side == "buy" else Decimal("0.25"))
        commands.append(tick(str(mid - Decimal("0.05")), str(mid + Decimal("0.05")), 3 * n))
        commands.append(order_cmd(f"m{n}", side=side, quantity=str(3 + n), created_at=at(3 * n)))
        commands.append(
            limit_cmd(f"l{n}", str(limit), side=side, quantity="5", created_at=at(3 * n + 1))
        )
        # touches the resting limits exactly: prob_fill_on_limit decides
        commands.append(tick(str(limit), str(limit + Decimal("0.10")), 3 * n + 2, bid_size="9"))
        commands.append(tick(str(limit - Decimal("0.10")), str(limit), 3 * n + 2, ask_size="9"))
    commands.append(target_cmd("t", 0, intent=Intent.CLOSE, created_at=at(100)))
    return commands


def test_the_same_commands_give_byte_identical_events() -> None:
    eng = engine(_random_venue())
    first, second = MemoryStore(), MemoryStore()
    a = b"\n".join(e.dumps() for e in run(first, eng, _sequence()))
    b = b"\n".join(e.dumps() for e in run(second, eng, _sequence()))
    assert a == b
    assert first.dump() == second.dump()
    events = run(MemoryStore(), eng, _sequence())
    liquidity = {e.liquidity for e in fills(events)}
    assert liquidity == {Liquidity.MAKER, Liquidity.TAKER}  # both paths were exercised
    other = engine(_random_venue().model_copy(update={"seed": 7}))
    assert b"\n".join(e.dumps() for e in run(MemoryStore(), other, _sequence())) != a


# -- bugs found by these tests, fixed in the engine --------------------------------


def test_a_profit_in_one_symbol_is_not_a_daily_loss_in_another() -> None:
    store = MemoryStore()
    eng = engine(max_daily_loss="500")
    # day 1: +1000 realized on AAPL
    run(store, eng, [order_cmd(1), order_cmd(2, side="sell", price="200", created_at=at(1))])
    day2 = T0 + timedelta(days=1)
    run(store, eng, [order_cmd(3, created_at=day2)])  # the day rolls with AAPL's +1000
    events = run(store, eng, [order_cmd(4, symbol="MSFT", created_at=day2 + timedelta(seconds=1))])
    assert statuses(events) == ["accepted", "filled"]  # today's realized PnL is 0: no loss


def test_max_account_notional_counts_the_accounts_other_symbols() -> None:
    store = MemoryStore()
    eng = engine(max_account_notional="1500")
    run(store, eng, [order_cmd(1, symbol="MSFT")])  # 10 x 100 MSFT
    (event, *_) = run(store, eng, [order_cmd(2, created_at=at(1))])  # + 10 x 100 AAPL = 2000
    assert event.reason_code is ReasonCode.MAX_POSITION_ACCOUNT


def test_a_limit_that_rested_with_no_market_fills_as_maker() -> None:
    store = MemoryStore()
    run(store, ENGINE, [limit_cmd(1, "99", price=None)])
    assert only_open(store) == [order_id(1)]
    (filled,) = run(store, ENGINE, [tick("97", "98", 1)])
    assert (filled.last_price, filled.liquidity) == (D(99), Liquidity.MAKER)


# -- risk counts the account's open orders on the new order's side --------------------


def test_reducing_counts_resting_sells_so_it_never_crosses_zero() -> None:
    store = MemoryStore()
    run(store, ENGINE, [order_cmd(1)])  # long 10
    run(store, ENGINE, [state_change("acct-1", TradingState.REDUCING, 1)])
    resting = run(store, ENGINE, [limit_cmd(2, "150", side="sell", quantity="6", created_at=at(2))])
    assert statuses(resting) == ["accepted"]  # rests above the market, reduces
    (crossing,) = run(store, ENGINE, [order_cmd(3, side="sell", quantity="6", created_at=at(3))])
    assert crossing.reason_code is ReasonCode.REDUCING_ONLY  # 6 + 6 resting > 10
    rest = run(store, ENGINE, [order_cmd(4, side="sell", quantity="4", created_at=at(4))])
    assert statuses(rest) == ["accepted", "filled"]


def test_resting_buys_count_toward_the_position_limit() -> None:
    store = MemoryStore()
    eng = engine(max_position="10")
    assert statuses(run(store, eng, [limit_cmd(1, "90", quantity="8")])) == ["accepted"]
    (over,) = run(store, eng, [order_cmd(2, quantity="5", created_at=at(1))])
    assert over.reason_code is ReasonCode.MAX_POSITION_SYMBOL  # 8 resting + 5 > 10
    sell = run(store, eng, [order_cmd(3, side="sell", quantity="5", created_at=at(2))])
    assert statuses(sell) == ["accepted", "filled"]  # the other side: only filled counts
