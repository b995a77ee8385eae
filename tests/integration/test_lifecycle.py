"""No 5xx but 503, at any moment of a worker's life: start-up, a rebalance, a restart
after a crash, shutdown.

Clients hammer the webhook of a worker from before its port opens, while a second
worker joins the group, while the first one is SIGKILLed and restarted on its own data
(the moment a restarted worker once answered 500 from the forward-to-owner routing),
while the second one leaves, and until the first one has exited. Every answer is
202 or 503 (not-ready, broker-unavailable, overloaded), each 503 with Retry-After. The rate
limit is off: the fast 503s of start-up would otherwise reach it (a 429 is a 4xx, not what
this test is about).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from collections.abc import Callable

import aiohttp

from tests.integration.support import Worker, signal_body, signed_headers, unique

CLIENTS = 4
SESSION_TIMEOUT = "6"  # the killed worker's old membership expires sooner


async def _hammer(
    http: aiohttp.ClientSession, workers: list[Worker], stop: asyncio.Event,
    statuses: Counter[int], bad: list[str],
) -> None:  # fmt: skip
    n = 0
    while not stop.is_set():
        for worker in list(workers):
            n += 1
            body = signal_body(account=unique("life"))
            try:
                async with http.post(
                    worker.url + "/webhook/signals", data=body, headers=signed_headers(body)
                ) as r:
                    statuses[r.status] += 1
                    if r.status not in {202, 503}:
                        bad.append(f"{r.status} {r.content_type} {await r.text()}")
                    elif r.status == 503 and not r.headers.get("Retry-After"):
                        bad.append("503 without Retry-After")
            except (TimeoutError, aiohttp.ClientError):
                statuses[0] += 1  # port not open yet, or closed: never an HTTP answer
                await asyncio.sleep(0.01)


async def test_only_202_or_503_from_start_through_rebalance_and_crash_to_shutdown(
    start_worker: Callable[..., Worker],
) -> None:
    prefix = unique("life")
    env = {
        "AT_STREAM_DEFAULT_RATE_LIMIT": "0",
        "AT_STREAM_SESSION_TIMEOUT_SECONDS": SESSION_TIMEOUT,
    }
    first = start_worker(prefix, **env)  # hammered before it opens
    workers = [first]
    statuses: Counter[int] = Counter()
    bad: list[str] = []
    stop = asyncio.Event()
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        clients = [
            asyncio.create_task(_hammer(http, workers, stop, statuses, bad)) for _ in range(CLIENTS)
        ]
        try:
            await first.wait_ready()
            second = start_worker(prefix, **env)  # joins: a rebalance
            workers.append(second)
            await second.wait_ready()
            await asyncio.sleep(2)
            await asyncio.to_thread(first.stop, signal.SIGKILL)  # a crash under load
            first.start()  # restarted on its data: start-up, recovery, another rebalance
            await first.wait_ready()
            await second.wait_ready()
            await asyncio.sleep(2)
            await asyncio.to_thread(second.stop)  # leaves: another rebalance
            workers.remove(second)
            await first.wait_ready()
            await asyncio.sleep(1)
            await asyncio.to_thread(first.stop)  # shutdown under load
            assert first.proc is not None and first.proc.returncode is not None
        finally:
            stop.set()
            for client in clients:
                with contextlib.suppress(Exception):
                    await client
    assert not bad, bad[:5]
    assert statuses[202] > 0 and statuses[503] > 0, statuses
