"""What a signal means, and which accounts it trades: intents and the account fan-out.

Intents:

- ``order`` (today's meaning): buy or sell ``quantity``.
- ``target_position``: go to ``target`` (signed: +10 long, -5 short, 0 flat). The order
  is the delta from the account's current position *plus its open orders' unfilled
  quantity*, so a repeated "go long 10" does nothing the second time, even while the
  first order still rests.
- ``close``: flatten (a target of 0).

TradingView strategy alerts carry ``{{strategy.position_size}}`` (signed) or
``{{strategy.market_position}}`` with ``{{strategy.market_position_size}}``: both map
onto ``target_position`` (:func:`from_tradingview`, :func:`from_market_position`).

Fan-out: a strategy routed in the routes file trades on each of its accounts with the
account's size multiplier (a target is multiplied too); one signal yields one order per
account, each with its own id ``derive("order", signal_id, account)``. A strategy not in
the file trades on the signal's own account, with today's id ``order_id_for(signal_id)``.
An account whose order would be empty (already at target, multiplier rounding to 0) gets
no order and is listed in :attr:`Plan.unchanged` with why, for the caller to log.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal, localcontext
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.decimals import PlainDecimal, Positive
from app.ids import derive, order_id_for
from app.models import Intent, Name, Side, Signal
from app.trading.errors import InvalidIntent, TradingConfigError
from app.trading.orders import TradingOrder, from_signal

ZERO = Decimal(0)
QUANTITY_UNIT = Decimal("1e-12")


class IntentSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    intent: Intent = Intent.ORDER
    side: Side | None = None
    quantity: Positive | None = None
    target: PlainDecimal | None = Field(None, description="Signed target position.")

    @model_validator(mode="after")
    def _fields(self) -> IntentSpec:
        is_order = self.intent is Intent.ORDER
        if is_order and (self.side is None or self.quantity is None):
            raise ValueError("an order intent needs side and quantity")
        if not is_order and (self.side is not None or self.quantity is not None):
            raise ValueError(f"side and quantity are not allowed for a {self.intent.value} intent")
        if (self.intent is Intent.TARGET_POSITION) != (self.target is not None):
            need = "needs" if self.intent is Intent.TARGET_POSITION else "does not take"
            raise ValueError(f"a {self.intent.value} intent {need} a target")
        return self


def build_intent(**fields: Any) -> IntentSpec:
    """An intent from plain fields; :class:`InvalidIntent` names the first problem."""
    try:
        return IntentSpec.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidIntent(
            ".".join(str(p) for p in first["loc"]) or "intent", first["msg"]
        ) from None


def intent_of(signal: Signal) -> IntentSpec:
    """The signal's intent."""
    if signal.intent is Intent.ORDER:
        return IntentSpec(side=signal.side, quantity=signal.quantity)
    return IntentSpec(intent=signal.intent, target=signal.target)


def from_tradingview(position_size: Decimal) -> IntentSpec:
    """``strategy.position_size`` (signed: > 0 long, < 0 short, 0 flat) as a target."""
    return IntentSpec(intent=Intent.TARGET_POSITION, target=position_size)


def from_market_position(market_position: str, size: Decimal) -> IntentSpec:
    """``strategy.market_position`` (long, short, flat) and ``market_position_size``."""
    signs = {"long": 1, "short": -1, "flat": 0}
    try:
        sign = signs[market_position.strip().lower()]
    except KeyError:
        raise InvalidIntent(
            "market_position", f"{market_position!r} is not long, short or flat"
        ) from None
    if size < 0:
        raise InvalidIntent("market_position_size", f"{size} is negative")
    return IntentSpec(intent=Intent.TARGET_POSITION, target=abs(size) * sign)


def order_delta(intent: IntentSpec, position: Decimal, multiplier: Decimal = Decimal(1)) -> Decimal:
    """The signed quantity to trade: 0 when there is nothing to do."""
    with localcontext(prec=100):
        if intent.intent is Intent.ORDER:
            assert intent.side is not None and intent.quantity is not None  # validated
            sign = 1 if intent.side is Side.BUY else -1
            return intent.quantity * multiplier * sign
        target = (intent.target or ZERO) * multiplier
        return target - position


class Route(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    account: Name
    multiplier: Positive = Decimal(1)
    quantity_increment: Positive | None = Field(None, description="Round down to this.")


class Routes(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    strategies: dict[str, tuple[Route, ...]] = {}

    @field_validator("strategies")
    @classmethod
    def _distinct(cls, value: dict[str, tuple[Route, ...]]) -> dict[str, tuple[Route, ...]]:
        for strategy, routes in value.items():
            if not routes:
                raise ValueError(f"strategy {strategy!r} has no accounts")
            accounts = [r.account for r in routes]
            if len(set(accounts)) != len(accounts):
                raise ValueError(f"strategy {strategy!r} lists an account twice")
        return value

    def routed(self, strategy: str) -> bool:
        return strategy in self.strategies

    def routes_for(self, strategy: str, account: str) -> tuple[Route, ...]:
        return self.strategies.get(strategy, (Route(account=account),))


def parse_routes(text: str, source: str = "<string>") -> Routes:
    """Routes from TOML: a ``[strategies]`` table of ``<name> = [{ account, multiplier }]``."""
    try:
        return Routes.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise TradingConfigError(source, f"is not TOML: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise TradingConfigError(source, err["msg"], ".".join(str(p) for p in err["loc"])) from None


def load_routes(path: Path) -> Routes:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise TradingConfigError(str(path), "is missing") from None
    return parse_routes(text, str(path))


def routed_order_id(signal_id: str, account: str, routed: bool) -> str:
    return derive("order", signal_id, account) if routed else order_id_for(signal_id)


class Plan(NamedTuple):
    orders: tuple[TradingOrder, ...]
    unchanged: tuple[tuple[str, str], ...]
    """(account, why) of each routed account that gets no order."""


def _round(quantity: Decimal, increment: Decimal | None) -> Decimal:
    unit = increment or QUANTITY_UNIT
    with localcontext(prec=100):
        return (quantity / unit).to_integral_value(rounding=ROUND_DOWN) * unit


def plan_orders(
    signal: Signal,
    intent: IntentSpec,
    routes: Routes,
    positions: Mapping[str, Decimal],
    correlation_id: str,
    open_quantity: Mapping[str, Decimal] | None = None,
) -> Plan:
    """One order per routed account of ``signal``'s strategy.

    ``positions``: each account's signed position in the signal's symbol (missing: flat);
    ``open_quantity``: each account's signed unfilled quantity of its open orders in it.
    """
    routed = routes.routed(signal.strategy)
    orders: list[TradingOrder] = []
    unchanged: list[tuple[str, str]] = []
    for route in routes.routes_for(signal.strategy, signal.account):
        held = positions.get(route.account, ZERO) + (open_quantity or {}).get(route.account, ZERO)
        delta = order_delta(intent, held, route.multiplier)
        quantity = _round(abs(delta), route.quantity_increment)
        if quantity == 0:
            why = "already at target" if delta == 0 else f"{abs(delta)} rounds to 0"
            unchanged.append((route.account, why))
            continue
        orders.append(
            from_signal(
                signal,
                correlation_id,
                order_id=routed_order_id(signal.signal_id, route.account, routed),
                account=route.account,
                side=Side.BUY if delta > 0 else Side.SELL,
                quantity=quantity,
            )
        )
    return Plan(tuple(orders), tuple(unchanged))
