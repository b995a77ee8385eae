"""Unit tests of app.trading.risk: every check, its reason code, and the state it keeps."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.order_state import OrderStatus
from app.positions import Position
from app.trading.errors import TradingConfigError
from app.trading.events import ReasonCode
from app.trading.risk import (
    AccountRisk,
    Exposure,
    RiskLimits,
    check_order,
    exposure_from,
    load_risk_config,
    parse_risk_config,
    reduces,
)
from app.trading.trading_state import TradingState
from tests.unit.trading.samples import PROPERTY, T0, D, order

EXAMPLE = Path(__file__).parents[3] / "examples" / "trading" / "risk.toml"
FLAT = Exposure(positions={}, marks={}, realized_pnl=D(0))


def exposure(**positions: str) -> Exposure:
    return Exposure({k: D(v) for k, v in positions.items()}, {}, D(0))


def code(
    limits: RiskLimits,
    ex: Exposure = FLAT,
    state: AccountRisk | None = None,
    trading: TradingState = TradingState.ACTIVE,
    **o: Any,
) -> ReasonCode | None:
    return check_order(order(**o), limits, ex, state, trading).reason_code


def test_no_limits_pass_and_record_the_order() -> None:
    decision = check_order(order(), RiskLimits(), FLAT, None)
    assert decision.passed and decision.rejection is None
    assert decision.account.recent_orders == (T0,) and decision.account.day == T0.date()


def test_halted_rejects_everything_even_reducing_orders() -> None:
    assert (
        code(RiskLimits(), exposure(AAPL="100"), trading=TradingState.HALTED, side="sell")
        is ReasonCode.TRADING_HALTED
    )


def test_reducing_passes_only_orders_that_reduce() -> None:
    long = exposure(AAPL="100")
    r = TradingState.REDUCING
    assert code(RiskLimits(), long, trading=r, side="sell", quantity="100") is None
    assert (
        code(RiskLimits(), long, trading=r, side="sell", quantity="101") is ReasonCode.REDUCING_ONLY
    )
    assert code(RiskLimits(), long, trading=r, side="buy", quantity="1") is ReasonCode.REDUCING_ONLY
    assert code(RiskLimits(), FLAT, trading=r, side="sell") is ReasonCode.REDUCING_ONLY


def test_symbol_lists() -> None:
    assert code(RiskLimits(deny_symbols=frozenset({"AAPL"}))) is ReasonCode.SYMBOL_DENIED
    assert code(RiskLimits(allow_symbols=frozenset({"MSFT"}))) is ReasonCode.SYMBOL_NOT_ALLOWED
    assert code(RiskLimits(allow_symbols=frozenset({"AAPL"}))) is None
    both = RiskLimits(allow_symbols=frozenset({"AAPL"}), deny_symbols=frozenset({"AAPL"}))
    assert code(both) is ReasonCode.SYMBOL_DENIED


def test_max_order_notional() -> None:
    limits = RiskLimits(max_order_notional=D(10_000))
    assert code(limits, quantity="100", reference_price="100") is None
    assert code(limits, quantity="100", reference_price="100.01") is ReasonCode.MAX_ORDER_NOTIONAL
    decision = check_order(order(quantity="100", reference_price="150"), limits, FLAT, None)
    assert decision.rejection is not None
    assert decision.rejection.status is OrderStatus.REJECTED
    assert "15000" in (decision.rejection.reason or "")
    assert check_order(order(quantity="100"), limits, FLAT, None, price=D(200)).reason_code is (
        ReasonCode.MAX_ORDER_NOTIONAL
    )


def test_no_price_for_a_notional_limit() -> None:
    limits = RiskLimits(max_order_notional=D(1))
    o = order(order_type="stop", stop_price="5", reference_price=None)
    assert check_order(o, limits, FLAT, None).passed is False  # stop price values it: 500 > 1
    bare = o.model_copy(update={"stop_price": None})
    assert check_order(bare, limits, FLAT, None).reason_code is ReasonCode.NO_PRICE


def test_max_position_per_symbol_lets_reducing_orders_through() -> None:
    limits = RiskLimits(max_position=D(150), max_position_by_symbol={"MSFT": D(10)})
    assert code(limits, exposure(AAPL="100"), quantity="50") is None
    assert code(limits, exposure(AAPL="100"), quantity="51") is ReasonCode.MAX_POSITION_SYMBOL
    assert code(limits, exposure(AAPL="-100"), side="sell", quantity="51") is (
        ReasonCode.MAX_POSITION_SYMBOL
    )
    assert code(limits, exposure(AAPL="300"), side="sell", quantity="10") is None
    assert code(limits, symbol="MSFT", quantity="11") is ReasonCode.MAX_POSITION_SYMBOL


def test_max_account_notional_is_gross_over_symbols() -> None:
    limits = RiskLimits(max_account_notional=D(30_000))
    ex = Exposure({"MSFT": D(-100)}, {"MSFT": D(200)}, D(0))  # 20 000 gross
    assert code(limits, ex, quantity="100", reference_price="100") is None
    assert (
        code(limits, ex, quantity="101", reference_price="100") is ReasonCode.MAX_POSITION_ACCOUNT
    )
    over = Exposure({"MSFT": D(-200)}, {"MSFT": D(200)}, D(0))  # already 40 000
    assert code(limits, over, symbol="MSFT", quantity="10") is None  # reduces
    unmarked = Exposure({"MSFT": D(-1)}, {}, D(0))
    assert code(limits, unmarked) is ReasonCode.NO_PRICE


def test_max_daily_loss_resets_each_day_and_lets_reducing_orders_through() -> None:
    limits = RiskLimits(max_daily_loss=D(500))
    start = check_order(order(), limits, Exposure({}, {}, D(1000)), None).account
    assert start.realized_at_day_start == D(1000)
    losing = Exposure({"AAPL": D(100)}, {}, D(500))
    assert code(limits, losing, start) is ReasonCode.MAX_DAILY_LOSS
    assert code(limits, losing, start, side="sell", quantity="50") is None
    assert code(limits, Exposure({}, {}, D("500.01")), start) is None
    tomorrow = T0 + timedelta(days=1)
    assert code(limits, losing, start, submitted_at=tomorrow) is None


def test_max_orders_per_second_counts_passed_orders_in_a_sliding_second() -> None:
    limits = RiskLimits(max_orders_per_second=2)
    state: AccountRisk | None = None
    results = []
    for ms in (0, 100, 200, 999, 1001, 1100, 1150):
        d = check_order(order(submitted_at=T0 + timedelta(milliseconds=ms)), limits, FLAT, state)
        state = d.account
        results.append(d.reason_code)
    rate = ReasonCode.MAX_ORDER_RATE
    assert results == [None, None, rate, rate, None, None, rate]
    assert state is not None and len(state.recent_orders) == 2


def test_rejections_keep_the_account_state() -> None:
    limits = RiskLimits(deny_symbols=frozenset({"AAPL"}))
    d = check_order(order(), limits, FLAT, AccountRisk(account="acct-1", recent_orders=(T0,)))
    assert not d.passed and d.account.recent_orders == (T0,)
    assert AccountRisk.model_validate_json(d.account.dumps()) == d.account


def test_config_file_merges_account_overrides(tmp_path: Path) -> None:
    config = load_risk_config(EXAMPLE)
    small = config.for_account("acct-small")
    assert small.max_order_notional == D(5000) and small.max_position == D(1000)
    assert small.allow_symbols == frozenset({"AAPL", "MSFT"})
    assert config.for_account("other") == config.default
    assert config.default.position_limit("TSLA") == D(200)
    with pytest.raises(TradingConfigError, match=r"default\.max_orders_per_second"):
        parse_risk_config("[default]\nmax_orders_per_second = 0")
    with pytest.raises(TradingConfigError, match="is missing"):
        load_risk_config(tmp_path / "none.toml")


def test_exposure_from_positions() -> None:
    p = Position(
        account="a",
        symbol="AAPL",
        quantity=D(10),
        avg_price=D(100),
        cost_basis=D(1000),
        realized_pnl=D(-5),
    )
    ex = exposure_from({"AAPL": p}, {"MSFT": D(1)})
    assert ex.positions == {"AAPL": D(10)} and ex.marks == {"AAPL": D(100), "MSFT": D(1)}
    assert ex.realized_pnl == D(-5)


@PROPERTY
@given(st.integers(-1000, 1000), st.integers(-1000, 1000).filter(bool))
def test_reduces_means_closer_to_flat_without_crossing(position: int, delta: int) -> None:
    pos, d = Decimal(position), Decimal(delta)
    expected = pos != 0 and abs(pos + d) < abs(pos) and (pos + d == 0 or (pos + d > 0) == (pos > 0))
    assert reduces(pos, d) is expected
