"""The audit API's contract (schemathesis, as the webhook's), its token, and the schema's
life: a PostgreSQL migration from version 1, and a worker refusing a newer schema."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import given
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from app.audit import schema
from app.audit.errors import SchemaTooNew
from app.audit.store import PostgresStore, SQLiteStore
from at_stream.testing.postgres import start_postgres
from tests.integration.support import ROOT, unique
from tests.integration.test_audit import serve_api
from tests.integration.test_contract import CHECKS, READS
from tests.unit.audit.samples import chain, dead_letter
from tests.unit.audit.test_audit_schema import V1_COLUMNS

TOKEN = "audit-api-token-" + "x" * 16


def filled_sqlite(path: Path) -> str:
    url = f"sqlite:///{path}"

    async def fill() -> None:
        store = SQLiteStore(url)
        await store.migrate()
        rows = [r for n in range(6) for r in chain(n, f"cid-0000000{n}", offset=n)]
        await store.write([*rows, dead_letter(0, "cid-00000002")])
        await store.close()

    asyncio.run(fill())
    return url


@pytest.fixture(scope="module")
def apis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The API on a SQLite store with records: open, and behind a token."""
    directory = tmp_path_factory.mktemp("audit-api")
    url = filled_sqlite(directory / "audit.db")
    procs = []
    try:
        open_proc, open_url = serve_api(url, directory)
        procs.append(open_proc)
        token_proc, token_url = serve_api(url, directory, AT_STREAM_API_TOKEN=TOKEN)
        procs.append(token_proc)
        yield open_url, token_url
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def test_every_operation_accepts_what_its_schema_allows(apis: tuple[str, str]) -> None:
    base, _ = apis
    spec = requests.get(base + "/openapi.json", timeout=5).json()
    assert spec["openapi"].startswith("3.1")
    assert {"/audit/events", "/audit/trace/{ident}"} <= set(spec["paths"])
    assert requests.get(base + "/docs", timeout=5).status_code == 200
    loaded = schemathesis.openapi.from_url(base + "/openapi.json")
    every = list(loaded.get_all_operations())
    assert every and all(isinstance(result, Ok) for result in every)
    for operation in (r.ok() for r in every if isinstance(r, Ok)):

        @READS
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def check(case: Any) -> None:
            response = case.call(base_url=base, timeout=10)
            case.validate_response(response, checks=CHECKS)

        check()


def test_malformed_queries_are_problems(apis: tuple[str, str]) -> None:
    base, _ = apis
    for query, pointer in (("limit=0", "/query/limit"), ("since=noon", "/query/since"),
                           ("cursor=12", "/query/cursor")):  # fmt: skip
        r = requests.get(f"{base}/audit/events?{query}", timeout=5)
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert problem["type"].endswith("/invalid-query") and problem["status"] == 400
        assert problem["errors"][0]["pointer"] == pointer
    r = requests.get(f"{base}/audit/trace/nobody-has-it", timeout=5)
    assert r.status_code == 404 and r.json()["type"].endswith("/not-found")
    r = requests.get(f"{base}/no/such/route", timeout=5)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = requests.delete(f"{base}/audit/events", timeout=5)  # read-only
    assert r.status_code == 405 and r.json()["type"].endswith("/method-not-allowed")


def test_a_configured_token_is_required(apis: tuple[str, str]) -> None:
    _, base = apis
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = requests.get(base + "/audit/events", headers=headers, timeout=5)
        assert r.status_code == 401, headers
        assert r.json()["type"].endswith("/token-required")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    good = {"Authorization": f"Bearer {TOKEN}"}
    r = requests.get(base + "/audit/trace/cid-00000001", headers=good, timeout=5)
    assert r.status_code == 200 and len(r.json()["steps"]) == 5
    spec = requests.get(base + "/openapi.json", timeout=5).json()
    assert "401" in spec["paths"]["/audit/events"]["get"]["responses"]
    assert requests.get(base + "/healthz", timeout=5).status_code == 200  # probes stay open


async def test_postgres_migration_from_version_1_and_a_newer_schema_refused() -> None:
    pg = await asyncio.to_thread(start_postgres)
    try:
        import asyncpg

        conn = await asyncpg.connect(pg.url)
        try:  # a store as the previous release left it: migration 1, with records
            await conn.execute(schema.VERSION_TABLE[schema.POSTGRES])
            for statement in schema.MIGRATIONS[0].postgresql:
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_version VALUES (1, 'v1', 0)")
            for row in chain(1, "cid-00000001"):
                values = [getattr(row, c) for c in V1_COLUMNS]
                marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
                await conn.execute(f"INSERT INTO audit_events ({', '.join(V1_COLUMNS)}) "
                                   f"VALUES ({marks})", *values)  # fmt: skip
        finally:
            await conn.close()
        store = PostgresStore(pg.url)
        try:
            assert await store.version() == 1
            assert await store.migrate() == 2
            rows = await store.fetch("SELECT topic, signal_id, order_id FROM audit_events "
                                     "ORDER BY topic", [])  # fmt: skip
            sig, order, _ = chain(1, "cid-00000001")
            assert [(r["topic"], r["signal_id"], r["order_id"]) for r in rows] == [
                ("fills", sig.event_id, order.event_id),
                ("orders", sig.event_id, order.event_id),
                ("signals", sig.event_id, None),
            ]
            assert await store.write(chain(1, "cid-00000001")) == 0  # v1 rows count as stored
            await store.execute("INSERT INTO schema_version VALUES (3, 'future', 0)", [])
            with pytest.raises(SchemaTooNew, match="schema version 3, this at-stream knows up"):
                await store.migrate()
        finally:
            await store.close()
    finally:
        await asyncio.to_thread(pg.remove)


def test_worker_stops_at_start_on_a_newer_schema(kafka: str, tmp_path: Path) -> None:
    url = filled_sqlite(tmp_path / "audit.db")
    asyncio.run(_bump(url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AT_STREAM_")}
    prefix = unique("audit-new")
    env.update(KAFKA_BOOTSTRAP_SERVERS=kafka, API_KEY_HMAC_SECRET="integration-test-secret",
               AT_STREAM_APP_ID=prefix, AT_STREAM_AUDIT_URL=url, PYTHONPATH=str(ROOT),
               AT_STREAM_DATA_DIR=str(tmp_path / "data"),
               **{f"AT_STREAM_{t}_TOPIC": f"{prefix}-{t.lower()}"
                  for t in ("SIGNALS", "ORDERS", "FILLS", "DEAD_LETTER")})  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "app.cli", "worker"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"at-stream: audit store {url} has schema version 7, this at-stream knows up to 2: "
        "upgrade at-stream, or point AT_STREAM_AUDIT_URL at another database"
    )


async def _bump(url: str) -> None:
    store = SQLiteStore(url)
    await store.execute("INSERT INTO schema_version VALUES (7, 'from a later release', 0)", [])
    await store.close()
