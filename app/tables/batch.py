"""One batch's writes to raw tables, per partition, read back before they are written.

What Faust does for ``table[key] = value`` in an event (a RocksDB put, then a changelog
record sent and not awaited), done per batch and per partition: reads see what the batch
staged; ``write`` puts each partition's keys in one RocksDB write batch (only a key's last
value), synchronously, then sends their changelog records, one record batch per partition
(``app.outbox``).
Like Faust's own, the agent does not await those: Faust flushes the producer before it
commits. Once a partition's last record is acknowledged, its database records that
offset, as Faust does per record, so recovery resumes after it.

Agents stage and ``write_local`` with no await in between, so another agent's batch
cannot write the same key between a read and its write (the orders and fills agents
both write order states).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import rocksdict

from app.faust_internals import note_partition, partition_db, set_persisted_offset
from app.outbox import Outbox


class PartitionWrites:
    """Writes staged by table and partition: ``get``, ``put``, ``write_local``, ``send``."""

    def __init__(self) -> None:
        self._staged: dict[tuple[int, int], tuple[Any, dict[bytes, bytes | None]]] = {}
        self._written: list[tuple[Any, int, dict[bytes, bytes | None]]] = []

    def get(self, table: Any, partition: int, key: bytes) -> bytes | None:
        """``key``'s value in one partition: staged by this batch, else in the database."""
        staged = self._staged.get((id(table), partition))
        if staged is not None and key in staged[1]:
            return staged[1][key]
        value: bytes | None = partition_db(table, partition).get(key)
        return value

    def put(self, table: Any, partition: int, key: bytes, value: bytes | None) -> None:
        """Stage ``key`` (``None``: a delete) in one partition of ``table``."""
        entry = self._staged.get((id(table), partition))
        if entry is None:
            entry = self._staged[(id(table), partition)] = (table, {})
        entry[1][key] = value

    def restage_last(self, table: Any, partition: int, key: bytes, value: bytes | None) -> None:
        """Stage ``key`` as the partition's last write (its changelog record goes last)."""
        entry = self._staged.get((id(table), partition))
        if entry is not None:
            entry[1].pop(key, None)
        self.put(table, partition, key, value)

    def write_local(self) -> None:
        """Write what is staged to the partitions' databases (synchronously)."""
        for (_, partition), (table, items) in self._staged.items():
            batch = rocksdict.WriteBatch(raw_mode=True)
            for key, value in items.items():
                if value is None:
                    batch.delete(key)
                else:
                    batch.put(key, value)
                note_partition(table, key, None if value is None else partition)
            partition_db(table, partition).write(batch)
            self._written.append((table, partition, items))
        self._staged.clear()

    async def send(self, producer: Any) -> None:
        """Send the changelog records of what was written (acks not awaited), with
        ``producer`` (Faust's)."""
        outbox = Outbox()
        for table, partition, items in self._written:
            topic = table.changelog_topic.get_topic_name()
            ack = None
            for key, value in items.items():
                ack = outbox.add(topic, key, value, None, partition)
            if ack is not None:  # one partition's records are acknowledged in order
                ack.add_done_callback(functools.partial(_persisted, table, partition))
        self._written.clear()
        await outbox.send(producer)


def _persisted(table: Any, partition: int, ack: asyncio.Future[Any]) -> None:
    if not ack.cancelled() and ack.exception() is None:
        set_persisted_offset(table, partition, ack.result().offset)
