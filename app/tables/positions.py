"""Positions by ``account|symbol`` (netting mode): changelog-backed RocksDB table.

Written by the signals agent (the fills it executes) and the fills agent (fills from the
topic), per batch and partition (``stage``): a position's partition is that of its fills,
whose key is the same ``account|symbol``.
"""

from __future__ import annotations

from app.main import app, settings
from app.positions import Position
from app.tables import partition_get, raw_table, read
from app.tables.batch import TableWrites

positions = raw_table(
    app,
    "positions",
    settings,
    "account|symbol -> Position (quantity, average price, realized PnL, applied fills).",
)


def get(key: bytes) -> Position | None:
    raw = read(positions, key)
    return None if raw is None else Position.loads(raw)


def put(position: Position) -> None:
    positions[position.key] = position.dumps()


def local() -> list[Position]:
    """The positions of this worker's partitions."""
    return [Position.loads(raw) for _, raw in positions.items()]


def get_in(partition: int, key: bytes) -> Position | None:
    """Read from one partition's database (outside an event; the caller knows it)."""
    raw = partition_get(positions, partition, key)
    return None if raw is None else Position.loads(raw)


def stage(writes: TableWrites, partition: int, position: Position) -> None:
    """Stage a write of ``position`` in ``partition`` (its record's partition)."""
    writes.put(positions, partition, position.key, position.dumps())
