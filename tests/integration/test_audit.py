"""The audit trail end to end, on SQLite and on a real PostgreSQL server.

One worker per backend with its sink on, and the API as its own process
(``at-stream audit serve``): a signal's trace through every step; the store unavailable
for a while (PostgreSQL stopped as if it crashed; SQLite's write lock held by another
process, the old system's bottleneck) while the pipeline goes on; SIGKILL of the worker
under load, mid-batch: afterwards every offset of every topic is stored exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from app.audit.store import Store, open_store
from app.broker.launcher import free_port
from at_stream.testing.postgres import Postgres, start_postgres
from tests.integration.support import (
    ROOT,
    Worker,
    end_offsets,
    read_topic,
    signal_body,
    signed_headers,
    unique,
)

log = logging.getLogger(__name__)


@dataclass
class Audit:
    backend: str
    url: str
    worker: Worker
    api: str
    pg: Postgres | None = None
    lock: sqlite3.Connection | None = None

    def store(self) -> Store:
        return open_store(self.url)

    def make_unavailable(self) -> None:
        if self.pg is not None:
            self.pg.stop("immediate")  # as if the server crashed
        else:
            self.lock = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=10)
            self.lock.execute("BEGIN EXCLUSIVE")  # every other writer waits, then fails

    def make_available(self) -> None:
        if self.pg is not None:
            self.pg.start()
        elif self.lock is not None:
            self.lock.rollback()
            self.lock.close()
            self.lock = None


def serve_api(url: str, directory: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """``at-stream audit serve`` on a free port, once it answers ``/healthz``."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AT_STREAM_")}
    clean.update(AT_STREAM_AUDIT_URL=url, AT_STREAM_AUDIT_API_PORT=str(port),
                 PYTHONPATH=str(ROOT), **env)  # fmt: skip
    clean.pop("API_KEY_HMAC_SECRET", None)  # the API needs no secret
    log = (directory / f"api-{port}.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "audit", "serve"], env=clean,
                            cwd=directory, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, (directory / f"api-{port}.log").read_text()
        try:
            import urllib.request

            with urllib.request.urlopen(base + "/healthz", timeout=1):
                return proc, base
        except OSError:
            time.sleep(0.2)
    raise AssertionError("audit API did not start")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def audit(
    request: pytest.FixtureRequest, kafka: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Audit]:
    directory = tmp_path_factory.mktemp(f"audit-{request.param}")
    pg = start_postgres() if request.param == "postgres" else None
    url = pg.url if pg else f"sqlite:///{directory / 'audit.db'}"
    worker = Worker.launch(kafka, directory, unique("audit"), {
        "AT_STREAM_AUDIT_URL": url,
        "AT_STREAM_AUDIT_BATCH_RECORDS": "50",  # many batches: a SIGKILL lands mid-batch
        "AT_STREAM_DEFAULT_RATE_LIMIT": "0",
        "AT_STREAM_AUDIT_RETENTION_TOPICS": '{"dead-letters": 30}',  # the last test's
        "AT_STREAM_AUDIT_RETENTION_INTERVAL_SECONDS": "1",
    })  # fmt: skip
    api: subprocess.Popen[bytes] | None = None
    try:
        asyncio.run(worker.wait_ready())
        api, base = serve_api(url, directory)
        yield Audit(request.param, url, worker, base, pg)
    finally:
        worker.stop()
        if api is not None:
            api.terminate()
            api.wait(10)
        if pg is not None:
            pg.remove()


async def post(http: aiohttp.ClientSession, worker: Worker, body: bytes,
               **headers: str) -> str:  # fmt: skip
    """Post until accepted (a provider retrying the same signed request); the signal id."""
    signed = {**signed_headers(body), **headers}
    while True:
        try:
            async with http.post(worker.url + "/webhook/signals", data=body, headers=signed) as r:
                if r.status == 202:
                    signal_id: str = (await r.json())["signal_id"]
                    return signal_id
                assert r.status == 503, await r.text()
        except (TimeoutError, aiohttp.ClientError):
            pass
        await asyncio.sleep(0.2)


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as r:
        return r.status, await r.json(content_type=None)


async def metrics(http: aiohttp.ClientSession, worker: Worker) -> dict[str, float]:
    """The audit sink's series: store up, and the lag summed over partitions."""
    async with http.get(worker.url + "/metrics") as r:
        text = await r.text()
    out = {"up": -1.0, "lag": 0.0}
    for line in text.splitlines():
        if line.startswith("at_stream_audit_store_up "):
            out["up"] = float(line.split()[-1])
        elif line.startswith("at_stream_audit_lag_records{"):
            out["lag"] += float(line.split()[-1])
    return out


async def offsets(worker: Worker) -> set[tuple[str, int, int]]:
    """Every (topic, partition, offset) the worker's four topics hold."""
    out: set[tuple[str, int, int]] = set()
    for topic in worker.topics.values():
        for partition, end in (await end_offsets(worker.bootstrap, topic)).items():
            out.update((topic, partition, o) for o in range(end))
    return out


async def rewind(worker: Worker, group: str, timeout: float = 60) -> None:
    """Commit offset 0 for every partition of ``group`` (an empty group)."""
    tps = [TopicPartition(t, p) for t in worker.topics.values()
           for p in await end_offsets(worker.bootstrap, t)]  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        consumer = AIOKafkaConsumer(bootstrap_servers=worker.bootstrap, group_id=group,
                                    enable_auto_commit=False)  # fmt: skip
        await consumer.start()
        try:
            consumer.assign(tps)
            await consumer.commit(dict.fromkeys(tps, 0))
            return
        except KafkaError:  # a member still in the group
            assert time.monotonic() < deadline, "the audit group never became empty"
        finally:
            await consumer.stop()
        await asyncio.sleep(1.0)


async def redelivered(http: aiohttp.ClientSession, worker: Worker) -> float:
    async with http.get(worker.url + "/metrics") as r:
        text = await r.text()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("at_stream_audit_records_redelivered_total "))  # fmt: skip


