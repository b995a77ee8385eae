"""The fills step over one batch's writes: fills applied to their positions and order
states, as the fills agent applies every record of ``fills`` and the orders agent the
fills it produced (``app.tables.applied_fills``). One piece of code for both, so that
the two cannot drift.

Each position and order state is read once per batch and kept as an object; what changed
is staged once, in its last state, by :meth:`FillStep.stage`.
"""

from __future__ import annotations

from typing import cast

from app import order_state
from app.models import Fill
from app.order_state import OrderState
from app.positions import Position
from app.tables import order_states, positions
from app.tables.batch import PartitionWrites

States = dict[tuple[int, str], OrderState | None]
"""Order states by (partition, order id), as the batch sees them."""


class FillStep:
    """Fills applied over ``writes``; ``states`` and ``changed`` (order ids in
    first-change order) may be the caller's, when it changes order states too."""

    def __init__(
        self,
        writes: PartitionWrites,
        states: States | None = None,
        changed: dict[tuple[int, str], None] | None = None,
    ) -> None:
        self.writes = writes
        self.states: States = {} if states is None else states
        self.changed: dict[tuple[int, str], None] = {} if changed is None else changed
        self.applied = 0
        """How many fills the positions applied (the rest were copies)."""
        self._held: dict[tuple[int, bytes], Position | None] = {}
        self._moved: dict[tuple[int, bytes], None] = {}  # in first-change order

    def apply(
        self, partition: int, key: bytes, fill: Fill, offset: int, correlation_id: str
    ) -> bool:
        """Apply the ``fills`` record at ``offset`` of ``partition``: whether its position
        applied it (False: a copy of a fill it has). Raises what
        :func:`app.order_state.apply_fill_record` raises, and then changes nothing."""
        where, at = (partition, fill.order_id), (partition, key)
        if where not in self.states:
            self.states[where] = order_states.get_in(self.writes, partition, fill.order_id)
        state = self.states[where] or order_state.from_fill(fill, correlation_id)
        if at not in self._held:
            self._held[at] = positions.get_in(self.writes, partition, key)
        position, applied, after = order_state.apply_fill_record(
            self._held[at], state, fill, offset
        )
        if applied:
            self._held[at], self._moved[at] = position, None
            self.applied += 1
        if after is not state:
            self.states[where], self.changed[where] = after, None
        return applied

    def stage(self) -> None:
        """Stage every position and order state that changed, each once."""
        for at in self._moved:
            positions.stage(self.writes, at[0], cast(Position, self._held[at]))
        for where in self.changed:
            order_states.stage(self.writes, where[0], cast(OrderState, self.states[where]))
