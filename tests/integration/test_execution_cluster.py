"""The execution step across workers: quotes reach every partition, the kill switch is
honoured by every worker and after a restart, and a replay of ``orders`` gives the same
lifecycle events, byte for byte."""

from __future__ import annotations

import asyncio
import json
import signal as signals
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from tests.integration.execution_support import (
    events_of,
    send_quote,
    session,
    signal,
    trading_env,
)
from tests.integration.support import Worker, read_topic, unique

LIMIT_QX = {"symbol": "QX", "order_type": "limit", "limit_price": "10", "price": "11"}
ACCOUNTS = [f"cl-{i}" for i in range(8)]  # over all 4 partitions, so over both workers


async def _state(http: aiohttp.ClientSession, worker: Worker, scope: str, state: str) -> None:
    body = {"scope": scope, "state": state, "reason": "test"}
    async with http.post(worker.url + "/trading-state", json=body) as r:
        assert r.status == 202, await r.text()


async def test_quotes_kill_switch_restart_and_replay(
    start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    env = trading_env(tmp_path)
    prefix = unique("cl")
    first = start_worker(prefix, **env)
    await first.wait_ready()
    second = start_worker(prefix, **env)
    await second.wait_ready()
    await first.wait_ready()
    workers = (first, second)
    async with session() as http:
        # Resting buy limits of one symbol on every partition; one quote fills them all.
        resting = [
            await signal(http, workers[i % 2], a, **LIMIT_QX) for i, a in enumerate(ACCOUNTS)
        ]
        for oid in resting:
            await events_of(first, oid, "accepted")
        await send_quote(first, "QX", bid="9.5", ask="9.9", last="9.9")
        for oid in resting:
            assert (await events_of(first, oid, "filled"))[-1]["last_price"] == "10"

        # The kill switch through one worker holds on both, from its place in the log on.
        await _state(http, first, "*", "halted")
        started = time.monotonic()
        halted = [await signal(http, workers[i % 2], a, symbol="KX") for i, a in
                  enumerate(ACCOUNTS)]  # fmt: skip
        for oid in halted:
            (event,) = await events_of(first, oid, "rejected")
            assert event["reason_code"] == "trading_halted"
        honoured_in = time.monotonic() - started
        assert honoured_in < 30, honoured_in

        # ... and after both workers are killed and restarted (the book table's changelog).
        for w in workers:
            w.stop(signals.SIGKILL, timeout=5)
        for w in workers:
            w.start()
        for w in workers:
            await w.wait_ready()
        after = await signal(http, second, ACCOUNTS[3], symbol="KX")
        assert (await events_of(first, after, "rejected"))[0]["reason_code"] == "trading_halted"
        await _state(http, second, "*", "active")
        resumed = await signal(http, first, ACCOUNTS[3], symbol="KX")
        await events_of(first, resumed, "filled")

    # A fresh worker (new group, new tables) replays this ``orders`` into new topics.
    originals = await _events_by_id(first, first.topics["order-events"])
    replay = start_worker(unique("replay"), **env, AT_STREAM_ORDERS_TOPIC=first.topics["orders"])
    await replay.wait_ready()
    deadline = time.monotonic() + 60
    replayed: dict[str, bytes] = {}
    while time.monotonic() < deadline and set(replayed) != set(originals):
        await asyncio.sleep(1)
        replayed = await _events_by_id(replay, replay.topics["order-events"])
    assert set(replayed) == set(originals)
    assert replayed == originals  # byte for byte


async def _events_by_id(worker: Worker, topic: str) -> dict[str, bytes]:
    records = await read_topic(worker.bootstrap, topic, 10**9, timeout=1.5)
    out: dict[str, bytes] = {}
    for r in records:
        event_id = json.loads(r.value)["event_id"]
        assert out.setdefault(event_id, r.value) == r.value  # a copy is the same bytes
    return out
