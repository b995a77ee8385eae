"""SQL of the audit queries, built as (text, parameters) for either dialect. Pure.

Every list is in one stable order, ``(broker_time_us, topic, kafka_partition,
kafka_offset)``: the record's broker timestamp, then its unique position in the log.
A page's cursor is the last row's position in that order (keyset pagination: no OFFSET,
so a page costs the same however deep). It is readable on purpose, and any string of
its pattern is a valid position: ``<broker_time_us>.<partition>.<offset>.<topic>``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from app.audit.records import COLUMNS
from app.audit.schema import SQLITE

ORDER = ("broker_time_us", "topic", "kafka_partition", "kafka_offset")
CURSOR_PATTERN = r"^\d{1,18}\.\d{1,9}\.\d{1,18}\.[A-Za-z0-9._\-]{1,200}$"
_CURSOR = re.compile(CURSOR_PATTERN)
SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM audit_events"
TRACE_LIMIT = 10_000
TYPE_RANK = {"signal": 0, "risk": 1, "order": 2, "fill": 4, "dead_letter": 5}
"""Order of event types with one broker timestamp in a trace (unknown types: 3)."""


@dataclass(frozen=True)
class Cursor:
    broker_time_us: int
    topic: str
    kafka_partition: int
    kafka_offset: int

    def encode(self) -> str:
        return f"{self.broker_time_us}.{self.kafka_partition}.{self.kafka_offset}.{self.topic}"

    @classmethod
    def decode(cls, value: str) -> Cursor:
        if not _CURSOR.fullmatch(value):
            raise ValueError("not a cursor of this API (take next_cursor from a page)")
        time_us, partition, offset, topic = value.split(".", 3)
        return cls(int(time_us), topic, int(partition), int(offset))

    @classmethod
    def of(cls, row: dict[str, Any]) -> Cursor:
        return cls(row["broker_time_us"], row["topic"], row["kafka_partition"], row["kafka_offset"])


@dataclass(frozen=True)
class EventFilter:
    """What the list and export select; every field given must match (AND)."""

    correlation_id: str | None = None
    signal_id: str | None = None
    order_id: str | None = None
    fill_id: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    account: str | None = None
    symbol: str | None = None
    topic: str | None = None
    since_us: int | None = None
    until_us: int | None = None


class Params:
    """Collects parameters and names their placeholders for the dialect."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return "?" if self.dialect == SQLITE else f"${len(self.values)}"


_EQUALS = (
    "correlation_id",
    "signal_id",
    "order_id",
    "event_id",
    "event_type",
    "account",
    "symbol",
    "topic",
)


def where(f: EventFilter, p: Params) -> list[str]:
    conds = [f"{name} = {p(getattr(f, name))}" for name in _EQUALS if getattr(f, name)]
    if f.fill_id:
        conds.append(f"event_type = 'fill' AND event_id = {p(f.fill_id)}")
    if f.since_us is not None:
        conds.append(f"broker_time_us >= {p(f.since_us)}")
    if f.until_us is not None:
        conds.append(f"broker_time_us < {p(f.until_us)}")
    return conds


def list_events(
    f: EventFilter, dialect: str, *, limit: int, after: Cursor | None = None
) -> tuple[str, list[Any]]:
    """One page: ``limit + 1`` rows are asked for, the extra one says a next page exists."""
    p = Params(dialect)
    conds = where(f, p)
    if after is not None:
        keys = ", ".join(
            p(v)
            for v in (after.broker_time_us, after.topic, after.kafka_partition, after.kafka_offset)
        )
        conds.append(f"({', '.join(ORDER)}) > ({keys})")
    sql = SELECT + (" WHERE " + " AND ".join(conds) if conds else "")
    sql += f" ORDER BY {', '.join(ORDER)} LIMIT {p(limit + 1)}"
    return sql, p.values


def one_event(topic: str, partition: int, offset: int, dialect: str) -> tuple[str, list[Any]]:
    p = Params(dialect)
    sql = (
        f"{SELECT} WHERE topic = {p(topic)} AND kafka_partition = {p(partition)} "
        f"AND kafka_offset = {p(offset)}"
    )
    return sql, p.values


