"""Unit tests of app.trading.trading_state: ACTIVE / REDUCING / HALTED and the kill switch."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.trading.trading_state import (
    GLOBAL,
    TradingState,
    TradingStateChange,
    TradingStates,
    apply_change,
    stricter,
)
from tests.unit.trading.samples import PROPERTY, T0


def change(n: int, scope: str, state: TradingState, seconds: int = 0) -> TradingStateChange:
    return TradingStateChange(
        change_id=f"c{n}", scope=scope, state=state, at=T0 + timedelta(seconds=seconds)
    )


def test_effective_state_is_the_stricter() -> None:
    states = TradingStates()
    assert states.effective("a") is TradingState.ACTIVE
    states, _ = apply_change(states, change(1, "a", TradingState.REDUCING))
    assert states.effective("a") is TradingState.REDUCING
    assert states.effective("b") is TradingState.ACTIVE
    states, _ = apply_change(states, change(2, GLOBAL, TradingState.HALTED, 1))
    assert states.effective("a") is states.effective("b") is TradingState.HALTED
    assert stricter(TradingState.ACTIVE, TradingState.REDUCING) is TradingState.REDUCING


def test_changes_are_idempotent_and_older_ones_lose() -> None:
    halt, resume = change(1, "a", TradingState.HALTED, 5), change(2, "a", TradingState.ACTIVE, 9)
    states, applied = apply_change(TradingStates(), halt)
    assert applied
    assert apply_change(states, halt) == (states, False)
    states, _ = apply_change(states, resume)
    assert apply_change(states, halt) == (states, False)  # a late redelivery
    assert states.of("a") is TradingState.ACTIVE
    assert states.scopes["a"].change_id == "c2"
    assert TradingStates.model_validate_json(states.model_dump_json()) == states
    assert TradingStateChange.model_validate_json(halt.dumps()) == halt


@PROPERTY
@given(
    st.permutations(
        [
            change(n, s, st_, n % 4)
            for n, (s, st_) in enumerate(
                [
                    ("a", TradingState.HALTED),
                    (GLOBAL, TradingState.REDUCING),
                    ("a", TradingState.ACTIVE),
                    ("b", TradingState.REDUCING),
                    (GLOBAL, TradingState.ACTIVE),
                    ("a", TradingState.REDUCING),
                ]
            )
        ]
    ),
    st.integers(0, 5),
)
def test_any_order_and_redelivery_give_the_same_states(
    changes: list[TradingStateChange], repeat: int
) -> None:
    states = TradingStates()
    for c in [*changes, *changes[:repeat]]:
        states, _ = apply_change(states, c)
    ordered = TradingStates()
    for c in sorted(changes, key=lambda c: (c.at, c.change_id)):
        ordered, _ = apply_change(ordered, c)
    assert states == ordered
