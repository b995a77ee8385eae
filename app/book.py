"""Order states and positions of one partition as a batch of orders and fills changes them.

Pure, no Faust: the agents give it how to load a state or a position, feed it the batch's
orders and fills in log order, then write what changed (``states``, ``positions``). It
applies what the per-record agents applied, record after record, each record seeing the
one before it in the batch.
"""

from __future__ import annotations

from collections.abc import Callable

from app import order_state
from app.models import Fill, Order
from app.order_state import OrderState
from app.positions import Position, apply_fill

StateLoader = Callable[[str], OrderState | None]
PositionLoader = Callable[[bytes], Position | None]


class Book:
    """A partition's order states and positions, read once and changed in memory."""

    def __init__(self, load_state: StateLoader, load_position: PositionLoader) -> None:
        self._load_state = load_state
        self._load_position = load_position
        self._states: dict[str, OrderState | None] = {}
        self._positions: dict[bytes, Position | None] = {}
        self.states: dict[str, OrderState] = {}
        """Order states changed, by order id: to be written."""
        self.positions: dict[bytes, Position] = {}
        """Positions changed, by key: to be written."""
        self.applied = 0
        """Fills applied to a position."""

    def state(self, order_id: str) -> OrderState | None:
        if order_id not in self._states:
            self._states[order_id] = self._load_state(order_id)
        return self._states[order_id]

    def position(self, key: bytes) -> Position | None:
        if key not in self._positions:
            self._positions[key] = self._load_position(key)
        return self._positions[key]

    def _set_state(self, state: OrderState) -> None:
        self._states[state.order_id] = self.states[state.order_id] = state

    def seen(self, key: bytes, offset: int) -> bool:
        """True if the position of ``key`` applied the fills record at ``offset`` already."""
        position = self.position(key)
        return position is not None and offset <= position.last_offset

    def receive(self, order: Order, correlation_id: str, offset: int) -> bool:
        """Record the ``orders`` record at ``offset``; True if it is the order's own."""
        state = self.state(order.order_id)
        new, own = order_state.receive(state, order, correlation_id, offset)
        if new is not state:
            self._set_state(new)
        return own

    def apply(self, fill: Fill, correlation_id: str, key: bytes, offset: int) -> bool:
        """Apply the fill (the fills record at ``offset``, keyed ``key``) to its position
        and its order; False if either had it already. Raises as the pure functions do
        (``AtStreamError``), before changing anything."""
        state = self.state(fill.order_id) or order_state.from_fill(fill, correlation_id)
        if state.has_applied(fill.fill_id):  # produced again (e.g. after a crash)
            return False
        position, applied = apply_fill(self.position(key), fill, offset=offset)
        new_state, _ = order_state.apply_fill(state, fill)
        if applied:
            self.applied += 1
            self._positions[key] = self.positions[position.key] = position
        if new_state is not state:
            self._set_state(new_state)
        return applied
