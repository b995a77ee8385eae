"""Versioned migrations of the audit store, per dialect.

``schema_version`` holds one row per migration applied. ``migrate`` applies the missing
ones in one transaction (under an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite, so two workers starting at once do not race); a database whose version is newer
than ``LATEST`` stops start-up (``SchemaTooNew``). A migration is never edited once
released: a change is a new version.
"""

from __future__ import annotations

from dataclasses import dataclass

SQLITE = "sqlite"
POSTGRES = "postgresql"


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]

    def statements(self, dialect: str) -> tuple[str, ...]:
        return self.sqlite if dialect == SQLITE else self.postgresql


VERSION_TABLE = {
    SQLITE: "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
    "description TEXT NOT NULL, applied_at_us INTEGER NOT NULL)",
    POSTGRES: "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
    "description text NOT NULL, applied_at_us bigint NOT NULL)",
}
LOCK_ID = 0x617564697401  # pg_advisory_xact_lock key of the audit migrations


def _v1(t: dict[str, str]) -> tuple[str, ...]:
    return (
        f"""CREATE TABLE audit_events (
            topic {t["text"]} NOT NULL,
            kafka_partition {t["int"]} NOT NULL,
            kafka_offset {t["big"]} NOT NULL,
            record_key {t["text"]},
            event_type {t["text"]} NOT NULL,
            event_id {t["text"]},
            correlation_id {t["text"]},
            cause_id {t["text"]},
            account {t["text"]},
            symbol {t["text"]},
            event_time_us {t["big"]},
            broker_time_us {t["big"]} NOT NULL,
            ingest_time_us {t["big"]} NOT NULL,
            headers {t["jsonb"]} NOT NULL,
            payload {t["json"]},
            value_raw {t["blob"]},
            PRIMARY KEY (topic, kafka_partition, kafka_offset)
        )""",
        "CREATE INDEX audit_events_time ON audit_events "
        "(broker_time_us, topic, kafka_partition, kafka_offset)",
        "CREATE INDEX audit_events_correlation ON audit_events (correlation_id)",
        "CREATE INDEX audit_events_event_id ON audit_events (event_id)",
    )


_V2_INDEXES = (
    "CREATE INDEX audit_events_signal ON audit_events (signal_id)",
    "CREATE INDEX audit_events_order ON audit_events (order_id)",
    "CREATE INDEX audit_events_position ON audit_events (account, symbol, broker_time_us)",
    "CREATE INDEX audit_events_type ON audit_events (event_type, broker_time_us)",
)
_SQLITE_T = {
    "text": "TEXT",
    "int": "INTEGER",
    "big": "INTEGER",
    "json": "TEXT",
    "jsonb": "TEXT",
    "blob": "BLOB",
}
_PG_T = {
    "text": "text",
    "int": "integer",
    "big": "bigint",
    "json": "json",
    "jsonb": "jsonb",
    "blob": "bytea",
}

MIGRATIONS = (
    Migration(
        1, "audit_events: one row per (topic, partition, offset)", _v1(_SQLITE_T), _v1(_PG_T)
    ),
    Migration(
        2,
        "signal_id and order_id columns (backfilled from the payload), trace indexes",
        (
            "ALTER TABLE audit_events ADD COLUMN signal_id TEXT",
            "ALTER TABLE audit_events ADD COLUMN order_id TEXT",
            "UPDATE audit_events SET signal_id = json_extract(payload, '$.signal_id'), "
            "order_id = json_extract(payload, '$.order_id') "
            "WHERE payload IS NOT NULL AND json_valid(payload) AND json_type(payload) = 'object'",
            *_V2_INDEXES,
        ),
        (
            "ALTER TABLE audit_events ADD COLUMN signal_id text",
            "ALTER TABLE audit_events ADD COLUMN order_id text",
            "UPDATE audit_events SET signal_id = payload->>'signal_id', "
            "order_id = payload->>'order_id' "
            "WHERE payload IS NOT NULL AND json_typeof(payload) = 'object'",
            *_V2_INDEXES,
        ),
    ),
)
LATEST = MIGRATIONS[-1].version


def pending(current: int) -> list[Migration]:
    """The migrations a database at ``current`` lacks, in order."""
    return [m for m in MIGRATIONS if m.version > current]
