"""The positions rebuild of ``at-stream reset`` (``app.rebuild.PartitionRebuild``): the fills
agent's outcome for every kind of record, without a broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from hypothesis import given, settings
from hypothesis import strategies as st

from app import order_state
from app.errors import AtStreamError
from app.models import Fill, Side
from app.order_state import OrderState
from app.positions import Position, apply_fill
from app.rebuild import PartitionRebuild, RebuildError, ensure_topic
from app.topics import CORRELATION_HEADER

T0 = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
KEY = b"acct-1|AAPL"
HEADERS = [(CORRELATION_HEADER, b"cid-1")]


def fill(
    order: int, seq: int, side: str, quantity: str, price: str, order_quantity: str = "10"
) -> Fill:
    return Fill(
        fill_id=str(uuid.UUID(int=(order << 16) | seq)),
        order_id=str(uuid.UUID(int=(1 << 64) | order)),
        signal_id=str(uuid.UUID(int=(2 << 64) | order)),
        account="acct-1",
        symbol="AAPL",
        side=Side(side),
        quantity=Decimal(quantity),
        price=Decimal(price),
        fee=Decimal("0.01"),
        order_quantity=Decimal(order_quantity),
        filled_at=T0 + timedelta(seconds=order * 100 + seq),
    )


def rebuilt(*records: tuple[bytes | None, bytes | None]) -> PartitionRebuild:
    part = PartitionRebuild("fills")
    for offset, (key, value) in enumerate(records):
        part.apply(key, value, HEADERS, offset)
    return part


def test_partial_fills_then_copies_of_them_count_once() -> None:
    a, b = fill(1, 1, "buy", "4", "100"), fill(1, 2, "buy", "6", "101")
    part = rebuilt(*((KEY, f.dumps()) for f in (a, b, a, b)))  # b fills the order
    position = part.positions[KEY]
    assert position.quantity == 10 and position.fills_applied == 2
    assert position.last_offset == 1 and position.applied == (a.fill_id, b.fill_id)
    assert (part.applied, part.unchanged) == (2, 2)
    assert not part.open_orders and part.filled_orders == {a.order_id}  # kept as an id only


def test_records_the_fills_agent_dead_letters_change_nothing() -> None:
    good = fill(1, 1, "buy", "10", "100")
    part = rebuilt(
        (KEY, good.dumps()),
        (KEY, fill(1, 2, "buy", "1", "100").dumps()),  # beyond the filled order: overfill
        (KEY, fill(2, 1, "buy", "11", "100").dumps()),  # more than its order's quantity
        (b"acct-2|AAPL", fill(3, 1, "buy", "1", "100").dumps()),  # under another key
        (KEY, b"{not json"),
        (KEY, None),
    )
    assert part.positions[KEY].quantity == 10 and part.positions[KEY].fills_applied == 1
    assert (part.applied, part.unchanged) == (1, 5)


def test_an_open_order_keeps_its_state_until_filled() -> None:
    part = rebuilt((KEY, fill(1, 1, "sell", "3", "100").dumps()))
    state = part.open_orders[str(uuid.UUID(int=(1 << 64) | 1))]
    assert state.filled_quantity == 3 and state.correlation_id == "cid-1"
    assert part.positions[KEY].quantity == -3


def _agent(records: list[Fill]) -> Position | None:
    """The fills agent's position logic (``app.agents.fills``), every order state kept."""
    position: Position | None = None
    states: dict[str, OrderState] = {}
    for offset, f in enumerate(records):
        state = states.get(f.order_id) or order_state.from_fill(f, "cid-1")
        try:
            new, applied = apply_fill(
                position, f, offset=offset, order_applied_at=state.applied_at(f.fill_id)
            )
            states[f.order_id], _ = order_state.apply_fill(state, f, offset)
        except AtStreamError:
            continue
        if applied:
            position = new
    return position


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 4),  # the order (odd: a buy, even: a sell)
            st.integers(1, 3),  # its fill's sequence number: a repeat is a copy
            st.integers(1, 3),  # quantity, of an order of 4: fills, partial fills, overfills
            st.booleans(),  # else an order of the fill's own quantity (a market order's fill)
        ),
        max_size=40,
    )
)
def test_the_same_positions_as_the_fills_agent(records: list[tuple[int, int, int, bool]]) -> None:
    fills = [
        fill(
            order,
            seq,
            "buy" if order % 2 else "sell",
            str(q),
            str(100 + seq),
            "4" if of4 else str(q),
        )
        for order, seq, q, of4 in records
    ]
    part = rebuilt(*((KEY, f.dumps()) for f in fills))
    assert part.positions.get(KEY) == _agent(fills)


class _Admin:
    """What ``ensure_topic`` asks of aiokafka's admin client: the broker's answers as
    seen after a reset, scripted (a unit test of the retry, not of Kafka)."""

    def __init__(self, creates: list[Exception | None], listed_after: int) -> None:
        self.creates, self.listed_after = creates, listed_after
        self.created = self.listed = 0

    async def create_topics(self, topics: list[NewTopic]) -> Any:
        self.created += 1
        answer = self.creates.pop(0) if self.creates else TopicAlreadyExistsError()
        if answer is not None:
            raise answer
        return None

    async def list_topics(self) -> list[str]:
        self.listed += 1
        return ["t"] if self.listed > self.listed_after else []


async def test_ensure_topic_waits_until_the_topic_is_listed() -> None:
    still_deleting = TopicAlreadyExistsError()  # the old changelog, marked for deletion
    admin = _Admin([still_deleting, still_deleting, None], listed_after=3)
    await ensure_topic(admin, NewTopic("t", 4, 1), timeout=10)
    assert admin.created == 4 and admin.listed == 4


async def test_ensure_topic_gives_up_with_a_clear_error() -> None:
    admin = _Admin([None], listed_after=10**9)
    with pytest.raises(RebuildError, match="t could not be created within 0s"):
        await ensure_topic(admin, NewTopic("t", 4, 1), timeout=0.3)
    assert admin.listed >= 2
