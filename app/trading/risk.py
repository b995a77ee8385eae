"""Pre-trade risk, between the signal and the order. Pure: state in, state out.

:func:`check_order` runs every check on one order of one account and returns a
:class:`RiskDecision`: passed, or a ``rejected`` :class:`OrderEvent` with the reason code
(a signal is never silently dropped), and the account's new :class:`AccountRisk` either
way. Checks, in order (the first failure decides):

1. ``trading_halted``: the account's effective state (its own or the global one,
   whichever is stricter) is HALTED.
2. ``symbol_denied`` / ``symbol_not_allowed``: the denylist, then the allowlist.
Positions count the account's open orders on the new order's side as filled (the worst
case): a resting sell of 6 against a long 10 leaves 4 to reduce; resting buys count toward
the position limits.

3. ``reducing_only``: the state is REDUCING and the order does not reduce the position
   (reduce = the opposite side, at most the position's size: it never crosses zero).
4. ``no_price``: a notional limit is set and neither the order nor the caller gives a price.
5. ``max_order_notional``: quantity x price.
6. ``max_position_symbol``: the absolute position after the order (a reducing order passes).
7. ``max_position_account``: the account's gross notional after the order, over every
   symbol at its mark (an order that does not add to it passes).
8. ``max_daily_loss``: the loss of realized PnL (net of fees) since the start of the UTC
   day; once reached, only reducing orders pass.
9. ``max_order_rate``: orders that passed in the last second (by their submission time,
   so a replay decides the same); a rejected order does not count.

Limits come from a TOML file (``examples/trading/risk.toml``): ``[default]`` limits, and
``[accounts.<name>]`` overriding some of them for one account.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.decimals import PlainDecimal, Positive
from app.positions import Position
from app.trading.errors import TradingConfigError
from app.trading.events import OrderEvent, ReasonCode, rejected_event
from app.trading.orders import TradingOrder
from app.trading.trading_state import TradingState
from app.trusted import updated

ZERO = Decimal(0)
RATE_WINDOW = timedelta(seconds=1)
RECENT_KEPT = 32


class RiskLimits(BaseModel):
    """One account's limits; None (or empty) means no limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_order_notional: Positive | None = None
    max_position: Positive | None = Field(None, description="Per symbol, absolute quantity.")
    max_position_by_symbol: dict[str, Positive] = {}
    max_account_notional: Positive | None = Field(
        None, description="Gross notional of all the account's positions at their marks."
    )
    allow_symbols: frozenset[str] | None = Field(None, description="None: every symbol.")
    deny_symbols: frozenset[str] = frozenset()
    max_orders_per_second: Annotated[int, Field(ge=1)] | None = None
    max_daily_loss: Positive | None = Field(None, description="Realized, net of fees, per UTC day.")

    def position_limit(self, symbol: str) -> Decimal | None:
        return self.max_position_by_symbol.get(symbol, self.max_position)


class RiskConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    default: RiskLimits = RiskLimits()
    accounts: dict[str, RiskLimits] = {}

    @model_validator(mode="before")
    @classmethod
    def _apply_default(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        default, accounts = data.get("default") or {}, data.get("accounts") or {}
        if not isinstance(default, dict) or not isinstance(accounts, dict):
            return data
        merged = {k: {**default, **v} if isinstance(v, dict) else v for k, v in accounts.items()}
        return {**data, "accounts": merged}

    def for_account(self, account: str) -> RiskLimits:
        return self.accounts.get(account, self.default)


def parse_risk_config(text: str, source: str = "<string>") -> RiskConfig:
    try:
        return RiskConfig.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise TradingConfigError(source, f"is not TOML: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise TradingConfigError(source, err["msg"], ".".join(str(p) for p in err["loc"])) from None


def load_risk_config(path: Path) -> RiskConfig:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise TradingConfigError(str(path), "is missing") from None
    return parse_risk_config(text, str(path))


class AccountRisk(BaseModel):
    """What risk remembers of one account between orders (for a table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str
    recent_orders: tuple[datetime, ...] = ()
    """Submission times of the orders that passed within the last second."""
    day: date | None = None
    realized_at_day_start: PlainDecimal = ZERO

    def dumps(self) -> bytes:
        return self.model_dump_json().encode()


NO_PENDING: Mapping[str, tuple[Decimal, Decimal]] = {}


class Exposure(NamedTuple):
    """The account's positions (signed quantity per symbol), a mark price per symbol, its
    realized PnL net of fees, summed over its positions, and per symbol the unfilled
    quantity of its open buy and sell orders (``pending``: risk counts them as if they
    filled, the worst case in the new order's direction)."""

    positions: Mapping[str, Decimal]
    marks: Mapping[str, Decimal]
    realized_pnl: Decimal
    pending: Mapping[str, tuple[Decimal, Decimal]] = NO_PENDING


def exposure_from(
    positions: Mapping[str, Position],
    marks: Mapping[str, Decimal],
    pending: Mapping[str, tuple[Decimal, Decimal]] = NO_PENDING,
) -> Exposure:
    """An exposure from :class:`app.positions.Position` s; a symbol with no mark is marked
    at its position's average price."""
    with localcontext(prec=100):
        realized = sum((p.realized_pnl for p in positions.values()), ZERO)
    return Exposure(
        positions={s: p.quantity for s, p in positions.items()},
        marks={**{s: p.avg_price for s, p in positions.items() if p.avg_price > 0}, **marks},
        realized_pnl=realized,
        pending=pending,
    )


class RiskDecision(NamedTuple):
    passed: bool
    account: AccountRisk
    rejection: OrderEvent | None
    """The order's ``rejected`` event when it did not pass."""

    @property
    def reason_code(self) -> ReasonCode | None:
        return self.rejection.reason_code if self.rejection else None


def reduces(position: Decimal, signed_quantity: Decimal) -> bool:
    """Whether an order of ``signed_quantity`` only reduces ``position`` (never crosses 0)."""
    if position == 0 or (position > 0) == (signed_quantity > 0):
        return False
    return abs(signed_quantity) <= abs(position)


def _gross(positions: Mapping[str, Decimal], marks: Mapping[str, Decimal]) -> Decimal | None:
    total = ZERO
    with localcontext(prec=100):
        for symbol, qty in positions.items():
            if qty == 0:
                continue
            mark = marks.get(symbol)
            if mark is None:
                return None
            total += abs(qty) * mark
    return total


def _roll_day(state: AccountRisk, now: datetime, realized: Decimal) -> AccountRisk:
    today = now.date()
    if state.day == today:
        return state
    return updated(state, day=today, realized_at_day_start=realized)


def _failure(
    order: TradingOrder,
    limits: RiskLimits,
    exposure: Exposure,
    state: AccountRisk,
    trading: TradingState,
    price: Decimal | None,
    now: datetime,
) -> tuple[ReasonCode, str] | None:
    symbol = order.symbol
    if trading is TradingState.HALTED:
        return ReasonCode.TRADING_HALTED, f"trading is halted for account {order.account}"
    if symbol in limits.deny_symbols:
        return ReasonCode.SYMBOL_DENIED, f"{symbol} is on the denylist"
    if limits.allow_symbols is not None and symbol not in limits.allow_symbols:
        return ReasonCode.SYMBOL_NOT_ALLOWED, f"{symbol} is not on the allowlist"
    buys, sells = exposure.pending.get(symbol, (ZERO, ZERO))
    delta = order.signed_quantity
    # the position if the account's open orders on the order's side all filled
    position = exposure.positions.get(symbol, ZERO) + (buys if delta > 0 else -sells)
    reducing = reduces(position, delta)
    if trading is TradingState.REDUCING and not reducing:
        return ReasonCode.REDUCING_ONLY, (
            f"account {order.account} may only reduce positions; {symbol} is {position}, "
            f"order {order.side.value} {order.quantity}"
        )
    with localcontext(prec=100):
        after = position + delta
        needs_price = limits.max_order_notional or limits.max_account_notional
        if needs_price and price is None:
            return ReasonCode.NO_PRICE, "no price to value the order's notional with"
        notional = order.quantity * price if price is not None else ZERO
        if limits.max_order_notional is not None and notional > limits.max_order_notional:
            return ReasonCode.MAX_ORDER_NOTIONAL, (
                f"order notional {notional} exceeds {limits.max_order_notional}"
            )
        cap = limits.position_limit(symbol)
        if cap is not None and abs(after) > cap and abs(after) > abs(position):
            return ReasonCode.MAX_POSITION_SYMBOL, f"{symbol} position {after} would exceed {cap}"
        if limits.max_account_notional is not None and price is not None:
            marks = {**exposure.marks, symbol: price}
            before = _gross(exposure.positions, marks)
            gross = _gross({**exposure.positions, symbol: after}, marks)
            if before is None or gross is None:
                return ReasonCode.NO_PRICE, "a position of the account has no mark price"
            if gross > limits.max_account_notional and gross > before:
                return ReasonCode.MAX_POSITION_ACCOUNT, (
                    f"account gross notional {gross} would exceed {limits.max_account_notional}"
                )
        loss = state.realized_at_day_start - exposure.realized_pnl
    if limits.max_daily_loss is not None and loss >= limits.max_daily_loss and not reducing:
        return ReasonCode.MAX_DAILY_LOSS, (
            f"daily realized loss {loss} reached {limits.max_daily_loss}: only reducing orders"
        )
    if limits.max_orders_per_second is not None:
        recent = [t for t in state.recent_orders if now - t < RATE_WINDOW]
        if len(recent) >= limits.max_orders_per_second:
            return ReasonCode.MAX_ORDER_RATE, (
                f"{len(recent)} orders in the last second (max {limits.max_orders_per_second})"
            )
    return None


def check_order(
    order: TradingOrder,
    limits: RiskLimits,
    exposure: Exposure,
    state: AccountRisk | None,
    trading: TradingState = TradingState.ACTIVE,
    *,
    price: Decimal | None = None,
) -> RiskDecision:
    """Every pre-trade check of ``order`` (see the module's docstring).

    ``trading``: the account's effective state (``TradingStates.effective``); ``price``:
    the price to value the order at (a quote's touch), else the order's limit, stop or
    reference price. ``state`` None: the account's first order.
    """
    now = order.submitted_at
    account = state or AccountRisk(account=order.account)
    account = _roll_day(account, now, exposure.realized_pnl)
    value = price if price is not None else order.price_hint
    failed = _failure(order, limits, exposure, account, trading, value, now)
    # what the rate check needs: the newest passed orders within the window, at most the
    # limit (RECENT_KEPT without one, so a limit configured later sees the recent rate)
    keep = limits.max_orders_per_second or RECENT_KEPT
    recent = tuple(sorted(t for t in account.recent_orders if now - t < RATE_WINDOW)[-keep:])
    if failed is not None:
        account = updated(account, recent_orders=recent)
        return RiskDecision(False, account, rejected_event(order, *failed))
    account = updated(account, recent_orders=(*recent, now))
    return RiskDecision(True, account, None)
