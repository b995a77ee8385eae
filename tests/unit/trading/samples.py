"""Shared builders for the trading domain's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from app.ids import order_id_for, signal_id_for
from app.trading.orders import TradingOrder, WorkingOrder, build_order
from app.trading.quotes import Quote
from app.trading.venue_config import VenueConfig

# Properties: enough examples to matter, few enough to keep the suite fast.
PROPERTY = settings(max_examples=150, deadline=None, database=None)

T0 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York
SIGNAL_ID = signal_id_for(b"1700000000.{}")
ORDER_ID = order_id_for(SIGNAL_ID)
CORRELATION = "corr-0001"


def order(**overrides: Any) -> TradingOrder:
    fields: dict[str, Any] = {
        "order_id": ORDER_ID,
        "signal_id": SIGNAL_ID,
        "correlation_id": CORRELATION,
        "account": "acct-1",
        "strategy": "momentum",
        "symbol": "AAPL",
        "side": "buy",
        "quantity": "100",
        "order_type": "market",
        "time_in_force": "gtc",
        "reference_price": "100",
        "submitted_at": T0,
    }
    fields.update(overrides)
    return build_order(**fields)


def limit(price: str, **overrides: Any) -> TradingOrder:
    return order(order_type="limit", limit_price=price, **overrides)


def quote(
    bid: str | None = "99.99",
    ask: str | None = "100.01",
    *,
    at: datetime | None = None,
    seconds: float = 1,
    symbol: str = "AAPL",
    **extra: Any,
) -> Quote:
    return Quote.model_validate(
        {
            "symbol": symbol,
            "bid": bid,
            "ask": ask,
            "at": at or T0 + timedelta(seconds=seconds),
            **extra,
        }
    )


def venue(**defaults: Any) -> VenueConfig:
    """A venue trading AAPL and MSFT always (no hours), no slippage, no fees by default."""
    return VenueConfig.model_validate(
        {"seed": 1, "defaults": defaults, "symbols": {"AAPL": {}, "MSFT": {}}}
    )


def working(o: TradingOrder, **state: Any) -> WorkingOrder:
    return WorkingOrder(order=o, updated_at=o.submitted_at, events=1, **state)


D = Decimal


@st.composite
def venue_configs(
    draw: st.DrawFn,
    *,
    probabilities: st.SearchStrategy[str],
    shares: list[str],
    max_step: int,
    latencies: list[int],
    increments: list[str | None],
    fixed_bps: list[str],
) -> VenueConfig:
    """A venue trading AAPL with every model drawn: each property module gives the
    ranges it explores."""
    partial: dict[str, Any] = {}
    if draw(st.booleans()):
        partial["share_of_quote_size"] = draw(st.sampled_from(shares))
    if draw(st.booleans()):
        partial["max_per_step"] = str(draw(st.integers(1, max_step)))
    defaults = {
        "latency_ms": draw(st.sampled_from(latencies)),
        "prob_fill_on_limit": draw(probabilities),
        "quantity_increment": draw(st.sampled_from(increments)),
        "slippage": {
            "fixed_bps": draw(st.sampled_from(fixed_bps)),
            "prob_slippage": draw(probabilities),
        },
        "partial": partial,
        "fees": {
            "per_share": draw(st.sampled_from(["0", "0.005"])),
            "minimum": draw(st.sampled_from(["0", "1"])),
            "maker_bps": draw(st.sampled_from(["0", "1"])),
            "taker_bps": draw(st.sampled_from(["0", "3"])),
        },
    }
    return VenueConfig.model_validate(
        {"seed": draw(st.integers(0, 2**32)), "defaults": defaults, "symbols": {"AAPL": {}}}
    )
