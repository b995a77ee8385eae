"""One batch's writes to raw tables, each partition's at once.

What Faust does for ``table[key] = value`` in an event, done per batch and per partition:
the partition's RocksDB database (one write batch), then the changelog records, sent with
the producer directly and, as Faust's own, not awaited (Faust flushes the producer before
it commits). Only a key's last value in the batch is written. Once a partition's changelog
records are acknowledged, its database records the last offset, as Faust does per record,
so recovery resumes after it.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import rocksdict

from app.faust_internals import note_partition, partition_db, set_persisted_offset


class TableWrites:
    """Writes staged by partition: ``put`` them, ``write_local`` them, ``send`` the changelog."""

    def __init__(self) -> None:
        self._tables: dict[int, tuple[Any, dict[int, dict[bytes, bytes | None]]]] = {}
        self._written: list[tuple[Any, int, dict[bytes, bytes | None]]] = []

    def put(self, table: Any, partition: int, key: bytes, value: bytes | None) -> None:
        """Stage ``key`` (``None``: a delete) in one partition of ``table``."""
        entry = self._tables.get(id(table))
        if entry is None:
            entry = self._tables[id(table)] = (table, {})
        entry[1].setdefault(partition, {})[key] = value

    def write_local(self) -> None:
        """Write what is staged to the partitions' databases (synchronously)."""
        for table, partitions in self._tables.values():
            for partition, items in partitions.items():
                batch = rocksdict.WriteBatch(raw_mode=True)
                for key, value in items.items():
                    if value is None:
                        batch.delete(key)
                    else:
                        batch.put(key, value)
                    note_partition(table, key, None if value is None else partition)
                partition_db(table, partition).write(batch)
                self._written.append((table, partition, items))
        self._tables.clear()

    async def send(self, producer: Any) -> list[Any]:
        """Send the changelog records of what was written; their acks, not awaited.

        Like Faust's own table writes, the agent need not wait for them: Faust's commit
        flushes the producer first. Each partition's database records its last offset
        once acknowledged (the records of one partition are acknowledged in order).
        """
        acks: list[Any] = []
        for table, partition, items in self._written:
            topic = table.changelog_topic.get_topic_name()
            ack = None
            for key, value in items.items():
                ack = await producer.send(topic, key, value, partition, None, None)
                acks.append(ack)
            if ack is not None:
                ack.add_done_callback(functools.partial(_persisted, table, partition))
        self._written.clear()
        return acks

    async def flush(self, producer: Any) -> list[Any]:
        """``write_local`` then ``send``."""
        self.write_local()
        return await self.send(producer)


def _persisted(table: Any, partition: int, ack: asyncio.Future[Any]) -> None:
    if not ack.cancelled() and ack.exception() is None:
        set_persisted_offset(table, partition, ack.result().offset)
