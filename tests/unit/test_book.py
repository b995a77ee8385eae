"""Unit tests of app.book: a batch's orders and fills over loaded states and positions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.book import Book
from app.execution import immediate_fill, order_for
from app.ids import signal_id_for
from app.models import Fill, Order, Signal
from app.order_state import OrderState, OrderStatus, Overfill
from app.positions import Position, apply_fill

KEY = b"acct-1|AAPL"
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _order(n: int, quantity: str = "2") -> tuple[Order, Fill]:
    signal = Signal.model_validate(
        {
            "symbol": "AAPL", "side": "buy", "quantity": quantity, "price": "100",
            "account": "acct-1", "strategy": "s", "signal_id": signal_id_for(f"{n}".encode()),
            "received_at": T0,
        }
    )  # fmt: skip
    order = order_for(signal)
    return order, immediate_fill(order)


def _empty() -> Book:
    return Book(lambda order_id: None, lambda key: None)


def test_an_order_and_its_fill_change_one_state_and_the_position() -> None:
    book = _empty()
    order, fill = _order(1)
    assert book.receive(order, "cid", 7)
    assert book.apply(fill, "cid", KEY, 40)
    state = book.states[order.order_id]
    assert state.status is OrderStatus.FILLED and state.order_offset == 7
    assert state.applied == (fill.fill_id,)
    position = book.positions[KEY]
    assert position.quantity == Decimal(2) and position.last_offset == 40
    assert book.applied == 1 and book.seen(KEY, 40) and not book.seen(KEY, 41)


def test_fills_of_one_batch_see_each_other() -> None:
    book = _empty()
    fills = [_order(n)[1] for n in range(5)]
    for offset, fill in enumerate(fills):
        assert book.apply(fill, "cid", KEY, offset)
    expected: Position | None = None
    for offset, fill in enumerate(fills):
        expected, _ = apply_fill(expected, fill, offset=offset)
    assert book.positions == {KEY: expected}
    assert len(book.states) == 5 and book.applied == 5


def test_a_fill_again_is_not_applied_again() -> None:
    book = _empty()
    order, fill = _order(1)
    book.receive(order, "cid", 0)
    assert book.apply(fill, "cid", KEY, 10)
    assert not book.apply(fill, "cid", KEY, 11)  # the same fill produced again
    assert book.positions[KEY].fills_applied == 1 and book.applied == 1


def test_a_second_record_of_an_order_is_not_its_own() -> None:
    book = _empty()
    order, _ = _order(1)
    assert book.receive(order, "cid", 3)
    assert book.receive(order, "cid", 3)  # redelivered: still its own
    assert not book.receive(order, "cid", 9)


def test_loaded_states_and_positions_are_the_start() -> None:
    order, fill = _order(1)
    position, _ = apply_fill(None, _order(2)[1], offset=5)
    loads: list[object] = []

    def load_state(order_id: str) -> OrderState | None:
        loads.append(order_id)
        return None

    def load_position(key: bytes) -> Position | None:
        loads.append(key)
        return position

    book = Book(load_state, load_position)
    assert book.seen(KEY, 5) and not book.seen(KEY, 6)
    assert book.apply(fill, "cid", KEY, 6)
    assert book.positions[KEY].fills_applied == 2
    assert loads == [KEY, order.order_id]  # each read once


def test_an_error_changes_nothing() -> None:
    book = _empty()
    order, fill = _order(1, quantity="2")
    book.receive(order, "cid", 0)
    book.apply(fill, "cid", KEY, 1)
    over = fill.model_copy(update={"fill_id": "other"})
    before = (dict(book.states), dict(book.positions))
    with pytest.raises(Overfill):
        book.apply(over, "cid", KEY, 2)
    assert (book.states, book.positions) == before
