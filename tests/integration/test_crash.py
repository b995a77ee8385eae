"""SIGKILL the worker again and again while signals flow: every signal, one effect."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import aiohttp

from tests.integration.support import Worker, read_topic, signal_body, signed_headers

log = logging.getLogger(__name__)

N_SIGNALS = 300
KILLS = 3


async def deliver(http: aiohttp.ClientSession, worker: Worker, i: int) -> str:
    """Post signal ``i`` until it is accepted, as a provider retrying would."""
    body = signal_body(account=f"crash-{i % 6}", quantity="1", price="100", strategy=f"s{i}")
    headers = signed_headers(body)  # one signing: every retry is the same delivery
    while True:
        try:
            async with http.post(worker.url + "/webhook/signals", data=body, headers=headers) as r:
                if r.status == 202:
                    signal_id: str = (await r.json())["signal_id"]
                    return signal_id
                assert r.status == 503, await r.text()
        except (TimeoutError, aiohttp.ClientError):
            pass
        await asyncio.sleep(0.2)


async def test_sigkill_loses_nothing_and_applies_nothing_twice(
    start_worker: Callable[..., Worker],
) -> None:
    worker = start_worker()
    await worker.wait_ready()
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> str:
            async with sem:
                return await deliver(http, worker, i)

        sending = asyncio.gather(*(one(i) for i in range(N_SIGNALS)))
        for _ in range(KILLS):
            await asyncio.sleep(2.5)
            worker.stop(signal.SIGKILL)
            worker.start()
        ids = await sending
        await worker.wait_ready()
        assert len(set(ids)) == N_SIGNALS

        deadline = asyncio.get_running_loop().time() + 90
        while True:
            async with http.get(worker.url + "/positions") as r:
                items = (await r.json())["items"] if r.status == 200 else []
            total = sum(Decimal(p["quantity"]) for p in items)
            if total >= N_SIGNALS or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)
        assert total == N_SIGNALS, f"{total} units applied for {N_SIGNALS} signals"
        assert sum(p["fills_applied"] for p in items) == N_SIGNALS
        for signal_id in ids[:: N_SIGNALS // 30]:  # a sample of signals: each order filled once
            async with http.get(worker.url + f"/signals/{signal_id}") as r:
                status = await r.json()
            assert status["status"] == "filled", status
            assert len(status["order"]["applied"]) == 1

    topics = {}
    for name, id_field in (("signals", "signal_id"), ("orders", "order_id"), ("fills", "fill_id")):
        records = await read_topic(worker.bootstrap, worker.topics[name], 10**9, timeout=8)
        counts = Counter(json.loads(r.value)[id_field] for r in records)
        assert len(counts) == N_SIGNALS
        topics[name] = sum(counts.values()) - len(counts)
    log.warning("duplicates on topics after %d SIGKILLs: %s", KILLS, topics)
