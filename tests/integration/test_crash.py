"""SIGKILL the worker again and again while signals flow: every signal, one effect."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import signal
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import aiohttp
import pytest

from tests.integration.support import Worker, read_topic, signal_body, signed_headers

log = logging.getLogger(__name__)

RUNS = [  # (signals, SIGKILLs, senders at once, seconds between kills)
    pytest.param(300, 5, 8, 2.5, id="fast"),
    pytest.param(100_000, 5, 32, 40.0, id="long", marks=pytest.mark.long),
]


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


@pytest.mark.parametrize(("n_signals", "kills", "senders", "every"), RUNS)
async def test_sigkill_loses_nothing_and_applies_nothing_twice(
    start_worker: Callable[..., Worker], n_signals: int, kills: int, senders: int, every: float
) -> None:
    worker = start_worker()
    await worker.wait_ready()
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        sem = asyncio.Semaphore(senders)

        async def one(i: int) -> str:
            async with sem:
                return await deliver(http, worker, i)

        sending = asyncio.gather(*(one(i) for i in range(n_signals)))
        for _ in range(kills):
            await asyncio.sleep(random.uniform(0.5, 1.5) * every)  # at random moments
            worker.stop(signal.SIGKILL)
            worker.start()
        ids = await sending
        await worker.wait_ready()
        assert len(set(ids)) == n_signals

        deadline = asyncio.get_running_loop().time() + max(90, n_signals / 100)
        while True:
            async with http.get(worker.url + "/positions") as r:
                items = (await r.json())["items"] if r.status == 200 else []
            total = sum(Decimal(p["quantity"]) for p in items)
            if total >= n_signals or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)
        assert total == n_signals, f"{total} units applied for {n_signals} signals"
        assert sum(p["fills_applied"] for p in items) == n_signals
        for signal_id in ids[:: n_signals // 30]:  # a sample of signals: each order filled once
            async with http.get(worker.url + f"/signals/{signal_id}") as r:
                status = await r.json()
            assert status["status"] == "filled", status
            assert len(status["order"]["applied"]) == 1

    topics = {}
    for name, id_field in (("signals", "signal_id"), ("orders", "order_id"), ("fills", "fill_id")):
        records = await read_topic(
            worker.bootstrap, worker.topics[name], 10**9, timeout=max(8, n_signals / 5000)
        )
        counts = Counter(json.loads(r.value)[id_field] for r in records)
        assert len(counts) == n_signals
        topics[name] = sum(counts.values()) - len(counts)
    log.warning("duplicates on topics after %d SIGKILLs: %s", kills, topics)
    report = {"signals": n_signals, "sigkills": kills, "duplicate_records_on_topics": topics,
              "duplicate_effects": 0}  # fmt: skip
    print("crash report:", json.dumps(report, sort_keys=True))  # the suite's figures
