"""The NATS bridge end to end, on a real nats-server (JetStream) and the real broker: both
directions with their headers, the created stream, an invalid legacy signal, the loop guard."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import nats
from aiokafka import AIOKafkaProducer
from nats.js.errors import NotFoundError

from app.bridge.server import LocalNats
from app.broker import LocalKafka
from app.ids import derive, fill_id_for, order_id_for
from tests.integration.bridge_support import (
    bridge_env,
    headers_of,
    legacy_signal,
    nats_server,
    publish_legacy,
    read_stream,
)
from tests.integration.support import (
    Worker,
    header,
    post_signal,
    read_topic,
    read_until_ids,
    unique,
)

__all__ = ["nats_server"]  # the fixture
CID = "bridge-test-correlation-1"


async def test_both_directions_with_headers(
    start_worker: Callable[..., Worker], nats_server: LocalNats
) -> None:
    stream = unique("trading-events")
    worker = start_worker(**bridge_env(nats_server, stream))
    await worker.wait_ready()
    url = nats_server.url

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        assert set(info.config.subjects or []) == {
            "trading.signals", "trading.orders", "trading.fills", "trading.dead-letters",
            "trading.signals.in",
        }  # fmt: skip
        assert info.config.storage == "file"
        assert info.config.duplicate_window == 900
        consumer = await js.consumer_info(stream, f"{stream}-durable")
        assert consumer.config.ack_wait == 5 and consumer.config.max_ack_pending == 1000

        # Kafka -> NATS: a webhook signal, its order and its fill
        async with aiohttp.ClientSession() as http:
            body = json.dumps(
                {"symbol": "MSFT", "side": "buy", "quantity": "2", "order_type": "market",
                 "price": "300", "account": "br-1", "strategy": "web"}
            ).encode()  # fmt: skip
            answer = await post_signal(http, worker, body)
        signal_id = answer["signal_id"]
        (sig,) = await read_stream(url, stream, "trading.signals", 1)
        h = headers_of(sig)
        assert h["Nats-Msg-Id"] == signal_id
        assert h["At-Stream-Event-Type"] == "signal" and h["At-Stream-Schema-Version"] == "1"
        assert h["At-Stream-Kafka-Topic"] == worker.topics["signals"]
        assert h["At-Stream-Kafka-Offset"].isdigit() and h["At-Stream-Kafka-Partition"].isdigit()
        assert h["X-Correlation-ID"] == h["x-correlation-id"] == answer["correlation_id"]
        assert json.loads(sig.data)["signal_id"] == signal_id
        (order,) = await read_stream(url, stream, "trading.orders", 1)
        assert headers_of(order)["Nats-Msg-Id"] == order_id_for(signal_id)
        assert headers_of(order)["x-cause-id"] == signal_id
        (fill,) = await read_stream(url, stream, "trading.fills", 1)
        assert headers_of(fill)["Nats-Msg-Id"] == fill_id_for(order_id_for(signal_id))

        # every Kafka header value travels, a repeated name and a binary value too
        kafka_headers = [("trace", b"a"), ("trace", b"b"), ("blob", b"\x00\xff")]
        await publish_dead_letter(worker, offset=7, headers=kafka_headers)
        (dl,) = await read_stream(url, stream, "trading.dead-letters", 1)
        packed = json.loads(headers_of(dl)["At-Stream-Kafka-Headers"])
        assert packed == [["trace", "YQ=="], ["trace", "Yg=="], ["blob", "AP8="]]

        # NATS -> Kafka: a legacy signal with its id and correlation id; an invalid one
        await publish_legacy(url, "trading.signals.in", [("legacy-1", legacy_signal("br-2"))],
                             headers={"X-Correlation-ID": CID})  # fmt: skip
        await publish_legacy(url, "trading.signals.in",
                             [("legacy-bad", legacy_signal("br-3", quantity="-1"))])  # fmt: skip
        # a message the bridge published itself is never taken back (inbound loop guard)
        await publish_legacy(url, "trading.signals.in", [("looped", legacy_signal("br-4"))],
                             headers={"At-Stream-Origin": "kafka"})  # fmt: skip

        records = await read_topic(worker.bootstrap, worker.topics["signals"], 2)
        legacy = [r for r in records if json.loads(r.value)["account"] == "br-2"]
        assert len(legacy) == 1
        value = json.loads(legacy[0].value)
        assert value["signal_id"] == derive("signal", "nats:msgid:legacy-1")
        assert header(legacy[0], "x-correlation-id") == CID
        assert header(legacy[0], "at-stream-origin") == "nats"
        assert header(legacy[0], "at-stream-nats-stream") == stream
        orders = await read_topic(worker.bootstrap, worker.topics["orders"], 2)
        assert order_id_for(value["signal_id"]) in {json.loads(o.value)["order_id"] for o in orders}

        dls = await read_topic(worker.bootstrap, worker.topics["dead-letters"], 2)
        (bad,) = [d for d in dls if json.loads(d.value)["source_topic"].startswith("nats:")]
        bad_value = json.loads(bad.value)
        assert bad_value["source_topic"] == f"nats:{stream}:trading.signals.in"
        assert "invalid-signal: /quantity" in bad_value["reason"]
        assert f"NATS stream {stream} sequence {bad_value['offset']}" in bad_value["reason"]
        assert bad_value["key"] == "legacy-bad"

        # the loop guard: the legacy signal is not published back to NATS as a new event,
        # while its order and fill are; every inbound message is acked
        fills = await read_stream(url, stream, "trading.fills", 2)
        assert fill_id_for(order_id_for(value["signal_id"])) in {
            headers_of(f)["Nats-Msg-Id"] for f in fills
        }
        await asyncio.sleep(1.5)  # a batch in flight would be published by now
        sigs = await read_stream(url, stream, "trading.signals", 1, timeout=3)
        assert [headers_of(s)["Nats-Msg-Id"] for s in sigs] == [signal_id]
        assert not [r for r in records if json.loads(r.value)["account"] == "br-4"]
        consumer = await js.consumer_info(stream, f"{stream}-durable")
        assert consumer.num_pending == 0 and consumer.num_ack_pending == 0
        assert consumer.delivered.stream_seq == consumer.ack_floor.stream_seq
        async with aiohttp.ClientSession() as http, http.get(worker.url + "/metrics") as r:
            metrics = await r.text()
        for line in (
            'at_stream_bridge_messages_total{direction="kafka-to-nats",subject="trading.fills"}',
            'at_stream_bridge_messages_total{direction="nats-to-kafka",subject="trading.signals.in"}',
            "at_stream_bridge_dead_letters_total 1.0",
            'at_stream_bridge_loop_skipped_total{direction="kafka-to-nats"}',
            'at_stream_bridge_loop_skipped_total{direction="nats-to-kafka"} 1.0',
            "at_stream_bridge_nats_up 1.0",
        ):
            assert line in metrics, line
    finally:
        await nc.close()

    # NATS down: /readyz says so (503, nats_connected false) until it is back
    nats_server.stop()
    assert (await readyz_until(worker, 503))["checks"]["nats_connected"] is False
    nats_server.start()
    assert (await readyz_until(worker, 200))["checks"]["nats_connected"] is True
    # an operator deletes the stream: the bridge creates it again and goes on publishing
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.delete_stream(stream)
        await publish_dead_letter(worker, offset=8)
        for _ in range(150):
            with contextlib.suppress(NotFoundError):
                await js.stream_info(stream)
                break
            await asyncio.sleep(0.2)
        (again,) = await read_stream(url, stream, "trading.dead-letters", 1, timeout=30)
        assert json.loads(again.data)["offset"] == 8
    finally:
        await nc.close()
    worker.stop()
    assert worker.proc is not None and worker.proc.returncode == 0  # SIGTERM: a clean stop


async def publish_dead_letter(
    worker: Worker, offset: int, headers: list[tuple[str, bytes]] | None = None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=worker.bootstrap, acks="all")
    await producer.start()
    try:
        dead = {"v": 1, "source_topic": "x", "partition": 0, "offset": offset, "reason": "test",
                "key": None, "value": "{}"}  # fmt: skip
        await producer.send_and_wait(
            worker.topics["dead-letters"], json.dumps(dead).encode(), headers=headers or []
        )
    finally:
        await producer.stop()


async def readyz_until(worker: Worker, status: int, timeout: float = 20.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(worker.url + "/readyz") as r:
                body: dict[str, Any] = await r.json(content_type=None)
                if r.status == status:
                    return body
            assert asyncio.get_running_loop().time() < deadline, body
            await asyncio.sleep(0.2)


async def test_legacy_signals_wait_in_jetstream_while_kafka_is_down(
    own_broker: LocalKafka, nats_server: LocalNats, tmp_path: Path
) -> None:
    """Kafka stopped: the bridge does not ack (it NAKs with a delay), the messages stay in
    JetStream; Kafka back: each reaches ``signals`` with one order, and all are acked."""
    stream = unique("trading-events")
    (tmp_path / "w").mkdir()
    worker = Worker.launch(own_broker.bootstrap, tmp_path / "w", unique("kd"),
                           bridge_env(nats_server, stream))  # fmt: skip
    ids = [f"kd-{i}" for i in range(20)]
    nc = await nats.connect(nats_server.url)
    try:
        await worker.wait_ready()
        js = nc.jetstream()
        await asyncio.to_thread(own_broker.stop)
        await publish_legacy(nats_server.url, "trading.signals.in",
                             [(m, legacy_signal("kd", i)) for i, m in enumerate(ids)])  # fmt: skip
        await asyncio.sleep(8)
        consumer = await js.consumer_info(stream, f"{stream}-durable")
        assert consumer.ack_floor.stream_seq == 0, consumer  # nothing acked while Kafka is down
        await asyncio.to_thread(own_broker.start)
        wanted = {derive("signal", f"nats:msgid:{m}") for m in ids}
        # a write NAKed while the broker came back may also have landed: a duplicate record
        # (same id) is allowed, so read until every id is there, not until 20 records
        signals = await read_until_ids(own_broker.bootstrap, worker.topics["signals"],
                                       "signal_id", wanted, 60)  # fmt: skip
        assert {json.loads(r.value)["signal_id"] for r in signals} == wanted
        want_orders = {order_id_for(s) for s in wanted}
        orders = await read_until_ids(own_broker.bootstrap, worker.topics["orders"],
                                      "order_id", want_orders, 60)  # fmt: skip
        assert {json.loads(o.value)["order_id"] for o in orders} == want_orders
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            consumer = await js.consumer_info(stream, f"{stream}-durable")
            if consumer.num_pending == 0 and consumer.num_ack_pending == 0:
                break
            assert asyncio.get_running_loop().time() < deadline, consumer
            await asyncio.sleep(0.5)
        assert worker.proc is not None and worker.proc.poll() is None
    finally:
        await nc.close()
        worker.stop()
