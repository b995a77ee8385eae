"""``app.restore`` without a broker: what it restores and how it fails (the rest runs in
``tests/integration/test_restore.py`` against the real broker)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from app import restore


def test_no_rocksdb_tables_means_nothing_to_read() -> None:
    memory_table = SimpleNamespace(data={}, is_global=False)
    done = asyncio.run(restore.restore([memory_table], "127.0.0.1:1"))  # type: ignore[list-item]
    assert (done.records, done.partitions) == (0, 0)


def test_a_failed_restore_only_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def unreachable(*args: Any, **kwargs: Any) -> restore.Restored:
        raise ConnectionError("broker down")

    monkeypatch.setattr(restore, "restore", unreachable)
    with caplog.at_level(logging.WARNING, logger="app.restore"):
        asyncio.run(restore.restore_before_start([], "127.0.0.1:1"))
    assert [r.getMessage() for r in caplog.records] == ["fast restore skipped: broker down"]
