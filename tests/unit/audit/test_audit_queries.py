"""The SQL builders, as text and run on a real SQLite store (the same text PostgreSQL runs
with ``$n`` placeholders: ``tests/integration/test_audit.py`` runs it there)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.audit import queries, reader
from app.audit.queries import Cursor, EventFilter, Retention
from app.audit.schema import POSTGRES, SQLITE
from app.audit.store import SQLiteStore
from tests.unit.audit.samples import chain, dead_letter


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(f"sqlite:///{tmp_path}/audit.db")
    await s.migrate()
    try:
        yield s
    finally:
        await s.close()


def test_placeholders_per_dialect() -> None:
    f = EventFilter(account="a", symbol="B", since_us=5)
    lite, lp = queries.list_events(f, SQLITE, limit=10)
    pg, pp = queries.list_events(f, POSTGRES, limit=10)
    assert "account = ? AND symbol = ? AND broker_time_us >= ?" in lite
    assert "account = $1 AND symbol = $2 AND broker_time_us >= $3" in pg
    assert lite.endswith("LIMIT ?") and pg.endswith("LIMIT $4")
    assert lp == pp == ["a", "B", 5, 11]


def test_no_filter_no_where_and_the_cursor_is_a_keyset() -> None:
    sql, params = queries.list_events(EventFilter(), SQLITE, limit=2)
    assert "WHERE" not in sql and params == [3]
    after = Cursor(10, "fills", 1, 7)
    sql, params = queries.list_events(EventFilter(), POSTGRES, limit=2, after=after)
    assert "(broker_time_us, topic, kafka_partition, kafka_offset) > ($1, $2, $3, $4)" in sql
    assert params == [10, "fills", 1, 7, 3]


def test_cursor_round_trip_and_refusal() -> None:
    c = Cursor(1_767_623_400_123_000, "at-x.fills", 3, 99)
    assert Cursor.decode(c.encode()) == c
    for bad in ("", "1.2.3", "a.1.2.t", "1.2.3.bad topic", "1" * 19 + ".0.0.t"):
        with pytest.raises(ValueError):
            Cursor.decode(bad)


def test_inserts_are_idempotent_per_offset() -> None:
    assert "ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING" in queries.insert(SQLITE)
    pg = queries.insert(POSTGRES)
    assert "unnest($1::text[], $2::integer[], $3::bigint[]" in pg and "$18::bytea[]" in pg


def test_retention_plan() -> None:
    day = 86_400_000_000
    topics = {"signals": "p-signals", "dead-letters": "p-dead"}
    plan = queries.retention_plan(30, {"dead-letters": 365, "other": 1}, topics, 1000 * day)
    assert plan == [
        Retention(999 * day, "other"),
        Retention(635 * day, "p-dead"),
        Retention(970 * day, None, ("other", "p-dead")),
    ]
    assert queries.retention_plan(None, {}, topics, 0) == []
    sql, params = queries.delete_expired(plan[2], POSTGRES, 50)
    assert "topic NOT IN ($2, $3)" in sql and params == [970 * day, "other", "p-dead", 50]


async def test_write_twice_stores_once(store: SQLiteStore) -> None:
    rows = chain(1, "cid-00000001") + chain(2, "cid-00000002", offset=1)
    assert await store.write(rows) == 6
    assert await store.write(rows) == 0  # a redelivery adds nothing
    assert await store.write(rows[:1] + chain(3, "cid-00000003", offset=2)) == 3
    count = await store.fetch("SELECT count(*) AS n FROM audit_events", [])
    assert count == [{"n": 9}]


async def test_filters_pages_and_order(store: SQLiteStore) -> None:
    rows = [r for n in range(5) for r in chain(n, f"cid-0000000{n}", offset=n)]
    await store.write([*rows, dead_letter(0, "cid-00000002")])
    seen: list[tuple[str, int]] = []
    cursor = None
    while True:
        page, nxt = await reader.page(store, EventFilter(), 4, cursor)
        seen += [(r["topic"], r["kafka_offset"]) for r in page]
        if nxt is None:
            break
        cursor = Cursor.decode(nxt)
    assert len(seen) == len(set(seen)) == 16  # every row once, across 4 pages
    everything, _ = await reader.page(store, EventFilter(), 100, None)
    assert [(r["topic"], r["kafka_offset"]) for r in everything] == seen  # one stable order
    keys = [
        (r["broker_time_us"], r["topic"], r["kafka_partition"], r["kafka_offset"])
        for r in everything
    ]
    assert keys == sorted(keys)

    async def ids(**kw: object) -> list[tuple[str, int]]:
        found, _ = await reader.page(store, EventFilter(**kw), 100, None)  # type: ignore[arg-type]
        return [(r["topic"], r["kafka_offset"]) for r in found]

    sig2 = rows[6].signal_id
    assert await ids(correlation_id="cid-00000002") == [
        ("signals", 2),
        ("orders", 2),
        ("fills", 2),
        ("dead-letters", 0),
    ]
    assert await ids(signal_id=sig2) == [("signals", 2), ("orders", 2), ("fills", 2)]
    assert await ids(order_id=rows[7].order_id) == [("orders", 2), ("fills", 2)]
    assert await ids(fill_id=rows[8].event_id) == [("fills", 2)]
    assert await ids(order_id=rows[8].event_id) == []
    assert len(await ids(event_type="fill")) == 5
    assert await ids(account="acct-9", symbol="MSFT") == [("dead-letters", 0)]
    t2 = rows[6].broker_time_us
    assert len(await ids(since_us=t2, until_us=t2 + 1)) == 1
    assert len(await ids(topic="orders", since_us=t2)) == 3


async def test_retention_deletes_what_expired_only(store: SQLiteStore) -> None:
    rows = [r for n in range(3) for r in chain(n, f"cid-0000000{n}", offset=n)]
    await store.write(rows)
    cut = rows[3].broker_time_us  # signal 1's time: signal 0's rows are older
    day = 86_400_000_000
    topics = {"signals": "signals", "orders": "orders", "fills": "fills"}
    # fills kept 2 days past the cut, everything else 1 day: at now = cut + 1 day
    deleted = await reader.enforce_retention(store, 1, {"fills": 2}, topics, now_us=cut + day)
    assert deleted == 2  # signal 0 and order 0; fill 0 is kept by its own rule
    left = await store.fetch("SELECT topic, kafka_offset FROM audit_events ORDER BY 1, 2", [])
    assert ("fills", 0) in [(r["topic"], r["kafka_offset"]) for r in left] and len(left) == 7
