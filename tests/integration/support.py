"""Typed helpers for integration tests: worker processes, topic reads, signed posts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from app import signing
from app.broker import LocalKafka
from app.broker.launcher import free_port
from at_stream.testing import brokers

SECRET = "integration-test-secret"
ROOT = Path(__file__).resolve().parents[2]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Worker:
    """An at-stream worker process with its own app id, topics and port."""

    bootstrap: str
    prefix: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    topics: dict[str, str] = field(default_factory=dict)

    @classmethod
    def launch(cls, bootstrap: str, data: Path, prefix: str, extra: Mapping[str, str]) -> Worker:
        port = free_port()
        names = ("signals", "orders", "fills", "dead-letters", "quotes", "order-events")
        topics = {t: f"{prefix}-{t}" for t in names}
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AT_STREAM_") and k != "API_KEY_HMAC_SECRET"
        }
        env.update(
            KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            API_KEY_HMAC_SECRET=SECRET,
            AT_STREAM_APP_ID=prefix,
            AT_STREAM_SIGNALS_TOPIC=topics["signals"],
            AT_STREAM_ORDERS_TOPIC=topics["orders"],
            AT_STREAM_FILLS_TOPIC=topics["fills"],
            AT_STREAM_DEAD_LETTER_TOPIC=topics["dead-letters"],
            AT_STREAM_QUOTES_TOPIC=topics["quotes"],
            AT_STREAM_ORDER_EVENTS_TOPIC=topics["order-events"],
            AT_STREAM_WEB_PORT=str(port),
            AT_STREAM_DATA_DIR=str(data),
        )
        env.update(extra)  # a test's own settings win (e.g. another worker's orders topic)
        w = cls(bootstrap, prefix, port, env, data / "worker.log", topics=topics)
        w.start()
        return w

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker", "-l", "info"],
                cwd=self.log_path.parent,
                env={**self.env, "PYTHONPATH": str(ROOT)},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(
                        f"worker exited {self.proc.returncode}:\n{self.log_tail()}"
                    )
                try:
                    async with http.get(self.url + "/readyz") as resp:
                        if resp.status == 200:
                            await self._wait_router(http)
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.25)
        raise AssertionError(f"worker not ready in {timeout}s:\n{self.log_tail()}")

    async def _wait_router(self, http: aiohttp.ClientSession, timeout: float = 10.0) -> None:
        """After /readyz: until a keyed read answers below 500 (its owner known), <= 10 s.

        /readyz can answer 200 a moment before the router knows the owners of the keys
        (then a signal gets 503 "the owner of this key is not known yet"); a keyed GET
        has no side effect and answers 404 as soon as the owner is known.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with http.get(self.url + "/positions/ready-probe/PROBE") as resp:
                if resp.status < 500:
                    return
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL without waiting (``stop`` waits): for a teardown that stops many at once."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def start_local_kafka(tmp: pytest.TempPathFactory, heap: str = "384m") -> LocalKafka:
    """A started local broker in a fresh temp dir (the plugin's launcher, with its retry)."""
    return brokers.start_local_kafka(tmp.mktemp("kafka"), heap)


def signed_headers(body: bytes, *, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    stamp, sig = signing.sign(secret, body, ts)
    return {
        "Content-Type": "application/json",
        signing.TIMESTAMP_HEADER: stamp,
        signing.SIGNATURE_HEADER: sig,
    }


def signal_body(account: str = "acct-1", **over: Any) -> bytes:
    import json

    body: dict[str, Any] = {
        "symbol": "AAPL",
        "side": "buy",
        "quantity": "10",
        "order_type": "market",
        "price": "187.25",
        "account": account,
        "strategy": "it",
    }
    body.update(over)
    return json.dumps(body).encode()


async def post_signal(http: aiohttp.ClientSession, worker: Worker, body: bytes) -> Any:
    """POST a correctly signed signal to the worker's webhook; it must answer 202."""
    async with http.post(
        worker.url + "/webhook/signals", data=body, headers=signed_headers(body)
    ) as r:
        assert r.status == 202, await r.text()
        return await r.json()


async def produce_again(
    bootstrap: str, topic: str, records: Sequence[ConsumerRecord[bytes, bytes]]
) -> None:
    """Put records read from ``topic`` on it once more (key, value, headers), acks=all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await producer.stop()


def fills_applied(positions: Any) -> int:
    """The fills applied over a ``GET /positions`` answer's items."""
    return sum(p["fills_applied"] for p in positions["items"])


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        await consumer.stop()


async def group_lag(bootstrap: str, group: str, topics: Sequence[str]) -> dict[str, int]:
    """``topic/partition -> end offset - committed offset`` for the partitions with lag:
    what a failing test prints so a stalled partition is visible by name."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    lag: dict[str, int] = {}
    for topic in topics:
        for partition, end in (await end_offsets(bootstrap, topic)).items():
            meta = committed.get(TopicPartition(topic, partition))
            behind = end - (meta.offset if meta is not None and meta.offset >= 0 else 0)
            if behind:
                lag[f"{topic}/{partition}"] = behind
    return lag


async def read_topic(
    bootstrap: str, topic: str, want: int, timeout: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``topic`` from the beginning until ``want`` records arrived (or time out)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    out: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(out) < want and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                out.extend(records)
        return out
    finally:
        await consumer.stop()


async def read_until_ids(
    bootstrap: str, topic: str, field: str, want: set[str], timeout: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` once the values of ``field`` include ``want`` (or time
    out). Unlike ``read_topic(..., n)`` a duplicate record (allowed: at-least-once) does
    not end the read before every id has arrived."""
    import json

    deadline = time.monotonic() + timeout
    while True:
        records = await read_topic(bootstrap, topic, 10**9, timeout=2)
        found = {json.loads(r.value).get(field) for r in records}  # a clock tick has none
        if want <= found or time.monotonic() > deadline:
            return records


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str:
    value: bytes = dict(record.headers)[name]
    return value.decode()


async def get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as r:
        return r.status, await r.json(content_type=None)


async def wait_for(http: aiohttp.ClientSession, url: str, ok: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    status, body = 0, None
    while time.monotonic() < deadline:
        status, body = await get_json(http, url)
        if status == 200 and ok(body):
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url}: {status} {body}")
