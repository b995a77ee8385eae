"""Soak: a moderate rate for ``AT_STREAM_SOAK_SECONDS`` (600) -> nothing grows.

A long run (``pytest -m long tests/integration/test_soak.py``; outside make test). One
worker takes ~40 signed signals/s with a dedupe TTL of 120 s; its ``/metrics`` is sampled
every 10 s. After a warm-up of a fifth of the run: resident memory flat (the last fifth's
median within 15 % of the second fifth's), open files and asyncio tasks bounded (no trend:
the last fifth's maximum within a small margin of the second fifth's), and the
``deliveries`` table (the dedupe state) bounded by what the TTL keeps, so expired keys are
deleted as configured. Every signal is applied once at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections.abc import Callable

import aiohttp
import pytest

from tests.integration.support import (
    Worker,
    fills_applied,
    signal_body,
    signed_headers,
    unique,
    wait_for,
)

pytestmark = pytest.mark.long

SECONDS = float(os.environ.get("AT_STREAM_SOAK_SECONDS", "600"))
RATE = 40.0  # signals/s
TTL = 120


def _gauges(text: str) -> dict[str, float]:
    wanted = {
        "process_resident_memory_bytes",
        "process_open_fds",
        "at_stream_asyncio_tasks",
        'at_stream_table_keys{table="deliveries"}',
    }
    out = {}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in wanted:
            out[name] = float(value)
    return out


async def test_a_long_moderate_load_grows_nothing(start_worker: Callable[..., Worker]) -> None:
    worker = start_worker(
        unique("soak"),
        AT_STREAM_IDEMPOTENCY_TTL_SECONDS=str(TTL),
        AT_STREAM_SIGNATURE_TOLERANCE_SECONDS="60",
        AT_STREAM_DEFAULT_RATE_LIMIT="0",
    )
    await worker.wait_ready()
    samples: list[tuple[float, dict[str, float]]] = []
    sent = 0
    async with aiohttp.ClientSession() as http:
        start = time.monotonic()

        async def sample() -> None:
            while time.monotonic() - start < SECONDS:
                async with http.get(worker.url + "/metrics") as r:
                    samples.append((time.monotonic() - start, _gauges(await r.text())))
                await asyncio.sleep(10)

        sampler = asyncio.create_task(sample())
        while time.monotonic() - start < SECONDS:
            body = signal_body(account=f"soak-{sent % 50}", quantity="1", strategy=f"s{sent}")
            async with http.post(
                worker.url + "/webhook/signals", data=body, headers=signed_headers(body)
            ) as r:
                assert r.status == 202, await r.text()
            sent += 1
            await asyncio.sleep(max(0.0, start + sent / RATE - time.monotonic()))
        await sampler
        positions = await wait_for(
            http, worker.url + "/positions", lambda b: fills_applied(b) >= sent, timeout=120
        )
        assert fills_applied(positions) == sent

    fifth = len(samples) // 5
    second, last = samples[fifth : 2 * fifth], samples[-fifth:]

    def series(part: list[tuple[float, dict[str, float]]], name: str) -> list[float]:
        return [g[name] for _, g in part if name in g]

    rss_then = statistics.median(series(second, "process_resident_memory_bytes"))
    rss_now = statistics.median(series(last, "process_resident_memory_bytes"))
    fds_then = max(series(second, "process_open_fds"))
    fds_now = max(series(last, "process_open_fds"))
    tasks_then = max(series(second, "at_stream_asyncio_tasks"))
    tasks_now = max(series(last, "at_stream_asyncio_tasks"))
    keys = series(samples, 'at_stream_table_keys{table="deliveries"}')
    report = {
        "seconds": SECONDS, "signals": sent,
        "rss_mb": [round(rss_then / 2**20), round(rss_now / 2**20)],
        "open_fds": [fds_then, fds_now], "asyncio_tasks": [tasks_then, tasks_now],
        "deliveries_keys_max": max(keys), "deliveries_keys_last": keys[-1],
    }  # fmt: skip
    print("soak report:", json.dumps(report, sort_keys=True))  # the suite's figures
    assert rss_now <= rss_then * 1.15, report
    assert fds_now <= fds_then + 8, report
    assert tasks_now <= tasks_then * 1.2 + 10, report
    if SECONDS > 3 * TTL:  # keys expire: at most what the TTL (+ a sweep period) keeps
        assert keys[-1] <= RATE * (TTL + 60) * 1.2, report
