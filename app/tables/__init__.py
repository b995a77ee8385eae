"""Changelog-backed RocksDB tables, one per module.

Keys and values are stored as the bytes we give them (pydantic does the codec), in the
changelog topic and in RocksDB alike.

RocksDB memory: Faust's defaults give every partition's database 3 x 64 MiB write
buffers and a 2 GiB block cache, so N tables x P partitions could take many GiB. We
give each database ``AT_STREAM_ROCKSDB_WRITE_BUFFER_MB`` (4) x 2 write buffers and an
``AT_STREAM_ROCKSDB_BLOCK_CACHE_MB`` (8) block cache: with 5 tables and 4 partitions
that bounds RocksDB at about 20 x (8 + 8) = 320 MiB, and far less in practice, since
a cache fills only with what is read.
"""

from __future__ import annotations

from typing import Any

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
