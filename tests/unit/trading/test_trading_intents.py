"""Unit tests of app.trading.intents: intents, TradingView's position size, the fan-out."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ids import derive, order_id_for
from app.models import Intent, Side, Signal
from app.trading.errors import InvalidIntent, TradingConfigError
from app.trading.intents import (
    IntentSpec,
    Routes,
    build_intent,
    from_market_position,
    from_tradingview,
    intent_of,
    load_routes,
    order_delta,
    parse_routes,
    plan_orders,
)
from tests.unit.trading.samples import PROPERTY, SIGNAL_ID, T0, D

EXAMPLE = Path(__file__).parents[3] / "examples" / "trading" / "routes.toml"
ROUTES = load_routes(EXAMPLE)
NO_ROUTES = Routes()


def signal(**overrides: Any) -> Signal:
    data: dict[str, Any] = {
        "symbol": "AAPL",
        "side": "buy",
        "quantity": "10",
        "order_type": "market",
        "price": "100",
        "account": "acct-1",
        "strategy": "momentum.v2",
        "signal_id": SIGNAL_ID,
        "received_at": T0,
    }
    data.update(overrides)
    return Signal.model_validate(data)


def target(value: str) -> IntentSpec:
    return build_intent(intent="target_position", target=D(value))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"intent": "order"}, "needs side and quantity"),
        ({"intent": "target_position"}, "needs a target"),
        ({"intent": "close", "target": "1"}, "does not take a target"),
        ({"intent": "close", "side": "buy"}, "not allowed for a close intent"),
        ({"intent": "flip"}, "Input should be"),
    ],
)
def test_invalid_intents(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidIntent, match=message):
        build_intent(**fields)


def test_deltas() -> None:
    order = intent_of(signal(side="sell"))
    assert order.intent is Intent.ORDER and order_delta(order, D(50)) == D(-10)
    assert order_delta(target("10"), D(0)) == D(10)
    assert order_delta(target("10"), D(10)) == 0  # a repeated target does nothing
    assert order_delta(target("-5"), D(10)) == D(-15)
    assert order_delta(target("10"), D(4), D("0.5")) == D(1)
    assert order_delta(build_intent(intent="close"), D(-7)) == D(7)


def test_tradingview_mappings() -> None:
    assert from_tradingview(D(-3)) == target("-3")
    assert from_market_position("long", D(3)).target == D(3)
    assert from_market_position("Short", D(3)).target == D(-3)
    assert from_market_position("flat", D(0)).target == 0
    with pytest.raises(InvalidIntent, match="market_position"):
        from_market_position("sideways", D(1))
    with pytest.raises(InvalidIntent, match="negative"):
        from_market_position("long", D(-1))


def test_unrouted_strategy_trades_the_signals_account_with_todays_id() -> None:
    plan = plan_orders(signal(strategy="other"), intent_of(signal()), ROUTES, {}, "corr-1")
    (o,) = plan.orders
    assert o.order_id == order_id_for(SIGNAL_ID) and o.account == "acct-1"
    assert o.quantity == D(10) and o.side is Side.BUY and o.correlation_id == "corr-1"


def test_fan_out_one_order_per_account_with_its_own_id_and_size() -> None:
    plan = plan_orders(signal(quantity="7"), intent_of(signal(quantity="7")), ROUTES, {}, "c-1")
    assert [(o.account, o.quantity) for o in plan.orders] == [("acct-1", D(7)), ("acct-2", D(3))]
    ids = [o.order_id for o in plan.orders]
    assert ids == [derive("order", SIGNAL_ID, a) for a in ("acct-1", "acct-2")]
    assert len(set(ids)) == 2 and order_id_for(SIGNAL_ID) not in ids
    again = plan_orders(signal(quantity="7"), intent_of(signal(quantity="7")), ROUTES, {}, "c-1")
    assert [o.model_dump_json() for o in again.orders] == [o.model_dump_json() for o in plan.orders]


def test_fan_out_target_uses_each_accounts_position_and_open_orders() -> None:
    positions = {"acct-1": D(10), "acct-2": D(-2)}
    plan = plan_orders(signal(), target("10"), ROUTES, positions, "c")
    assert [(o.account, o.side, o.quantity) for o in plan.orders] == [("acct-2", Side.BUY, D(7))]
    assert plan.unchanged == (("acct-1", "already at target"),)
    resting = plan_orders(signal(), target("10"), ROUTES, positions, "c", {"acct-2": D(7)})
    assert resting.orders == () and len(resting.unchanged) == 2


def test_close_flattens_every_account() -> None:
    plan = plan_orders(
        signal(), build_intent(intent="close"), ROUTES, {"acct-1": D(-4), "acct-2": D(3)}, "c"
    )
    assert [(o.account, o.side, o.quantity) for o in plan.orders] == [
        ("acct-1", Side.BUY, D(4)),
        ("acct-2", Side.SELL, D(3)),
    ]


def test_multiplier_rounding_to_zero_is_reported() -> None:
    plan = plan_orders(signal(quantity="1"), intent_of(signal(quantity="1")), ROUTES, {}, "c")
    assert [o.account for o in plan.orders] == ["acct-1"]
    assert plan.unchanged == (("acct-2", "0.5 rounds to 0"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[strategies]\ns = []", "has no accounts"),
        ("[strategies]\ns = [{ account = 'a' }, { account = 'a' }]", "lists an account twice"),
        ("[strategies]\ns = [{ account = 'a', multiplier = '0' }]", "greater than 0"),
        ("[strategies", "is not TOML"),
    ],
)
def test_bad_routes(text: str, message: str) -> None:
    with pytest.raises(TradingConfigError, match=message):
        parse_routes(text, "routes.toml")


@PROPERTY
@given(st.integers(-500, 500), st.lists(st.integers(-500, 500), min_size=1, max_size=5))
def test_targets_reach_the_target_and_repeat_as_nothing(start: int, targets: list[int]) -> None:
    position = Decimal(start)
    for goal in targets:
        plan = plan_orders(signal(), target(str(goal)), NO_ROUTES, {"acct-1": position}, "c")
        for o in plan.orders:
            position += o.signed_quantity
        assert position == goal
        repeat = plan_orders(signal(), target(str(goal)), NO_ROUTES, {"acct-1": position}, "c")
        assert repeat.orders == ()
