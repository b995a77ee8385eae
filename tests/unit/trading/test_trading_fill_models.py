"""Unit tests of app.trading.fill_models: each model as a pure function."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.models import Side
from app.trading.events import Liquidity, ReasonCode
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
from app.trading.venue_config import Fees, Partial, SymbolConfig
from tests.unit.trading.samples import ORDER_ID, PROPERTY, T0, D, order, quote, venue


def test_chance_is_deterministic_and_seeded_by_order_step_and_draw() -> None:
    p = D("0.5")
    assert chance(p, 1, ORDER_ID, 1, Draw.SLIPPAGE) == chance(p, 1, ORDER_ID, 1, Draw.SLIPPAGE)
    outcomes = {chance(p, seed, ORDER_ID, 1, Draw.SLIPPAGE) for seed in range(20)}
    assert outcomes == {True, False}
    assert not chance(D(0), 1, ORDER_ID, 1, Draw.SLIPPAGE)
    assert chance(D(1), 1, ORDER_ID, 1, Draw.SLIPPAGE)


def test_chance_frequency_follows_the_probability() -> None:
    hits = sum(chance(D("0.2"), 7, ORDER_ID, step, Draw.FILL_ON_LIMIT) for step in range(5000))
    assert 850 < hits < 1150


def test_slipped_price() -> None:
    flat = SymbolConfig()
    assert slipped_price(D(100), Side.BUY, flat, extra_tick=False) == D(100)
    assert slipped_price(D(100), Side.BUY, flat, extra_tick=True) == D("100.01")
    assert slipped_price(D(100), Side.SELL, flat, extra_tick=True) == D("99.99")
    bps = SymbolConfig.model_validate({"slippage": {"fixed_bps": "3"}})
    assert slipped_price(D(100), Side.BUY, bps, extra_tick=False) == D("100.03")
    assert slipped_price(D("100.001"), Side.BUY, bps, extra_tick=False) == D("100.04")
    assert slipped_price(D(100), Side.SELL, bps, extra_tick=True) == D("99.96")
    assert slipped_price(D(100), Side.BUY, bps, extra_tick=True, limit=D("100.02")) == D("100.02")
    assert slipped_price(D("0.01"), Side.SELL, flat, extra_tick=True) == D("0.01")


def test_limit_match() -> None:
    assert limit_match(Side.BUY, D(100), quote("99", "100.5")) is None
    assert limit_match(Side.BUY, D(100), quote("99", "100")) is Match.TOUCH
    assert limit_match(Side.BUY, D(100), quote("99", "99.9")) is Match.CROSS
    assert limit_match(Side.BUY, D(100), quote(None, None, last="99")) is Match.CROSS
    assert limit_match(Side.SELL, D(100), quote("99.9", "101")) is None
    assert limit_match(Side.SELL, D(100), quote("100", "101")) is Match.TOUCH
    assert limit_match(Side.SELL, D(100), quote("99", "101", last="100.5")) is Match.CROSS
    assert limit_match(Side.SELL, D(100), quote(None, "101")) is None


def test_stop_triggered() -> None:
    assert not stop_triggered(Side.BUY, D(101), quote("100", "100.9"))
    assert stop_triggered(Side.BUY, D(101), quote("100", "101"))
    assert stop_triggered(Side.SELL, D(99), quote("99", "99.5"))
    assert not stop_triggered(Side.SELL, D(99), quote(None, "98"))


def test_step_quantity() -> None:
    none = Partial()
    assert step_quantity(D(100), D(10), none) == D(100)
    share = Partial(share_of_quote_size=D("0.5"))
    assert step_quantity(D(100), D(30), share) == D(15)
    assert step_quantity(D(100), None, share) == D(100)
    assert step_quantity(D(100), D(0), share) == 0
    assert step_quantity(D(100), D(31), share, D(1)) == D(15)
    assert step_quantity(D(10), D(30), share) == D(10)
    capped = Partial(share_of_quote_size=D("0.5"), max_per_step=D(12))
    assert step_quantity(D(100), D(30), capped) == D(12)
    assert step_quantity(D(100), D(1), Partial(share_of_quote_size=D("0.3"))) == D("0.3")


def test_commission() -> None:
    fees = Fees(per_share=D("0.005"), minimum=D(1), maker_bps=D(1), taker_bps=D(2))
    assert commission(fees, D(0), D(100), D(50), Liquidity.TAKER) == D("2.0")  # 1 + 1
    assert commission(fees, D(100), D(200), D(50), Liquidity.MAKER) == D("1.5")  # 0.5 + 1
    assert commission(Fees(), D(0), D(5), D(5), Liquidity.TAKER) == 0
    assert commission(Fees(taker_bps=D(1)), D(0), D(1), D("0.01"), Liquidity.TAKER) == D("0.0001")


@PROPERTY
@given(
    st.decimals(0, 1000, places=2),
    st.decimals(D("0.01"), 1000, places=2),
    st.decimals(D("0.01"), 10_000, places=2),
    st.sampled_from(list(Liquidity)),
    st.builds(
        Fees,
        per_share=st.decimals(0, 1, places=4),
        minimum=st.decimals(0, 5, places=2),
        maker_bps=st.decimals(0, 50, places=1),
        taker_bps=st.decimals(0, 50, places=1),
    ),
)
def test_commission_is_never_negative(
    before: Decimal, quantity: Decimal, price: Decimal, liquidity: Liquidity, fees: Fees
) -> None:
    assert commission(fees, before, quantity, price, liquidity) >= 0


def test_eligible_at_adds_latency() -> None:
    assert eligible_at(order(), SymbolConfig(latency_ms=1500)) == datetime(
        2024, 3, 4, 15, 0, 1, 500000, tzinfo=UTC
    )
    assert eligible_at(order(), SymbolConfig()) == T0


def test_venue_reject() -> None:
    assert venue_reject(order(), venue()) is None
    code, reason = venue_reject(order(symbol="ZZZ"), venue()) or (None, "")
    assert code is ReasonCode.UNKNOWN_SYMBOL and "ZZZ" in reason


@pytest.mark.parametrize("side", list(Side))
def test_slippage_is_never_favourable(side: Side) -> None:
    config = SymbolConfig.model_validate({"slippage": {"fixed_bps": "7"}})
    price = slipped_price(D("123.45"), side, config, extra_tick=False)
    assert price >= D("123.45") if side is Side.BUY else price <= D("123.45")
