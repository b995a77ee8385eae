"""Changelog-backed RocksDB tables, one per module.

Keys and values are stored as the bytes we give them (pydantic does the codec), in the
changelog topic and in RocksDB alike.
"""

from __future__ import annotations

from typing import Any


def raw_table(app: Any, name: str, partitions: int, help: str) -> Any:
    """A table of bytes to bytes, with the app's partition count."""
    table = app.Table(name, key_type=bytes, value_type=bytes, partitions=partitions, help=help)
    # Faust derives the store codec from key_type/value_type ("json" for bytes): use raw.
    table.key_serializer = table.value_serializer = "raw"
    return table
