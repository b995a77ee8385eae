"""The in-memory markers that let the orders agent apply its own fills (no Faust)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ids import derive
from app.models import Fill, Side
from app.tables import applied_fills
from app.tables.applied_fills import Own, continuing


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    applied_fills.forget()
    try:
        yield
    finally:
        applied_fills.forget()


def _own(offset: int) -> Own:
    fill = Fill(
        fill_id=derive("fill", str(offset)),
        order_id=derive("order", str(offset)),
        signal_id=derive("signal", str(offset)),
        account="acct-1",
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal("1"),
        price=Decimal("10"),
        filled_at=datetime(2026, 12, 4, tzinfo=UTC),
    )
    return Own(offset, b"acct-1|AAPL", "corr", fill)


def test_nothing_is_taken_before_the_fills_agent_has_set_the_marker() -> None:
    assert continuing(None, [0, 1, 2]) == []


def test_a_run_continues_the_marker_without_a_gap() -> None:
    assert continuing(9, [10, 11, 12]) == [0, 1, 2]
    assert continuing(9, [8, 9, 10, 11]) == [2, 3]  # the fills agent got to 8 and 9 first
    assert continuing(9, [11, 12]) == []  # 10 is another producer's: the fills agent's
    assert continuing(9, [10, 11, 13, 14]) == [0, 1]  # a gap ends the run
    assert continuing(20, [10, 11]) == []  # all applied already


@given(st.integers(-1, 50), st.lists(st.integers(0, 100), unique=True).map(sorted))
def test_what_is_taken_is_exactly_the_gapless_run_after_the_marker(
    last: int, offsets: list[int]
) -> None:
    taken = [offsets[i] for i in continuing(last, offsets)]
    assert taken == list(range(last + 1, last + 1 + len(taken)))
    assert len(taken) == len(set(offsets) & set(range(last + 1, last + 1 + len(taken))))
    assert last + 1 + len(taken) not in offsets  # the run stops only at a gap or the end


def test_the_marker_holds_for_one_generation_and_never_moves_back() -> None:
    assert applied_fills.through(0, 1) is None
    applied_fills.advance(0, 1, 10)
    assert applied_fills.through(0, 1) == 10
    applied_fills.advance(0, 1, 7)
    assert applied_fills.through(0, 1) == 10
    assert applied_fills.through(0, 2) is None  # after a rebalance
    assert applied_fills.through(1, 1) is None
    applied_fills.advance(0, 2, 3)  # the new generation's first record
    assert applied_fills.through(0, 2) == 3 and applied_fills.through(0, 1) is None
    applied_fills.advance(0, None, 50)  # a record fetched by no consumer: no marker
    assert applied_fills.through(0, None) is None and applied_fills.through(0, 2) == 3


def test_fills_wait_for_the_next_batch_of_their_generation_only() -> None:
    applied_fills.keep_waiting(0, 1, [_own(1), _own(2)])
    applied_fills.keep_waiting(1, 1, [_own(5)])
    now = applied_fills.waiting(1, {0: [_own(4), _own(3)]})
    assert {p: [f.offset for f in fills] for p, fills in now.items()} == {0: [1, 2, 3, 4], 1: [5]}
    assert applied_fills.waiting(2, {}) == {}  # a rebalance forgets them
    assert applied_fills.waiting(1, {}) == {}


def test_at_most_max_waiting_fills_wait() -> None:
    applied_fills.keep_waiting(0, 1, [_own(i) for i in range(applied_fills.MAX_WAITING + 1)])
    assert applied_fills.waiting(1, {}) == {}
    applied_fills.keep_waiting(0, 1, [_own(1)])
    applied_fills.keep_waiting(0, 1, [])
    assert applied_fills.waiting(1, {}) == {}
