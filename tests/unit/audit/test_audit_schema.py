"""Migrations on a real SQLite file: from nothing, from version 1 with data, and a refusal
of a schema newer than the code."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.audit import schema
from app.audit.errors import SchemaTooNew
from app.audit.store import SQLiteStore, redact, sqlite_path
from tests.unit.audit.samples import chain

V1_COLUMNS = (
    "topic",
    "kafka_partition",
    "kafka_offset",
    "record_key",
    "event_type",
    "event_id",
    "correlation_id",
    "cause_id",
    "account",
    "symbol",
    "event_time_us",
    "broker_time_us",
    "ingest_time_us",
    "headers",
    "payload",
    "value_raw",
)


def version_1_database(path: Path) -> None:
    """A store as the previous release left it: migration 1 only, with records."""
    db = sqlite3.connect(path)
    db.execute(schema.VERSION_TABLE[schema.SQLITE])
    for statement in schema.MIGRATIONS[0].sqlite:
        db.execute(statement)
    db.execute("INSERT INTO schema_version VALUES (1, 'v1', 0)")
    for row in chain(1, "cid-00000001"):
        values = {c: getattr(row, c) for c in V1_COLUMNS}
        db.execute(
            f"INSERT INTO audit_events ({', '.join(V1_COLUMNS)}) VALUES "
            f"({', '.join('?' * len(V1_COLUMNS))})",
            list(values.values()),
        )
    db.commit()
    db.close()


async def test_fresh_store_gets_every_migration(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path}/a/b/audit.db")  # directories created
    try:
        assert await store.version() == 0
        assert await store.migrate() == schema.LATEST
        assert await store.migrate() == schema.LATEST  # again: nothing to do
        rows = await store.fetch("SELECT version FROM schema_version ORDER BY 1", [])
        assert [r["version"] for r in rows] == [m.version for m in schema.MIGRATIONS]
        mode = await store.fetch("PRAGMA journal_mode", [])
        assert mode == [{"journal_mode": "wal"}]
    finally:
        await store.close()


async def test_migration_from_version_1_backfills_the_ids(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    version_1_database(path)
    store = SQLiteStore(f"sqlite:///{path}")
    try:
        assert await store.version() == 1
        assert await store.migrate() == 2
        rows = await store.fetch(
            "SELECT topic, event_id, signal_id, order_id FROM audit_events ORDER BY topic", []
        )
        sig, order, fill = chain(1, "cid-00000001")
        assert rows == [
            {
                "topic": "fills",
                "event_id": fill.event_id,
                "signal_id": sig.event_id,
                "order_id": order.event_id,
            },
            {
                "topic": "orders",
                "event_id": order.event_id,
                "signal_id": sig.event_id,
                "order_id": order.event_id,
            },
            {
                "topic": "signals",
                "event_id": sig.event_id,
                "signal_id": sig.event_id,
                "order_id": None,
            },
        ]
        assert await store.write(chain(2, "cid-00000002", offset=1)) == 3  # v2 inserts work
        assert await store.write(chain(1, "cid-00000001")) == 0  # and v1's rows count
    finally:
        await store.close()


async def test_a_newer_schema_stops_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    store = SQLiteStore(f"sqlite:///{path}")
    await store.migrate()
    await store.execute("INSERT INTO schema_version VALUES (99, 'from the future', 0)", [])
    try:
        with pytest.raises(SchemaTooNew) as err:
            await store.migrate()
        assert err.value.found == 99 and err.value.known == schema.LATEST
        assert "schema version 99, this at-stream knows up to 2: upgrade at-stream" in str(
            err.value
        )
        assert await store.version() == 99  # nothing was changed
    finally:
        await store.close()


def test_urls() -> None:
    assert sqlite_path("sqlite:////var/lib/audit.db") == "/var/lib/audit.db"
    assert sqlite_path("sqlite:///var/audit.db") == "var/audit.db"
    assert sqlite_path("sqlite://:memory:") == ":memory:"
    assert redact("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("postgresql://h/db") == "postgresql://h/db"
