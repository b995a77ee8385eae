"""HTTP load: a closed loop at fixed concurrency and an open loop at a constant rate.

Both use one aiohttp session with keep-alive. The open loop records each request's
intended send time, so a slow server cannot hide its queueing (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from bench.payloads import Presigned
from bench.stats import summary_ms

TIMEOUT = aiohttp.ClientTimeout(total=15.0)


def session(limit: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, keepalive_timeout=60.0)
    return aiohttp.ClientSession(connector=connector, timeout=TIMEOUT)


@dataclass
class ClosedLoop:
    concurrency: int
    window: float = 0.0  # measured seconds
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # 2xx only, seconds
    exhausted: bool = False  # ran out of pre-signed requests

    @property
    def accepted(self) -> int:
        return sum(n for s, n in self.statuses.items() if s.startswith("2"))

    def as_dict(self) -> dict[str, Any]:
        rate = self.accepted / self.window if self.window else 0.0
        return {
            "concurrency": self.concurrency,
            "seconds": round(self.window, 3),
            "accepted": self.accepted,
            "accepted_per_s": round(rate, 1),
            "statuses": dict(self.statuses),
            "exhausted_requests": self.exhausted,
            "latency_ms": summary_ms(self.latencies),
        }


async def closed_loop(
    url: str, requests: list[Presigned], concurrency: int, seconds: float, warmup: float
) -> ClosedLoop:
    """``concurrency`` clients, each sending its next request when the last answered."""
    result = ClosedLoop(concurrency)
    feed = iter(requests)
    start = time.perf_counter()
    measure_from = start + warmup
    measure_to = measure_from + seconds
    last_done = measure_from

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal last_done
        while True:
            now = time.perf_counter()
            if now >= measure_to:
                return
            req = next(feed, None)
            if req is None:
                result.exhausted = True
                return
            try:
                async with http.post(url, data=req.body, headers=req.headers) as resp:
                    await resp.read()
                    status = str(resp.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = type(exc).__name__
            done = time.perf_counter()
            if measure_from <= now and done <= measure_to:
                result.statuses[status] += 1
                if status.startswith("2"):
                    result.latencies.append(done - now)
                last_done = max(last_done, done)

    async with session(concurrency) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    end = measure_to if not result.exhausted else min(measure_to, last_done)
    result.window = max(0.0, end - measure_from)
    return result


@dataclass(slots=True)
class Sent:
    correlation_id: str
    intended: float  # wall clock (time.time()) at which it should have been sent
    status: str = ""
    latency: float = 0.0  # response time from the intended send time, seconds
    signal_id: str | None = None


@dataclass
class OpenLoop:
    sent: list[Sent]
    offered: int  # requests scheduled
    stopped_early: bool  # the server fell more than ``max_backlog_s`` behind


async def open_loop(
    url: str, requests: list[Presigned], rate: float, max_backlog_s: float = 5.0
) -> OpenLoop:
    """Send every request at its scheduled instant ``i / rate``, never waiting for answers.

    If more than ``max_backlog_s`` seconds' worth of requests are unanswered the server is
    saturated: sending stops there (every request sent is still reported).
    """
    sent: list[Sent] = []
    outstanding = 0
    limit = max(100, int(rate * max_backlog_s))
    wall0 = time.time() + 0.05
    perf0 = time.perf_counter() + 0.05

    async def one(http: aiohttp.ClientSession, req: Presigned, due: float, rec: Sent) -> None:
        nonlocal outstanding
        outstanding += 1
        try:
            async with http.post(url, data=req.body, headers=req.headers) as resp:
                payload = await resp.read()
                rec.status = str(resp.status)
                if resp.status == 202:
                    rec.signal_id = orjson.loads(payload)["signal_id"]
        except (aiohttp.ClientError, TimeoutError) as exc:
            rec.status = type(exc).__name__
        rec.latency = time.perf_counter() - due
        outstanding -= 1

    tasks: list[asyncio.Task[None]] = []
    stopped = False
    async with session(1024) as http:
        for i, req in enumerate(requests):
            if outstanding > limit:
                stopped = True
                break
            due = perf0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            rec = Sent(req.correlation_id, wall0 + i / rate)
            sent.append(rec)
            tasks.append(asyncio.create_task(one(http, req, due, rec)))
        await asyncio.gather(*tasks)
    return OpenLoop(sent, len(requests), stopped)
