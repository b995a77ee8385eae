"""Changelog-backed RocksDB tables, one per module."""
