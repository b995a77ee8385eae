"""The audit store's readiness (``/readyz`` ``audit_store_reachable``) and its gauges, with
a real SQLite store: not ready until the first write, not while a write fails or the probe
gets no answer, ready again once both succeed; no check at all when the sink is off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.audit import health
from app.audit.metrics import AUDIT_DB_UP, AUDIT_SINK_ENABLED
from app.audit.store import SQLiteStore


def gauge(metric: object) -> float:
    value: float = metric._value.get()  # type: ignore[attr-defined]
    return value


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    health.reset(True)
    db = SQLiteStore(f"sqlite:///{tmp_path / 'audit.db'}")
    try:
        yield db
    finally:
        await db.close()
        health.reset(False)


def test_not_ready_until_the_store_took_the_migration(store: SQLiteStore) -> None:
    assert health.audit_ready() is False
    assert gauge(AUDIT_SINK_ENABLED) == 1 and gauge(AUDIT_DB_UP) == 0
    health.answered(True)
    assert health.audit_ready() is True and gauge(AUDIT_DB_UP) == 1


def test_a_refused_write_is_not_ready_even_when_reads_answer(store: SQLiteStore) -> None:
    health.answered(True)
    health.answered(False)  # what the sink's retry records for a refused write
    health.answered(True, probe=True)  # the probe's read still answers (SQLite locked, WAL)
    assert health.audit_ready() is False and gauge(AUDIT_DB_UP) == 0
    health.answered(True)  # the retried write went through
    assert health.audit_ready() is True and gauge(AUDIT_DB_UP) == 1


def test_a_write_that_went_through_answers_for_a_failed_probe(store: SQLiteStore) -> None:
    health.answered(True)
    health.answered(False, probe=True)  # e.g. timed out behind a slow write
    assert health.audit_ready() is False
    health.answered(True)
    assert health.audit_ready() is True and gauge(AUDIT_DB_UP) == 1


async def test_the_probe_notices_an_idle_store_going_away_and_coming_back(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.migrate()
    health.answered(True)
    monkeypatch.setattr(health, "PROBE_INTERVAL", 0.01)
    monkeypatch.setattr(health, "PROBE_TIMEOUT", 0.2)
    halt = asyncio.Event()
    probing = asyncio.ensure_future(health.probe(store, halt))
    version = store.version
    try:
        await asyncio.sleep(0.1)
        assert health.audit_ready() is True

        async def silent() -> int:  # a store that does not answer within the timeout
            await asyncio.sleep(5)
            return 0

        monkeypatch.setattr(store, "version", silent)
        await asyncio.sleep(0.5)
        assert health.audit_ready() is False and gauge(AUDIT_DB_UP) == 0
        monkeypatch.setattr(store, "version", version)
        await asyncio.sleep(0.3)
        assert health.audit_ready() is True and gauge(AUDIT_DB_UP) == 1
    finally:
        halt.set()
        await asyncio.wait_for(probing, 2)


async def test_a_store_that_cannot_be_opened_fails_the_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    health.reset(True)
    health.answered(True)
    (tmp_path / "file").write_text("")
    db = SQLiteStore(f"sqlite:///{tmp_path / 'file' / 'audit.db'}")  # under a file: no dir
    monkeypatch.setattr(health, "PROBE_INTERVAL", 0.01)
    halt = asyncio.Event()
    probing = asyncio.ensure_future(health.probe(db, halt))
    try:
        await asyncio.sleep(0.2)
        assert health.audit_ready() is False
    finally:
        halt.set()
        await asyncio.wait_for(probing, 2)
        await db.close()
        health.reset(False)


def test_nothing_to_check_when_the_sink_is_off() -> None:
    health.reset(False)
    assert health.audit_ready() is None and gauge(AUDIT_SINK_ENABLED) == 0
