"""Unit tests of app.order_state: accept, fills, terminal statuses, serialization."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import AtStreamError
from app.execution import immediate_fill, order_for
from app.ids import fill_id_for, signal_id_for
from app.models import Fill, Order, Side, Signal
from app.order_state import (
    FILLED_BEFORE_CLOSE,
    TERMINAL,
    FillMismatch,
    InvalidTransition,
    OrderState,
    OrderStatus,
    Overfill,
    accept,
    apply_fill,
    cancel,
    expire,
    from_fill,
    receive,
    reject,
)

RECEIVED = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
LATER = RECEIVED + timedelta(minutes=5)
CORRELATION = "corr-0001-abcd"
D = Decimal


def _order(quantity: str = "10") -> Order:
    signal = Signal.model_validate(
        {
            "symbol": "AAPL",
            "side": "buy",
            "quantity": quantity,
            "order_type": "market",
            "price": "187.25",
            "account": "acct-1",
            "strategy": "momentum",
            "signal_id": signal_id_for(b"order-state"),
            "received_at": RECEIVED,
        }
    )
    return order_for(signal)


ORDER = _order()


def _fill(seq: int, quantity: str, price: str = "100", fee: str = "0", **over: Any) -> Fill:
    base = immediate_fill(ORDER)
    return base.model_copy(
        update={
            "fill_id": fill_id_for(ORDER.order_id, seq),
            "quantity": D(quantity),
            "price": D(price),
            "fee": D(fee),
            "filled_at": RECEIVED + timedelta(seconds=seq),
            **over,
        }
    )


def _accepted() -> OrderState:
    return accept(ORDER, CORRELATION)


def test_accept_copies_the_order() -> None:
    state = _accepted()
    assert state.order_id == ORDER.order_id and state.signal_id == ORDER.signal_id
    assert state.correlation_id == CORRELATION
    assert (state.account, state.symbol, state.side) == ("acct-1", "AAPL", Side.BUY)
    assert state.quantity == D(10) and state.status is OrderStatus.ACCEPTED
    assert state.filled_quantity == 0 and state.avg_fill_price == 0 and state.applied == ()
    assert state.remaining_quantity == D(10)
    assert state.updated_at == RECEIVED and not state.is_terminal


def test_a_partial_then_a_completing_fill() -> None:
    state, applied = apply_fill(_accepted(), _fill(1, "4", "100", "0.5"))
    assert applied and state.status is OrderStatus.PARTIALLY_FILLED
    assert (state.filled_quantity, state.avg_fill_price, state.fees) == (D(4), D(100), D("0.5"))
    assert state.remaining_quantity == D(6)
    assert state.updated_at == RECEIVED + timedelta(seconds=1)
    state, applied = apply_fill(state, _fill(2, "6", "110", "0.5"))
    assert applied and state.status is OrderStatus.FILLED and state.is_terminal
    assert (state.filled_quantity, state.avg_fill_price, state.fees) == (D(10), D(106), D(1))
    assert state.applied == (fill_id_for(ORDER.order_id, 1), fill_id_for(ORDER.order_id, 2))


def test_the_immediate_fill_fills_the_order() -> None:
    state, applied = apply_fill(_accepted(), immediate_fill(ORDER))
    assert applied and state.status is OrderStatus.FILLED
    assert state.avg_fill_price == D("187.25")


def test_an_inexact_average_is_rounded_to_twelve_places() -> None:
    state, _ = apply_fill(_accepted(), _fill(1, "1", "100"))
    state, _ = apply_fill(state, _fill(2, "2", "101"))
    assert state.avg_fill_price == D("100.666666666667")
    assert state.filled_notional == D(302)


def test_a_duplicate_fill_is_a_no_op_even_when_filled() -> None:
    first = _fill(1, "4")
    state, _ = apply_fill(_accepted(), first)
    again, applied = apply_fill(state, first)
    assert not applied and again is state
    done, _ = apply_fill(state, _fill(2, "6"))
    again, applied = apply_fill(done, first)
    assert not applied and again is done


def test_an_overfill_is_refused() -> None:
    state, _ = apply_fill(_accepted(), _fill(1, "8"))
    with pytest.raises(Overfill) as info:
        apply_fill(state, _fill(2, "3"))
    err = info.value
    assert isinstance(err, AtStreamError)
    assert (err.quantity, err.filled_quantity, err.fill_quantity) == (D(10), D(8), D(3))
    assert err.order_id == ORDER.order_id and "overfills" in str(err)


def test_a_new_fill_of_a_filled_order_is_an_overfill() -> None:
    state, _ = apply_fill(_accepted(), _fill(1, "10"))
    with pytest.raises(Overfill):
        apply_fill(state, _fill(2, "0.001"))


@pytest.mark.parametrize("field", ["order_id", "account", "symbol", "side"])
def test_a_fill_of_another_order_is_refused(field: str) -> None:
    other = {"order_id": fill_id_for("x"), "account": "acct-2", "symbol": "MSFT", "side": "sell"}
    with pytest.raises(FillMismatch) as info:
        apply_fill(_accepted(), _fill(1, "1", **{field: other[field]}))
    assert info.value.field == field


def test_reject_an_accepted_order() -> None:
    state = reject(_accepted(), "risk: max position", at=LATER)
    assert state.status is OrderStatus.REJECTED and state.reason == "risk: max position"
    assert state.updated_at == LATER and state.is_terminal


def test_a_repeated_reject_keeps_the_first_outcome() -> None:
    state = reject(_accepted(), "first", at=LATER)
    assert reject(state, "second") is state


def test_reject_after_a_fill_is_refused() -> None:
    state, _ = apply_fill(_accepted(), _fill(1, "1"))
    with pytest.raises(InvalidTransition) as info:
        reject(state, "too late")
    assert info.value.status is OrderStatus.PARTIALLY_FILLED and info.value.action == "reject"


def test_cancel_keeps_the_fills() -> None:
    state, _ = apply_fill(_accepted(), _fill(1, "4"))
    state = cancel(state, "user", at=LATER)
    assert state.status is OrderStatus.CANCELLED and state.filled_quantity == D(4)
    assert state.reason == "user"


def test_expire_defaults_its_time_to_now() -> None:
    before = datetime.now(UTC)
    state = expire(_accepted())
    assert state.status is OrderStatus.EXPIRED and state.reason == "expired"
    assert state.updated_at >= before


def _terminal_states() -> list[OrderState]:
    filled, _ = apply_fill(_accepted(), _fill(1, "10"))
    return [
        filled,
        reject(_accepted(), "no", at=LATER),
        cancel(_accepted(), at=LATER),
        expire(_accepted(), at=LATER),
    ]


ACTIONS: dict[str, Callable[[OrderState], object]] = {
    "reject": lambda s: reject(s, "x"),
    "cancel": lambda s: cancel(s),
    "expire": lambda s: expire(s),
    "fill": lambda s: apply_fill(s, _fill(9, "1")),
}


@pytest.mark.parametrize("state", _terminal_states(), ids=lambda s: s.status.value)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_no_transition_leaves_a_terminal_status(state: OrderState, action: str) -> None:
    assert state.status in TERMINAL
    same = {"reject": OrderStatus.REJECTED, "cancel": OrderStatus.CANCELLED}
    same["expire"] = OrderStatus.EXPIRED
    if same.get(action) is state.status:
        assert ACTIONS[action](state) is state
        return
    if action == "fill" and state.status in FILLED_BEFORE_CLOSE:
        after, applied = apply_fill(state, _fill(9, "1"))  # a fill from before the close
        assert applied and after.status is state.status
        return
    filling_a_filled = action == "fill" and state.status is OrderStatus.FILLED
    expected = Overfill if filling_a_filled else InvalidTransition
    with pytest.raises(expected):
        ACTIONS[action](state)


def test_dumps_loads_round_trip() -> None:
    state, _ = apply_fill(_accepted(), _fill(1, "1", "100", "0.25"))
    state, _ = apply_fill(state, _fill(2, "2", "101"))
    raw = state.dumps()
    data = json.loads(raw)
    assert data["status"] == "partially_filled" and data["avg_fill_price"] == "100.666666666667"
    assert data["filled_quantity"] == "3" and data["fees"] == "0.25"
    back = OrderState.loads(raw)
    assert back == state and back.dumps() == raw


@settings(max_examples=100, deadline=None)
@given(
    parts=st.lists(
        st.decimals(min_value=D("0.01"), max_value=D(5), places=2), min_size=1, max_size=8
    ),
    data=st.data(),
)
def test_fills_summing_to_the_quantity_fill_it_whatever_the_duplicates(
    parts: list[Decimal], data: st.DataObject
) -> None:
    order = _order(str(sum(parts, D(0))))
    fills = [
        immediate_fill(order).model_copy(
            update={"fill_id": fill_id_for(order.order_id, i), "quantity": q}
        )
        for i, q in enumerate(parts)
    ]
    deliveries = list(fills)
    for _ in range(data.draw(st.integers(0, len(fills)))):
        i = data.draw(st.integers(0, len(fills) - 1))
        at = data.draw(st.integers(deliveries.index(fills[i]) + 1, len(deliveries)))
        deliveries.insert(at, fills[i])
    state = accept(order, CORRELATION)
    applied = 0
    for f in deliveries:
        state, fresh = apply_fill(state, f)
        applied += fresh
    assert applied == len(fills)
    assert state.status is OrderStatus.FILLED and state.filled_quantity == order.quantity
    assert state.avg_fill_price == order.price


def test_receive_first_record_accepts_the_order_at_its_offset() -> None:
    state, own = receive(None, ORDER, CORRELATION, 17)
    assert own and state.status is OrderStatus.ACCEPTED and state.order_offset == 17


def test_receive_same_offset_again_is_a_redelivery_of_the_own_record() -> None:
    state, _ = receive(None, ORDER, CORRELATION, 17)
    filled, _ = apply_fill(state, _fill(1, "1"))
    again, own = receive(filled, ORDER, CORRELATION, 17)
    assert own and again is filled  # nothing to write: the state stands


def test_receive_same_order_at_another_offset_is_a_duplicate() -> None:
    state, _ = receive(None, ORDER, CORRELATION, 17)
    for offset in (3, 18, 10_000):
        again, own = receive(state, ORDER, CORRELATION, offset)
        assert not own and again is state


def test_receive_adopts_the_first_record_of_an_order_seen_through_its_fill() -> None:
    state = from_fill(immediate_fill(ORDER), CORRELATION)
    assert state.order_offset is None
    adopted, own = receive(state, ORDER, CORRELATION, 5)
    assert own and adopted.order_offset == 5
    assert receive(adopted, ORDER, CORRELATION, 6) == (adopted, False)


def test_the_offset_each_fill_came_from_is_kept() -> None:
    state, _ = apply_fill(_accepted(), _fill(1, "3"), 11)
    state, _ = apply_fill(state, _fill(2, "2"), 14)
    assert state.applied_at(_fill(1, "3").fill_id) == 11
    assert state.applied_at(_fill(2, "2").fill_id) == 14
    assert state.applied_at(_fill(3, "1").fill_id) is None
    legacy = state.model_copy(update={"fill_offsets": ()})  # written before the field
    assert legacy.applied_at(_fill(2, "2").fill_id) == -1
    later, _ = apply_fill(legacy, _fill(3, "1"), 20)
    assert later.fill_offsets == (-1, -1, 20)
    assert OrderState.loads(later.dumps()) == later
