"""Two workers of one app: duplicates sent to both still yield one signal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiohttp

from tests.integration.support import (
    Worker,
    group_lag,
    read_topic,
    signal_body,
    signed_headers,
    unique,
    wait_for,
)


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

    # Queries from either worker see every position: by key (routed to the owner) and all.
    async with aiohttp.ClientSession() as http:
        for worker in (first, second):
            everything = await wait_for(
                http, worker.url + "/positions", lambda b: len(b["items"]) == n_keys
            )
            assert sorted(p["account"] for p in everything["items"]) == accounts
            for i in range(n_keys):
                async with http.get(worker.url + f"/positions/scale-{i}/AAPL") as r:
                    assert r.status == 200, await r.text()
                    assert (await r.json())["fills_applied"] == 1


async def test_join_and_leave_lose_nothing_and_apply_nothing_twice(
    start_worker: Callable[..., Worker],
) -> None:
    """Signals flow while a second worker joins and then the first leaves."""
    prefix = unique("scale")
    first = start_worker(prefix)
    await first.wait_ready()
    n = 240
    accepted: list[str] = []
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as http:

        async def deliver(i: int, workers: list[Worker]) -> None:
            body = signal_body(account=f"sc-{i % 8}", quantity="1", price="50", strategy=f"s{i}")
            headers = signed_headers(body)
            while True:
                worker = workers[i % len(workers)]
                try:
                    async with http.post(
                        worker.url + "/webhook/signals", data=body, headers=headers
                    ) as r:
                        if r.status == 202:
                            accepted.append((await r.json())["signal_id"])
                            return
                except (TimeoutError, aiohttp.ClientError):
                    pass
                await asyncio.sleep(0.2)

        live = [first]
        for i in range(n // 3):
            await deliver(i, live)
        second = start_worker(prefix)  # joins: the group rebalances under load
        live.append(second)
        await asyncio.gather(*(deliver(i, live) for i in range(n // 3, 2 * n // 3)))
        await second.wait_ready()
        first.stop()  # leaves: its partitions and tables move to the second
        live.remove(first)
        await asyncio.gather(*(deliver(i, live) for i in range(2 * n // 3, n)))

        deadline = asyncio.get_running_loop().time() + 90
        while True:
            async with http.get(second.url + "/positions") as r:
                items = (await r.json())["items"] if r.status == 200 else []
            total = sum(int(p["quantity"]) for p in items)
            if total >= n or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)
    assert len(set(accepted)) == n
    if total != n:
        lag = await group_lag(
            second.bootstrap, prefix, [second.topics[t] for t in ("signals", "orders", "fills")]
        )
        raise AssertionError(
            f"{total} of {n} applied after 90 s; group lag {lag}\n{second.log_tail()}"
        )
    assert sum(p["fills_applied"] for p in items) == n
