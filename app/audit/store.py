"""The audit store: SQLite (embedded default) or PostgreSQL, behind one interface.

``open_store(url)`` picks one by the URL's scheme. Every operation is async; a database
that does not answer or refuses raises ``StoreUnavailable`` (the sink retries it).

SQLite: one connection in WAL mode on one thread of its own (so one writer; readers in
other processes, such as the API's, read alongside), ``synchronous=FULL`` (a committed
batch survives a power cut: this is a compliance record), ``busy_timeout`` 5 s; each batch
is one ``BEGIN IMMEDIATE`` ... ``COMMIT``. PostgreSQL: an asyncpg pool; each batch is one
multi-row ``INSERT ... SELECT FROM unnest(...)`` (one round trip) in a transaction.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from app.audit import queries, schema
from app.audit.errors import SchemaTooNew, StoreUnavailable
from app.audit.records import COLUMNS, Row

log = logging.getLogger(__name__)
T = TypeVar("T")


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class Store(Protocol):
    dialect: str
    url: str

    async def connect(self) -> None: ...
    async def migrate(self) -> int: ...
    async def version(self) -> int: ...
    async def write(self, rows: Sequence[Row]) -> int: ...
    async def fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]: ...
    async def execute(self, sql: str, params: Sequence[Any]) -> int: ...
    async def close(self) -> None: ...


def sqlite_path(url: str) -> str:
    """``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``sqlite://:memory:``."""
    rest = url.removeprefix("sqlite://")
    if rest in (":memory:", "/:memory:"):
        return ":memory:"
    return rest.removeprefix("/") if rest.startswith("/") else rest


class SQLiteStore:
    dialect = schema.SQLITE

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._db: sqlite3.Connection | None = None
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="audit-db")

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._db is None:
                self._db = self._open()
            try:
                return fn(self._db)
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.rollback()
                raise StoreUnavailable(self.url, f"{type(exc).__name__}: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    def _open(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 5000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise StoreUnavailable(self.url, f"{type(exc).__name__}: {exc}") from exc
        db.row_factory = sqlite3.Row
        return db

    async def connect(self) -> None:
        await self._run(lambda db: None)

    async def version(self) -> int:
        return await self._run(_sqlite_version)

    async def migrate(self) -> int:
        def run(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(schema.VERSION_TABLE[schema.SQLITE])
                current = _sqlite_version(db)
                if current > schema.LATEST:
                    raise SchemaTooNew(self.url, current, schema.LATEST)
                for m in schema.pending(current):
                    for statement in m.sqlite:
                        db.execute(statement)
                    db.execute(
                        "INSERT INTO schema_version VALUES (?, ?, ?)",
                        (m.version, m.description, time.time_ns() // 1000),
                    )
                    log.info("audit schema migrated to version %d: %s", m.version, m.description)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            return max(current, schema.LATEST)

        return await self._run(run)

    async def write(self, rows: Sequence[Row]) -> int:
        sql = queries.insert(schema.SQLITE)
        values = [r.values() for r in rows]

        def run(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            cur = db.executemany(sql, values)
            db.execute("COMMIT")
            return cur.rowcount

        return await self._run(run)

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        return await self._run(lambda db: [dict(r) for r in db.execute(sql, list(params))])

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        return await self._run(lambda db: db.execute(sql, list(params)).rowcount)

    async def close(self) -> None:
        def run() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._thread, run)
        self._thread.shutdown(wait=True)


def _sqlite_version(db: sqlite3.Connection) -> int:
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if not exists:
        return 0
    found = db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    return int(found or 0)


class PostgresStore:
    dialect = schema.POSTGRES

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool: Any = None

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(redact(self.url), f"{type(exc).__name__}: {exc}")

    async def connect(self) -> None:
        import asyncpg

        if self._pool is not None:
            return
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=self.pool_size, command_timeout=30, timeout=10
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise self._unavailable(exc) from exc

    async def _with(self, fn: Callable[[Any], Any]) -> Any:
        import asyncpg

        await self.connect()
        try:
            async with self._pool.acquire() as conn:
                return await fn(conn)
        except (SchemaTooNew, StoreUnavailable):
            raise
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise self._unavailable(exc) from exc

    async def version(self) -> int:
        return int(await self._with(_pg_version))

    async def migrate(self) -> int:
        async def run(conn: Any) -> int:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", schema.LOCK_ID)
                await conn.execute(schema.VERSION_TABLE[schema.POSTGRES])
                current = await _pg_version(conn)
                if current > schema.LATEST:
                    raise SchemaTooNew(redact(self.url), current, schema.LATEST)
                for m in schema.pending(current):
                    for statement in m.postgresql:
                        await conn.execute(statement)
                    await conn.execute(
                        "INSERT INTO schema_version VALUES ($1, $2, $3)",
                        m.version,
                        m.description,
                        time.time_ns() // 1000,
                    )
                    log.info("audit schema migrated to version %d: %s", m.version, m.description)
            return max(current, schema.LATEST)

        return int(await self._with(run))

    async def write(self, rows: Sequence[Row]) -> int:
        if not rows:
            return 0
        sql = queries.insert(schema.POSTGRES)
        columns = [list(col) for col in zip(*(r.values() for r in rows), strict=True)]

        async def run(conn: Any) -> int:
            async with conn.transaction():
                status: str = await conn.execute(sql, *columns)
            return int(status.rsplit(" ", 1)[-1])

        return int(await self._with(run))

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        async def run(conn: Any) -> list[dict[str, Any]]:
            return [dict(r) for r in await conn.fetch(sql, *params)]

        result: list[dict[str, Any]] = await self._with(run)
        return result

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        async def run(conn: Any) -> int:
            status: str = await conn.execute(sql, *params)
            tail = status.rsplit(" ", 1)[-1]
            return int(tail) if tail.isdigit() else 0

        return int(await self._with(run))

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 5)
            except (TimeoutError, OSError):
                pool.terminate()


async def _pg_version(conn: Any) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version"))


def open_store(url: str) -> Store:
    """The store of an ``AT_STREAM_AUDIT_URL``."""
    scheme = url.partition("://")[0]
    if scheme == "sqlite":
        return SQLiteStore(url)
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(url)
    raise ValueError(f"unknown audit store scheme {scheme!r}")


__all__ = ["COLUMNS", "PostgresStore", "SQLiteStore", "Store", "open_store", "redact"]
