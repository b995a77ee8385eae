"""The bridge under failure: nats-server restarted twice, a worker SIGKILLed, two workers.

Legacy signals go in through NATS; the chain turns each into an order and a fill, which
the bridge publishes back out. A new JetStream consumer must see every order and fill
exactly once (0 lost, 0 duplicates: ``Nats-Msg-Id`` is the event id), and every legacy
signal must reach ``signals`` with one order id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections import Counter
from collections.abc import Callable

from aiokafka import AIOKafkaProducer

from app.bridge.server import LocalNats
from app.ids import derive, fill_id_for, order_id_for
from tests.integration.bridge_support import (
    bridge_env,
    headers_of,
    legacy_signal,
    nats_server,
    publish_legacy,
    read_stream,
)
from tests.integration.support import Worker, read_until_ids, unique

__all__ = ["nats_server"]  # the fixture
log = logging.getLogger(__name__)
OUT_EVENTS = int(os.environ.get("AT_STREAM_TEST_BRIDGE_EVENTS", "10000"))
IN_EVENTS = 2000
CHUNKS = 20
PACE_SECONDS = 0.3


def _dead_letter(i: int) -> bytes:
    value = {"v": 1, "source_topic": "chaos", "partition": 0, "offset": i, "reason": "chaos",
             "key": None, "value": "{}"}  # fmt: skip
    return json.dumps(value).encode()


def dead_letter_id(i: int) -> str:
    return derive("dead-letter", "chaos", "0", str(i), "chaos")


async def feed(worker: Worker, url: str, tag: str) -> tuple[list[str], list[str]]:
    """OUT_EVENTS records on the dead-letter topic (no agent reads it: only the bridge) and
    IN_EVENTS legacy signals on NATS, both paced over CHUNKS x PACE_SECONDS (~6 s), so
    that what the test does meanwhile happens mid-stream. The legacy msg ids and the
    dead letters' event ids."""
    legacy = [f"{tag}-{i}" for i in range(IN_EVENTS)]
    producer = AIOKafkaProducer(bootstrap_servers=worker.bootstrap, acks="all", linger_ms=5)
    await producer.start()

    async def kafka_side() -> None:
        step = OUT_EVENTS // CHUNKS
        for c in range(CHUNKS):
            acks = [await producer.send(worker.topics["dead-letters"], _dead_letter(i))
                    for i in range(c * step, (c + 1) * step)]  # fmt: skip
            await asyncio.gather(*acks)
            await asyncio.sleep(PACE_SECONDS)

    async def nats_side() -> None:
        step = IN_EVENTS // CHUNKS
        for c in range(CHUNKS):
            chunk = [(legacy[i], legacy_signal(f"{tag}-{i % 8}", i))
                     for i in range(c * step, (c + 1) * step)]  # fmt: skip
            await publish_legacy(url, "trading.signals.in", chunk)
            await asyncio.sleep(PACE_SECONDS)

    try:
        await asyncio.gather(kafka_side(), nats_side())
    finally:
        await producer.stop()
    return legacy, [dead_letter_id(i) for i in range(OUT_EVENTS)]


async def _exactly_once(url: str, stream: str, subject: str, ids: set[str]) -> None:
    seen = await read_stream(url, stream, subject, len(ids), timeout=90)
    counts = Counter(headers_of(m)["Nats-Msg-Id"] for m in seen)
    dups = {k: c for k, c in counts.items() if c > 1}
    assert not dups, f"{subject}: {len(dups)} ids seen more than once"
    assert set(counts) == ids, f"{subject}: {len(set(counts) & ids)} of {len(ids)}"


async def check_everything_once(
    worker: Worker, url: str, stream: str, legacy: list[str], dead: list[str]
) -> None:
    n = len(legacy)
    signal_ids = {derive("signal", f"nats:msgid:{i}") for i in legacy}
    order_ids = {order_id_for(s) for s in signal_ids}
    await _exactly_once(url, stream, "trading.dead-letters", set(dead))
    await _exactly_once(url, stream, "trading.orders", order_ids)
    await _exactly_once(url, stream, "trading.fills", {fill_id_for(o) for o in order_ids})
    assert not await read_stream(url, stream, "trading.signals", 0, timeout=1)  # loop guard

    signals = await read_until_ids(worker.bootstrap, worker.topics["signals"], "signal_id",
                                   signal_ids, timeout=30)  # fmt: skip
    got = Counter(json.loads(r.value)["signal_id"] for r in signals)
    assert set(got) == signal_ids, f"{len(set(got) & signal_ids)} of {n} signals reached Kafka"
    orders = await read_until_ids(worker.bootstrap, worker.topics["orders"], "order_id",
                                  order_ids, timeout=30)  # fmt: skip
    per_order = Counter(json.loads(r.value)["order_id"] for r in orders)
    assert set(per_order) == order_ids  # one order id per signal
    log.warning("records written twice on Kafka: signals %d, orders %d (same ids)",
                sum(got.values()) - n, sum(per_order.values()) - n)  # fmt: skip


async def test_10000_events_while_nats_restarts_twice(
    start_worker: Callable[..., Worker], nats_server: LocalNats
) -> None:
    stream = unique("trading-events")
    worker = start_worker(**bridge_env(nats_server, stream))
    await worker.wait_ready()

    async def restarts() -> None:
        for pause in (2.0, 2.5):
            await asyncio.sleep(pause)
            await asyncio.to_thread(nats_server.stop)
            await asyncio.to_thread(nats_server.start)

    (legacy, dead), _ = await asyncio.gather(feed(worker, nats_server.url, "rs"), restarts())
    await check_everything_once(worker, nats_server.url, stream, legacy, dead)


async def test_two_workers_and_a_sigkill(
    start_worker: Callable[..., Worker], nats_server: LocalNats
) -> None:
    stream = unique("trading-events")
    prefix = unique("bk")
    env = bridge_env(nats_server, stream, AT_STREAM_SESSION_TIMEOUT_SECONDS="6")
    first = start_worker(prefix, **env)
    second = start_worker(prefix, **env)
    await asyncio.gather(first.wait_ready(), second.wait_ready())

    async def kill() -> None:
        await asyncio.sleep(3)
        second.stop(signal.SIGKILL)
        second.start()

    (legacy, dead), _ = await asyncio.gather(feed(first, nats_server.url, "kl"), kill())
    await check_everything_once(first, nats_server.url, stream, legacy, dead)
