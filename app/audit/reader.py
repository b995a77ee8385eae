"""What the API and the CLI ask the store: pages, one event, traces, exports, retention."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from app.audit import queries, trace
from app.audit.queries import Cursor, EventFilter
from app.audit.store import Store
from app.positions import Position

log = logging.getLogger(__name__)
EXPORT_PAGE = 5000
RETENTION_CHUNK = 10_000


def event_json(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the API and the exports show it: times in ISO 8601 UTC, the payload as the
    JSON it was (decimals stay strings), a value that was not JSON in base64."""
    raw = row.get("value_raw")
    payload = row.get("payload")
    headers = row.get("headers") or "{}"
    return {
        "topic": row["topic"],
        "partition": row["kafka_partition"],
        "offset": row["kafka_offset"],
        "key": row["record_key"],
        "event_type": row["event_type"],
        "event_id": row["event_id"],
        "correlation_id": row["correlation_id"],
        "cause_id": row["cause_id"],
        "signal_id": row["signal_id"],
        "order_id": row["order_id"],
        "account": row["account"],
        "symbol": row["symbol"],
        "event_time": trace.iso(row["event_time_us"]),
        "broker_time": trace.iso(row["broker_time_us"]),
        "ingest_time": trace.iso(row["ingest_time_us"]),
        "headers": orjson.loads(headers) if isinstance(headers, str | bytes) else headers,
        "payload": orjson.loads(payload) if payload is not None else None,
        "value_base64": base64.b64encode(bytes(raw)).decode() if raw is not None else None,
    }


async def page(
    store: Store, f: EventFilter, limit: int, cursor: Cursor | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of rows and the cursor of the next (None: this is the last)."""
    sql, params = queries.list_events(f, store.dialect, limit=limit, after=cursor)
    rows = await store.fetch(sql, params)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, Cursor.of(rows[-1]).encode() if more and rows else None


async def one(store: Store, topic: str, partition: int, offset: int) -> dict[str, Any] | None:
    sql, params = queries.one_event(topic, partition, offset, store.dialect)
    rows = await store.fetch(sql, params)
    return rows[0] if rows else None


async def trace_of(store: Store, ident: str) -> trace.Trace | None:
    """The trace of a correlation id or a signal id; None when no record has it."""
    sql, params = queries.trace_events(ident, store.dialect)
    rows = await store.fetch(sql, params)
    if not rows:
        return None
    positions: dict[tuple[str, int, int], Position | None] = {}
    for row in rows:
        if row["event_type"] == "fill" and row["record_key"]:
            sql, params = queries.fills_of_position(
                row["topic"],
                row["kafka_partition"],
                row["record_key"],
                row["kafka_offset"],
                store.dialect,
            )
            fills = await store.fetch(sql, params)
            key = (row["topic"], row["kafka_partition"], row["kafka_offset"])
            positions[key] = trace.position_after((f["payload"], f["kafka_offset"]) for f in fills)
    return trace.build(
        ident,
        rows,
        lambda r: positions.get((r["topic"], r["kafka_partition"], r["kafka_offset"])),
    )


async def export(store: Store, f: EventFilter) -> AsyncIterator[dict[str, Any]]:
    """Every matching row, in the list's order, page by page."""
    cursor: Cursor | None = None
    while True:
        rows, nxt = await page(store, f, EXPORT_PAGE, cursor)
        for row in rows:
            yield row
        if nxt is None:
            return
        cursor = Cursor.decode(nxt)


async def enforce_retention(
    store: Store,
    default_days: float | None,
    per_topic: dict[str, float],
    topics: dict[str, str],
    now_us: int | None = None,
) -> int:
    """Delete what the retention settings expire, in chunks; the number deleted."""
    now_us = now_us if now_us is not None else time.time_ns() // 1000
    deleted = 0
    for rule in queries.retention_plan(default_days, per_topic, topics, now_us):
        while True:
            sql, params = queries.delete_expired(rule, store.dialect, RETENTION_CHUNK)
            n = await store.execute(sql, params)
            deleted += n
            if n < RETENTION_CHUNK:
                break
    if deleted:
        log.info("audit retention deleted %d records", deleted)
    return deleted
