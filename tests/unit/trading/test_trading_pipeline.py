"""The trading domain end to end, still pure: a signal fans out to two accounts, each
order passes its own risk checks, is matched against quotes, and its fills build the
account's position."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from app.models import Signal
from app.order_state import OrderStatus
from app.positions import Position, apply_fill
from app.trading.events import OrderEvent, ReasonCode, to_fill
from app.trading.intents import IntentSpec, build_intent, load_routes, plan_orders
from app.trading.matching import on_quote, submit
from app.trading.risk import AccountRisk, Exposure, check_order, parse_risk_config
from app.trading.trading_state import (
    GLOBAL,
    TradingState,
    TradingStateChange,
    TradingStates,
    apply_change,
)
from app.trading.venue_config import load_simulator_config
from tests.unit.trading.samples import SIGNAL_ID, T0, D, quote

EXAMPLES = Path(__file__).parents[3] / "examples" / "trading"
VENUE = load_simulator_config(EXAMPLES / "simulator.toml").venue("sim")
ROUTES = load_routes(EXAMPLES / "routes.toml")
RISK = parse_risk_config('[default]\nmax_position = "15"\n[accounts.acct-2]\nmax_position = "4"')


def signal(n: int, seconds: int) -> Signal:
    return Signal.model_validate(
        {
            "symbol": "AAPL",
            "side": "buy",
            "quantity": "1",
            "order_type": "market",
            "price": "100",
            "account": "acct-1",
            "strategy": "momentum.v2",
            "signal_id": SIGNAL_ID[:-4] + f"{n:04d}",
            "received_at": T0 + timedelta(seconds=seconds),
        }
    )


def trade(
    sig: Signal,
    intent: IntentSpec,
    positions: dict[str, Position],
    risk: dict[str, AccountRisk],
    states: TradingStates,
) -> list[OrderEvent]:
    held = {a: p.quantity for a, p in positions.items()}
    events: list[OrderEvent] = []
    for order in plan_orders(sig, intent, ROUTES, held, "corr-pipeline").orders:
        exposure = Exposure({"AAPL": held.get(order.account, D(0))}, {}, D(0))
        decision = check_order(
            order,
            RISK.for_account(order.account),
            exposure,
            risk.get(order.account),
            states.effective(order.account),
        )
        risk[order.account] = decision.account
        if decision.rejection is not None:
            events.append(decision.rejection)
            continue
        state, first = submit(order, VENUE)
        events.extend(first)
        at = order.submitted_at + timedelta(seconds=1)
        for step in range(5):
            state, more = on_quote(
                state,
                quote(
                    "99.98",
                    "100.02",
                    at=at + timedelta(seconds=step),
                    ask_size="1000",
                    bid_size="1000",
                ),
                VENUE,
            )
            events.extend(more)
        for event in events:
            if event.is_fill and event.order_id == order.order_id:
                positions[order.account], _ = apply_fill(
                    positions.get(order.account), to_fill(event)
                )
    return events


def test_targets_fan_out_risk_and_the_kill_switch() -> None:
    positions: dict[str, Position] = {}
    risk: dict[str, AccountRisk] = {}
    states = TradingStates()
    go_long = build_intent(intent="target_position", target=D(10))

    events = trade(signal(1, 0), go_long, positions, risk, states)
    fills = [e for e in events if e.is_fill]
    assert {e.account for e in fills} == {"acct-1"}  # acct-2's 5 (x 0.5) exceeds its 4
    assert positions["acct-1"].quantity == D(10) and "acct-2" not in positions
    rejected = [e for e in events if e.status is OrderStatus.REJECTED]
    assert [(e.account, e.reason_code) for e in rejected] == [
        ("acct-2", ReasonCode.MAX_POSITION_SYMBOL)
    ]
    assert all(e.commission >= 1 for e in fills if e.cumulative_quantity == e.last_quantity)

    assert trade(signal(2, 10), go_long, positions, risk, states)[-1].account == "acct-2"
    assert positions["acct-1"].quantity == D(10)  # the repeated target did nothing

    states, _ = apply_change(
        states, TradingStateChange(change_id="k1", scope=GLOBAL, state=TradingState.REDUCING, at=T0)
    )
    more = trade(
        signal(3, 20), build_intent(intent="target_position", target=D(12)), positions, risk, states
    )
    assert [(e.account, e.reason_code) for e in more] == [
        ("acct-1", ReasonCode.REDUCING_ONLY),
        ("acct-2", ReasonCode.REDUCING_ONLY),
    ]
    flat = trade(signal(4, 30), build_intent(intent="close"), positions, risk, states)
    assert [e.status for e in flat] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert flat[-1].account == "acct-1"  # acct-2 is flat: nothing to close
    assert positions["acct-1"].quantity == Decimal(0)