def trace_events(ident: str, dialect: str, limit: int = TRACE_LIMIT) -> tuple[str, list[Any]]:
    """Every record of a correlation id, or of a signal (its order, fills, dead letters)."""
    p = Params(dialect)
    sql = (
        f"{SELECT} WHERE correlation_id = {p(ident)} OR signal_id = {p(ident)} "
        f"ORDER BY {', '.join(ORDER)} LIMIT {p(limit)}"
    )
    return sql, p.values


def fills_of_position(
    topic: str, partition: int, key: str, up_to_offset: int, dialect: str
) -> tuple[str, list[Any]]:
    """The fills of one position key up to a fill's offset, in the order they applied."""
    p = Params(dialect)
    sql = (
        f"SELECT payload, kafka_offset FROM audit_events WHERE topic = {p(topic)} "
        f"AND kafka_partition = {p(partition)} AND record_key = {p(key)} "
        f"AND kafka_offset <= {p(up_to_offset)} AND payload IS NOT NULL "
        "ORDER BY kafka_offset"
    )
    return sql, p.values


def insert(dialect: str) -> str:
    """The idempotent insert: a row already stored at its (topic, partition, offset) stays."""
    conflict = " ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING"
    cols = ", ".join(COLUMNS)
    if dialect == SQLITE:
        return f"INSERT INTO audit_events ({cols}) VALUES ({', '.join('?' * len(COLUMNS))})" + (
            conflict
        )
    types = [PG_ARRAY_TYPES.get(c, "text[]") for c in COLUMNS]
    arrays = ", ".join(f"${i}::{t}" for i, t in enumerate(types, 1))
    return f"INSERT INTO audit_events ({cols}) SELECT * FROM unnest({arrays})" + conflict


PG_ARRAY_TYPES = {
    "kafka_partition": "integer[]",
    "kafka_offset": "bigint[]",
    "event_time_us": "bigint[]",
    "broker_time_us": "bigint[]",
    "ingest_time_us": "bigint[]",
    "headers": "jsonb[]",
    "payload": "json[]",
    "value_raw": "bytea[]",
}


@dataclass(frozen=True)
class Retention:
    """Delete rows older than ``cutoff_us``: of ``topic``, or (None) of every topic but
    ``except_topics`` (those have their own rule)."""

    cutoff_us: int
    topic: str | None = None
    except_topics: tuple[str, ...] = ()


def retention_plan(
    default_days: float | None, per_topic: dict[str, float], topics: dict[str, str], now_us: int
) -> list[Retention]:
    """The deletions the settings ask for. ``per_topic`` keys are real topic names or the
    logical ones (``signals``, ``dead-letters``...), resolved through ``topics``
    (logical -> real)."""
    day = 86_400 * 1_000_000
    rules = {topics.get(name, name): days for name, days in per_topic.items()}
    plan = [Retention(now_us - int(days * day), topic) for topic, days in sorted(rules.items())]
    if default_days is not None:
        plan.append(Retention(now_us - int(default_days * day), None, tuple(sorted(rules))))
    return plan


def delete_expired(rule: Retention, dialect: str, chunk: int) -> tuple[str, list[Any]]:
    """Delete at most ``chunk`` expired rows (run until it deletes none: short locks)."""
    p = Params(dialect)
    conds = [f"broker_time_us < {p(rule.cutoff_us)}"]
    if rule.topic is not None:
        conds.append(f"topic = {p(rule.topic)}")
    if rule.except_topics:
        conds.append(f"topic NOT IN ({', '.join(p(t) for t in rule.except_topics)})")
    pk = "topic, kafka_partition, kafka_offset"
    sql = (
        f"DELETE FROM audit_events WHERE ({pk}) IN (SELECT {pk} FROM audit_events "
        f"WHERE {' AND '.join(conds)} LIMIT {p(chunk)})"
    )
    return sql, p.values


def filter_names() -> Sequence[str]:
    return [f.name for f in fields(EventFilter)]
