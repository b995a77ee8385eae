"""Order state by order id: changelog-backed RocksDB table.

Written by the orders agent (its lifecycle events, and the fills it produced:
``app.tables.applied_fills``) and the fills agent (the other fills). Orders and
fills of one order share the key ``account|symbol``, so both events of an order land on
the same partition number and the entry's changelog partition is that of its events.
"""

from __future__ import annotations

from app.main import app, settings
from app.order_state import OrderState
from app.tables import raw_table, read
from app.tables.batch import PartitionWrites

order_states = raw_table(
    app,
    "order-states",
    settings,
    "order_id -> OrderState (status, filled quantity, average fill price, ids).",
)


def get(order_id: str) -> OrderState | None:
    raw = read(order_states, order_id.encode())
    return None if raw is None else OrderState.loads(raw)


def local() -> list[OrderState]:
    """The order states of this worker's partitions."""
    return [OrderState.loads(raw) for _, raw in order_states.items()]


def get_in(writes: PartitionWrites, partition: int, order_id: str) -> OrderState | None:
    """Read from one partition, as a batch sees it (what it staged, else the database)."""
    raw = writes.get(order_states, partition, order_id.encode())
    return None if raw is None else OrderState.loads(raw)


def stage(writes: PartitionWrites, partition: int, state: OrderState) -> None:
    """Stage a write of ``state`` in ``partition`` (its record's partition)."""
    writes.put(order_states, partition, state.order_id.encode(), state.dumps())
