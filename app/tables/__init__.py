"""Changelog-backed RocksDB tables, one per module.

Keys and values are stored as the bytes we give them (pydantic does the codec), in the
changelog topic and in RocksDB alike.

RocksDB memory: Faust's defaults give every partition's database 3 x 64 MiB write
buffers and a 2 GiB block cache, so N tables x P partitions could take many GiB. We
give each database ``AT_STREAM_ROCKSDB_WRITE_BUFFER_MB`` (2) x 2 write buffers and an
``AT_STREAM_ROCKSDB_BLOCK_CACHE_MB`` (2) block cache: with 4 tables and 4 partitions
that bounds RocksDB at about 16 x (4 + 2) = 96 MiB. Under load the memtables and caches
do fill: with 4 and 8 MiB the bench's worker grew ~50 MB more at 2,000 signals/s, at
the same throughput (docs/BENCHMARKS.md).
"""

from __future__ import annotations

from typing import Any

from aiokafka.partitioner import murmur2

from app import faust_internals
from app.faust_internals import note_partition, partition_db
from app.settings import Settings

MIB = 1024 * 1024


def rocksdb_options(settings: Settings) -> dict[str, Any]:
    """A fresh options dict per table (Faust's store pops keys out of the one it gets)."""
    return {
        "write_buffer_size": settings.rocksdb_write_buffer_mb * MIB,
        "max_write_buffer_number": 2,
        "target_file_size_base": 16 * MIB,
        "block_cache_size": settings.rocksdb_block_cache_mb * MIB,
        "block_cache_compressed_size": 0,
        "max_open_files": 256,
    }


def raw_table(app: Any, name: str, settings: Settings, help: str) -> Any:
    """A table of bytes to bytes, with the app's partition count."""
    table = app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.topic_partitions,
        options=rocksdb_options(settings),
        help=help,
    )
    # Faust derives the store codec from key_type/value_type ("json" for bytes): use raw.
    table.key_serializer = table.value_serializer = "raw"
    return table


def read(table: Any, key: bytes) -> bytes | None:
    """One store read (``Table.get`` reads twice: ``key in store``, then ``store[key]``)."""
    value: bytes | None = table.data.get(key)
    return value


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (and so Faust's router) gives ``key``."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


def partition_get(table: Any, partition: int, key: bytes) -> bytes | None:
    """Read ``key`` from one partition's database, from outside a stream event.

    Faust's store looks a key up in every partition's database when no event names the
    partition; the caller that knows it reads one.
    """
    value: bytes | None = partition_db(table, partition).get(key)
    return value


def partition_set(table: Any, partition: int, key: bytes, value: bytes | None) -> None:
    """Write (``None``: delete) ``key`` in one partition from outside a stream event.

    What Faust's table does for a write within an event of that partition: the store's
    database, then the changelog record (buffered, not awaited; its ack moves the
    persisted offset). Faust's RocksDB store has no public call for it.
    """
    db = partition_db(table, partition)
    if value is None:
        db.delete(key)
        note_partition(table, key, None)
    else:
        db.put(key, value)
        note_partition(table, key, partition)
    table.send_changelog(partition, key, value, value_serializer="raw")  # None: a tombstone


def size_estimate(table: Any) -> int:
    """RocksDB's estimate of the keys this worker holds of ``table`` (every open partition).

    Cheap (no scan): the ``rocksdb.estimate-num-keys`` property of each open partition
    database; deletes are counted until compacted.
    """
    total = 0
    for db in faust_internals.open_dbs(table):
        value = db.property_int_value("rocksdb.estimate-num-keys")
        total += int(value or 0)
    return total
