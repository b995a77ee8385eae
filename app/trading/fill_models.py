"""The simulator's models, each a pure function of its inputs and a seed.

- :func:`chance`: a seeded draw. The seed is the venue's ``seed`` hashed with the order
  id, the matching step and the model's name (SHA-256), never global random state: the
  same order, quotes and seed give the same fills, byte for byte, on any worker.
- :func:`slipped_price`: a taker's price, ``fixed_bps`` worse than the touch (rounded
  to the tick, against the trader), and one tick worse still with ``prob_slippage``;
  a limit order's price never goes beyond its limit.
- :func:`limit_match`: whether the market crosses (fills for sure) or only touches
  (fills with ``prob_fill_on_limit``) a resting limit price.
- :func:`step_quantity`: how much one step may fill (share of the touch size, maximum
  per step), rounded down to the quantity increment.
- :func:`commission`: per share with a per-order minimum, plus maker/taker bps.
- :func:`eligible_at`: submission time plus latency: no fill happens before it.
- :func:`venue_reject`: unknown symbol, outside trading hours.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from enum import StrEnum

from app.models import Side
from app.trading.events import Liquidity, ReasonCode
from app.trading.orders import TradingOrder
from app.trading.quotes import Quote
from app.trading.venue_config import Fees, Partial, SymbolConfig, VenueConfig

ZERO = Decimal(0)
BPS = Decimal(10_000)
QUANTITY_PLACES = Decimal("1e-12")
_SPACE = 2**64


class Draw(StrEnum):
    """What a draw decides; part of its seed, so the models' draws are independent."""

    SLIPPAGE = "prob_slippage"
    FILL_ON_LIMIT = "prob_fill_on_limit"


def chance(probability: Decimal, seed: int, order_id: str, step: int, draw: Draw) -> bool:
    """True with ``probability``, decided by a hash of (seed, order id, step, draw)."""
    if probability <= 0:
        return False
    if probability >= 1:
        return True
    digest = hashlib.sha256(f"{seed}\x1f{order_id}\x1f{step}\x1f{draw.value}".encode()).digest()
    value = int.from_bytes(digest[:8], "big")
    with localcontext(prec=60):
        threshold = int(probability * _SPACE)
    return value < threshold


def _to_tick(price: Decimal, tick: Decimal, rounding: str) -> Decimal:
    with localcontext(prec=60):
        return (price / tick).to_integral_value(rounding=rounding) * tick


def slipped_price(
    touch: Decimal,
    side: Side,
    config: SymbolConfig,
    *,
    extra_tick: bool,
    limit: Decimal | None = None,
) -> Decimal:
    """A taker's fill price from ``touch``; ``extra_tick``: the probabilistic slip hit.

    Worse for the trader (a buy pays more, a sell gets less), never beyond ``limit``, and
    a sell never below one tick.
    """
    tick = config.tick_size
    bps = config.slippage.fixed_bps
    price = touch
    with localcontext(prec=60):
        if bps > 0:
            if side is Side.BUY:
                price = _to_tick(touch * (1 + bps / BPS), tick, ROUND_CEILING)
            else:
                price = _to_tick(touch * (1 - bps / BPS), tick, ROUND_FLOOR)
        if extra_tick:
            price = price + tick if side is Side.BUY else price - tick
    if price <= 0:
        price = tick
    if limit is not None:
        price = min(price, limit) if side is Side.BUY else max(price, limit)
    return price


class Match(StrEnum):
    CROSS = "cross"
    """The market is through the limit: a resting order there would have filled."""
    TOUCH = "touch"
    """The market is at the limit: a resting order fills only if the queue reaches it."""


def limit_match(side: Side, limit: Decimal, quote: Quote) -> Match | None:
    """How the quote meets a ``side`` limit at ``limit``: a buy is met by an ask or last at
    or below it, a sell by a bid or last at or above it; None when not reached."""
    if side is Side.BUY:
        prices = [p for p in (quote.ask, quote.last) if p is not None]
        best = min(prices) if prices else None
        if best is None or best > limit:
            return None
        return Match.CROSS if best < limit else Match.TOUCH
    prices = [p for p in (quote.bid, quote.last) if p is not None]
    best = max(prices) if prices else None
    if best is None or best < limit:
        return None
    return Match.CROSS if best > limit else Match.TOUCH


def stop_triggered(side: Side, stop: Decimal, quote: Quote) -> bool:
    """A buy stop triggers when the ask or last reaches ``stop`` from below, a sell stop
    when the bid or last reaches it from above."""
    price = quote.trigger_price(side)
    if price is None:
        return False
    return price >= stop if side is Side.BUY else price <= stop


def step_quantity(
    remaining: Decimal,
    touch_size: Decimal | None,
    partial: Partial,
    increment: Decimal | None = None,
) -> Decimal:
    """How much of ``remaining`` one step fills: all of it unless a cap applies (a share
    of ``touch_size``, ``max_per_step``); a capped quantity is rounded down to
    ``increment`` (else to 12 places), so it may be 0. Never more than ``remaining``."""
    cap = remaining
    with localcontext(prec=60):
        if partial.share_of_quote_size is not None and touch_size is not None:
            cap = min(cap, partial.share_of_quote_size * touch_size)
        if partial.max_per_step is not None:
            cap = min(cap, partial.max_per_step)
        if cap >= remaining:
            return remaining
        unit = increment if increment is not None else QUANTITY_PLACES
        rounded = (cap / unit).to_integral_value(rounding=ROUND_FLOOR) * unit
    return max(ZERO, min(rounded, remaining))


def _per_share(fees: Fees, quantity: Decimal) -> Decimal:
    if quantity <= 0:
        return ZERO
    return max(fees.minimum, fees.per_share * quantity)


def commission(
    fees: Fees,
    filled_before: Decimal,
    quantity: Decimal,
    price: Decimal,
    liquidity: Liquidity,
) -> Decimal:
    """This fill's commission: the growth of the order's per-share charge (``per_share`` x
    filled, at least ``minimum`` once it has a fill) plus the maker/taker bps of the
    fill's notional, rounded up to ``fees.places``. Never negative."""
    bps = fees.maker_bps if liquidity is Liquidity.MAKER else fees.taker_bps
    with localcontext(prec=80):
        per_share = _per_share(fees, filled_before + quantity) - _per_share(fees, filled_before)
        total = per_share + quantity * price * bps / BPS
        unit = Decimal(1).scaleb(-fees.places)
        rounded = total.quantize(unit, rounding=ROUND_CEILING)
    return max(ZERO, rounded)


def eligible_at(order: TradingOrder, config: SymbolConfig) -> datetime:
    """When the venue has the order: its submission plus the configured latency."""
    return order.submitted_at + timedelta(milliseconds=config.latency_ms)


def venue_reject(order: TradingOrder, venue: VenueConfig) -> tuple[ReasonCode, str] | None:
    """Why the venue refuses ``order`` (unknown symbol, market closed), or None."""
    config = venue.for_symbol(order.symbol)
    if config is None:
        return ReasonCode.UNKNOWN_SYMBOL, f"symbol {order.symbol} is not traded on this venue"
    hours = config.trading_hours
    if hours is not None and not hours.is_open(order.submitted_at):
        return (
            ReasonCode.OUTSIDE_TRADING_HOURS,
            f"{order.symbol} trades {hours.open:%H:%M}-{hours.close:%H:%M} {hours.timezone}; "
            f"order submitted at {order.submitted_at.isoformat()}",
        )
    return None
