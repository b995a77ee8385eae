"""Positions by ``account|symbol`` (netting mode): changelog-backed RocksDB table.

Written by the fills agent, and by the orders agent for the fills it produced
(``app.tables.applied_fills``), through their batch's ``PartitionWrites``, in the partition
of the fill, whose key is the same ``account|symbol``.
"""

from __future__ import annotations

from app.main import app, settings
from app.positions import Position
from app.tables import raw_table, read
from app.tables.batch import PartitionWrites

positions = raw_table(
    app,
    "positions",
    settings,
    "account|symbol -> Position (quantity, average price, realized PnL, applied fills).",
)


def get(key: bytes) -> Position | None:
    raw = read(positions, key)
    return None if raw is None else Position.loads(raw)


def local() -> list[Position]:
    """The positions of this worker's partitions."""
    return [Position.loads(raw) for _, raw in positions.items()]


def get_in(writes: PartitionWrites, partition: int, key: bytes) -> Position | None:
    """Read from one partition, as a batch sees it (what it staged, else the database)."""
    raw = writes.get(positions, partition, key)
    return None if raw is None else Position.loads(raw)


def stage(writes: PartitionWrites, partition: int, position: Position) -> None:
    """Stage a write of ``position`` in ``partition`` (its record's partition)."""
    writes.put(positions, partition, position.key, position.dumps())
