"""Two workers of one app: duplicates sent to both still yield one signal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiohttp

from tests.integration.support import Worker, read_topic, signal_body, signed_headers, unique


async def test_duplicates_across_two_workers_yield_one_signal(
    start_worker: Callable[..., Worker],
) -> None:
    prefix = unique("two")
    first = start_worker(prefix)
    await first.wait_ready()
    second = start_worker(prefix)
    await second.wait_ready()
    await first.wait_ready()  # the rebalance is over on both

    n_keys = 12
    bodies = [signal_body(account=f"scale-{i}") for i in range(n_keys)]
    headers = [signed_headers(b) for b in bodies]
    async with aiohttp.ClientSession() as http:

        async def send(worker: Worker, i: int) -> tuple[int, str]:
            url = worker.url + "/webhook/signals"
            async with http.post(url, data=bodies[i], headers=headers[i]) as r:
                return r.status, (await r.json(content_type=None)).get("signal_id", "")

        answers = await asyncio.gather(
            *(send(w, i) for i in range(n_keys) for w in (first, second) for _ in range(5))
        )
    assert {status for status, _ in answers} == {202}, answers
    records = await read_topic(first.bootstrap, first.topics["signals"], n_keys + 1, timeout=8)
    accounts = sorted(json.loads(r.value)["account"] for r in records)
    assert accounts == sorted(f"scale-{i}" for i in range(n_keys))
    assert len({sid for _, sid in answers}) == n_keys
