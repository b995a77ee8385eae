"""Pure logic turning a signal into what the execution step reads on ``orders``, and
the configuration of that step (issue 12).

``commands_for``: one order per account the signal's strategy is routed to (the routes
file; unrouted: the signal's own account, with today's order id), or for a
``target_position``/``close`` intent one :class:`~app.trading.commands.TargetRequest` per
account. ``immediate_fill`` (fill the whole order at once at its limit, stop or reference
price) is what execution did before the simulator; the bench's plain-Faust baseline
still uses it.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, localcontext
from typing import NamedTuple

from app.ids import fill_id_for, order_id_for
from app.models import Fill, Intent, Order, Signal
from app.settings import Settings
from app.trading.commands import Kind, TargetRequest
from app.trading.engine import Engine
from app.trading.intents import Route, Routes, load_routes, routed_order_id
from app.trading.risk import RiskConfig, load_risk_config
from app.trading.venue_config import VenueConfig, load_simulator_config
from app.trusted import trusted, updated

ZERO = Decimal(0)


def load_engine(settings: Settings) -> Engine:
    """The simulator venue and risk limits the settings name (:class:`TradingConfigError`
    if a file is missing or malformed). No simulator file: every symbol trades, with no
    latency, slippage or fees; no risk file: no limits."""
    venue = VenueConfig(reject_unknown_symbols=False)
    if settings.simulator_config is not None:
        config = load_simulator_config(settings.simulator_config)
        venue = config.venue(settings.simulator_venue)
    risk = RiskConfig()
    if settings.risk_config is not None:
        risk = load_risk_config(settings.risk_config)
    return Engine(venue=venue, risk=risk, external=settings.venue != "simulator")


def routes_of(settings: Settings) -> Routes:
    return Routes() if settings.routes_file is None else load_routes(settings.routes_file)


class Command(NamedTuple):
    kind: Kind
    key: bytes
    value: Order | TargetRequest


def _scaled(quantity: Decimal, route: Route) -> Decimal:
    """``quantity`` x the route's multiplier, rounded toward zero to its increment."""
    unit = route.quantity_increment or Decimal("1e-12")
    with localcontext(prec=100):
        if route.multiplier == 1 and route.quantity_increment is None:
            return quantity
        scaled = quantity * route.multiplier
        return (scaled / unit).to_integral_value(rounding=ROUND_DOWN) * unit


def commands_for(signal: Signal, routes: Routes) -> tuple[list[Command], list[str]]:
    """What ``signal`` puts on ``orders``, and a line for each routed account it gives
    nothing (its quantity rounds to 0)."""
    routed = routes.routed(signal.strategy)
    out: list[Command] = []
    skipped: list[str] = []
    for route in routes.routes_for(signal.strategy, signal.account):
        order_id = routed_order_id(signal.signal_id, route.account, routed)
        key = f"{route.account}|{signal.symbol}".encode()
        if signal.intent is Intent.ORDER:
            order = order_for(signal, order_id)
            if routed:
                assert signal.quantity is not None  # validated: an order intent has one
                quantity = _scaled(signal.quantity, route)
                if quantity <= 0:
                    skipped.append(f"{route.account}: {signal.quantity} x {route.multiplier} is 0")
                    continue
                order = updated(order, account=route.account, quantity=quantity)
            out.append(Command(Kind.ORDER, key, order))
            continue
        target = ZERO
        if signal.intent is Intent.TARGET_POSITION:
            assert signal.target is not None  # validated
            sign = -1 if signal.target < 0 else 1
            target = sign * _scaled(abs(signal.target), route)
        request = TargetRequest(
            order_id=order_id,
            signal_id=signal.signal_id,
            intent=signal.intent,
            target=target,
            account=route.account,
            strategy=signal.strategy,
            symbol=signal.symbol,
            order_type=signal.order_type,
            limit_price=signal.limit_price,
            stop_price=signal.stop_price,
            price=signal.price,
            time_in_force=signal.time_in_force,
            created_at=signal.received_at,
        )
        out.append(Command(Kind.TARGET, key, request))
    return out, skipped


def order_for(signal: Signal, order_id: str | None = None) -> Order:
    """The one order an ``order`` signal causes on its own account (``order_id``: its id
    if known, else the signal's own order id); same signal, same order, byte for byte.
    Built from the validated signal's fields (the same types): not validated again."""
    assert signal.side is not None and signal.quantity is not None  # an order intent
    return trusted(
        Order,
        order_id=order_id or order_id_for(signal.signal_id),
        signal_id=signal.signal_id,
        account=signal.account,
        strategy=signal.strategy,
        symbol=signal.symbol,
        side=signal.side,
        quantity=signal.quantity,
        order_type=signal.order_type,
        limit_price=signal.limit_price,
        stop_price=signal.stop_price,
        price=signal.price,
        time_in_force=signal.time_in_force,
        created_at=signal.received_at,
    )


def immediate_fill(order: Order) -> Fill:
    """Fill the whole order at once: at its limit, else its stop, else its reference price."""
    price = order.limit_price or order.stop_price or order.price
    if price is None:  # guarded by SignalIn's validation; kept for orders from elsewhere
        raise ValueError(f"order {order.order_id} has no price to fill at")
    return Fill(
        fill_id=fill_id_for(order.order_id),
        order_id=order.order_id,
        signal_id=order.signal_id,
        account=order.account,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        price=price,
        order_quantity=order.quantity,
        filled_at=order.created_at,
    )