async def fills_count(worker: Worker) -> int:
    return sum((await end_offsets(worker.bootstrap, worker.topics["fills"])).values())


async def stored(audit: Audit) -> list[tuple[str, int, int]]:
    store = audit.store()
    try:
        rows = await store.fetch(
            "SELECT topic, kafka_partition, kafka_offset FROM audit_events", []
        )
    finally:
        await store.close()
    mine = set(audit.worker.topics.values())
    return [(r["topic"], r["kafka_partition"], r["kafka_offset"]) for r in rows
            if r["topic"] in mine]  # fmt: skip


async def every_offset_once(audit: Audit, timeout: float = 60) -> int:
    """Wait until the store holds exactly the topics' offsets, each once; how many."""
    deadline = time.monotonic() + timeout
    while True:
        want, have = await offsets(audit.worker), await stored(audit)
        if set(have) == want or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert len(have) == len(set(have)), "an offset stored twice"
    missing, extra = len(want - set(have)), len(set(have) - want)
    assert set(have) == want, f"{missing} offsets missing, {extra} extra"
    return len(want)


async def trace_with(
    http: aiohttp.ClientSession, audit: Audit, ident: str, step: str
) -> dict[str, Any]:
    """The trace of ``ident`` once it has ``step`` (AssertionError after 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        status, found = await get(http, f"{audit.api}/audit/trace/{ident}")
        if status == 200 and step in [s["step"] for s in found["steps"]]:
            return dict(found)
        assert time.monotonic() < deadline, (status, found)
        await asyncio.sleep(0.3)


async def test_trace_of_a_signal_through_every_step(audit: Audit) -> None:
    cid = unique("audit-trace")
    worker = audit.worker
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        signal_id = await post(http, worker, signal_body(account="audit-1"),
                               **{"X-Correlation-ID": cid})  # fmt: skip
        found = await trace_with(http, audit, cid, "fill")
        producer = AIOKafkaProducer(bootstrap_servers=worker.bootstrap, acks="all")
        await producer.start()
        try:  # then a poison order of the same correlation id: its dead letter is traced too
            await producer.send_and_wait(worker.topics["orders"], b"{not json", key=b"audit-1|AAPL",
                                         headers=[("x-correlation-id", cid.encode())])  # fmt: skip
        finally:
            await producer.stop()
        found = await trace_with(http, audit, cid, "dead_letter")
        kinds = [s["step"] for s in found["steps"]]
        assert kinds == ["webhook receipt", "signal", "order", "order_event", "order_event",
                         "fill", "position after", "order", "dead_letter"], kinds  # fmt: skip
        lifecycle = [s["summary"] for s in found["steps"] if s["step"] == "order_event"]
        assert "accepted" in lifecycle[0] and "filled" in lifecycle[1], lifecycle
        assert found["signal_ids"] == [signal_id] and found["correlation_ids"] == [cid]
        chain = [s for s in found["steps"] if s["step"] != "position after"]
        # broker timestamps are whole milliseconds, received_at is not: receipt to signal >= -1
        assert all(s["since_previous_ms"] >= -1.0 for s in chain[1:]), chain
        assert found["total_ms"] > 0
        position = found["steps"][kinds.index("position after")]["position"]
        assert position["quantity"] == "10" and position["account"] == "audit-1"

        status, by_signal = await get(http, f"{audit.api}/audit/trace/{signal_id}")
        assert status == 200
        assert [s["step"] for s in by_signal["steps"]] == [
            "webhook receipt", "signal", "order", "order_event", "order_event", "fill",
            "position after"]  # fmt: skip

        items: list[dict[str, Any]] = []
        url = f"{audit.api}/audit/events?correlation_id={cid}&limit=2"
        while url:
            status, page = await get(http, url)
            assert status == 200, page
            items += page["items"]
            nxt = page["next_cursor"]
            url = f"{url.split('&cursor=')[0]}&cursor={nxt}" if nxt else ""
        assert sorted(e["event_type"] for e in items) == [
            "dead_letter", "fill", "order", "order",
            "order_event", "order_event", "signal"]  # fmt: skip
        poison = next(e for e in items if e["event_type"] == "order" and e["payload"] is None)
        assert poison["value_base64"] == "e25vdCBqc29u"  # b"{not json", as received

    (record,) = await read_topic(worker.bootstrap, worker.topics["signals"], 1)
    store = audit.store()
    try:
        (row,) = await store.fetch(
            "SELECT payload FROM audit_events WHERE topic = $1 AND kafka_offset = $2"
            if audit.backend == "postgres" else
            "SELECT payload FROM audit_events WHERE topic = ? AND kafka_offset = ?",
            [worker.topics["signals"], record.offset],
        )  # fmt: skip
    finally:
        await store.close()
    assert row["payload"].encode() == record.value  # byte for byte

    env = {k: v for k, v in os.environ.items() if not k.startswith("AT_STREAM_")}
    argv = [sys.executable, "-m", "app.cli", "audit", "trace", cid]
    cli = await asyncio.to_thread(subprocess.run, argv,
                         env={**env, "AT_STREAM_AUDIT_URL": audit.url, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    lines = cli.stdout.splitlines()
    assert lines[2].startswith("webhook receipt") and any(x.startswith("fill ") for x in lines)


async def test_store_outage_pauses_the_sink_not_the_pipeline(audit: Audit) -> None:
    worker = audit.worker
    await every_offset_once(audit)
    fills_before = sum((await end_offsets(worker.bootstrap, worker.topics["fills"])).values())
    audit.make_unavailable()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            for n in range(20):
                await post(http, worker, signal_body(account=f"outage-{n % 3}", strategy=f"o{n}"))
            deadline = time.monotonic() + 30
            while True:  # the pipeline goes on: every signal filled
                fills = sum((await end_offsets(worker.bootstrap, worker.topics["fills"])).values())
                if fills >= fills_before + 20 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.3)
            assert fills >= fills_before + 20
            deadline = time.monotonic() + 30
            while True:  # the sink has paused: its store is down, its lag counted
                seen = await metrics(http, worker)
                if (seen["up"] == 0 and seen["lag"] >= 60) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert seen["up"] == 0 and seen["lag"] >= 60, seen
            status, body = await get(http, worker.url + "/readyz")  # the enabled dependency
            assert status == 503 and body["checks"]["audit_store_reachable"] is False, body
            if audit.backend == "postgres":
                async with http.get(f"{audit.api}/audit/events") as r:
                    assert r.status == 503 and r.content_type == "application/problem+json"
                    assert (await r.json(content_type=None))["type"].endswith(
                        "/audit-store-unavailable"
                    )
    finally:
        audit.make_available()
    await every_offset_once(audit, timeout=90)  # caught up, nothing lost
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + 15
        while True:
            seen = await metrics(http, worker)
            if seen == {"up": 1.0, "lag": 0.0} or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert seen == {"up": 1.0, "lag": 0.0}
        status, body = await get(http, worker.url + "/readyz")
        assert status == 200 and body["checks"]["audit_store_reachable"] is True, body


async def test_sigkill_mid_batch_every_offset_once(audit: Audit) -> None:
    worker = audit.worker
    before = len(await offsets(worker))
    fills_before = await fills_count(worker)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> str:
            async with sem:
                body = signal_body(account=f"kill-{i % 5}", quantity="1", strategy=f"k{i}")
                return await post(http, worker, body)

        sending = asyncio.gather(*(one(i) for i in range(150)))
        for _ in range(2):
            await asyncio.sleep(2.0)
            worker.stop(signal.SIGKILL)
            worker.start()
        ids = await sending
        assert len(set(ids)) == 150
    await worker.wait_ready()
    deadline = time.monotonic() + 90
    while await fills_count(worker) < fills_before + 150:  # the pipeline has caught up
        assert time.monotonic() < deadline, "signals not all filled"
        await asyncio.sleep(0.5)
    total = await every_offset_once(audit, timeout=90)
    assert total >= before + 150 * 3
    text = worker.log_path.read_text(errors="replace")
    assert text.count("audit sink consuming") >= 2  # the sink consumed again after a SIGKILL
    async with aiohttp.ClientSession() as http, http.get(worker.url + "/metrics") as r:
        again = [
            line
            for line in (await r.text()).splitlines()
            if line.startswith("at_stream_audit_records_redelivered_total ")
        ]
    log.warning("audit: %d records, %s after the last SIGKILL", total, again)

    # A redelivery of everything (as after a crash between a batch's commit in the store
    # and its offsets' commit, widened to the whole log): the sink's offsets back to 0.
    worker.stop()  # SIGTERM: its audit consumer leaves the group, which is then empty
    await rewind(worker, f"{worker.prefix}-audit")
    worker.start()
    await worker.wait_ready()
    deadline = time.monotonic() + 90
    async with aiohttp.ClientSession() as http:
        while await redelivered(http, worker) < total:
            assert time.monotonic() < deadline, "the sink did not read the log again"
            await asyncio.sleep(0.5)
    assert await every_offset_once(audit) == total  # nothing added


async def test_retention_job_deletes_what_expired(audit: Audit) -> None:
    """Last (it deletes a stored offset): dead letters are kept 30 days here."""
    topic = audit.worker.topics["dead-letters"]
    producer = AIOKafkaProducer(bootstrap_servers=audit.worker.bootstrap, acks="all")
    await producer.start()
    try:  # one key: one partition, so the fresh record stored means the old one was too
        old = await producer.send_and_wait(
            topic,
            b'{"age": "40 days"}',
            key=b"retention",
            timestamp_ms=int((time.time() - 40 * 86400) * 1000),
        )
        fresh = await producer.send_and_wait(topic, b'{"age": "now"}', key=b"retention")
    finally:
        await producer.stop()
    deleted = 0.0
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            have = set(await stored(audit))
            async with http.get(audit.worker.url + "/metrics") as r:
                text = await r.text()
            deleted = sum(
                float(line.split()[-1])
                for line in text.splitlines()
                if line.startswith("at_stream_audit_retention_deleted_total ")
            )
            if (topic, fresh.partition, fresh.offset) in have and deleted >= 1:
                break
            await asyncio.sleep(0.5)
    assert (topic, fresh.partition, fresh.offset) in have and deleted >= 1
    assert (topic, old.partition, old.offset) not in have


async def test_records_trickling_in_are_stored_a_linger_at_a_time(
    kafka: str, tmp_path: Path
) -> None:
    """Signals one every 25 ms for a second: the sink's fetches wait for records to
    gather (``AT_STREAM_AUDIT_LINGER_SECONDS``), so their ~200 records take a few
    transactions, not one per poll (with the broker answering each fetch at its first
    byte it was one or more per signal), and every offset is still stored once."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    worker = Worker.launch(kafka, tmp_path, unique("linger"), {
        "AT_STREAM_AUDIT_URL": url,
        "AT_STREAM_AUDIT_LINGER_SECONDS": "1.0",
        "AT_STREAM_DEFAULT_RATE_LIMIT": "0",
    })  # fmt: skip
    try:
        await worker.wait_ready()
        audit = Audit("sqlite", url, worker, api="")
        await every_offset_once(audit)  # whatever start-up wrote (nothing, or little)
        async with aiohttp.ClientSession() as http:
            before = await batches(http, worker)
            for i in range(40):
                await post(http, worker, signal_body(account=f"linger-{i % 4}", quantity="1",
                                                     strategy=f"l{i}"))  # fmt: skip
                await asyncio.sleep(0.025)
            deadline = time.monotonic() + 60
            while await fills_count(worker) < 40:
                assert time.monotonic() < deadline, "signals not all filled"
                await asyncio.sleep(0.2)
            total = await every_offset_once(audit)
            assert total >= 40 * 4  # signal, order, accepted, filled, fill: 5 each
            written = await batches(http, worker) - before
        assert 1 <= written <= 8, f"{written} transactions for {total} records"
    finally:
        worker.stop()


async def batches(http: aiohttp.ClientSession, worker: Worker) -> float:
    """How many transactions the sink has committed (``at_stream_audit_batch_seconds``)."""
    async with http.get(worker.url + "/metrics") as r:
        text = await r.text()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("at_stream_audit_batch_seconds_count"))  # fmt: skip
