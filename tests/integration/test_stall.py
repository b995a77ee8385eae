"""A partition that stays assigned but is no longer fetched heals by itself.

The fault (``AT_STREAM_TEST_PAUSE_PARTITION``) stops fetching ``signals`` partition 1 at
aiokafka's level once it made progress, as the stall bug does (faust-streaming #629):
Faust still owns the partition and nothing else would ever fetch it again. The watchdog
sees lag without a commit for ``AT_STREAM_STALL_SECONDS`` and asks for a rebalance; every
signal is then applied once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp

from app.tables import partition_of
from tests.integration.support import (
    Worker,
    fills_applied,
    post_signal,
    signal_body,
    unique,
    wait_for,
)

STALL_SECONDS = 6


def _accounts(partition: int, n: int) -> list[str]:
    """``n`` accounts whose ``account|AAPL`` key goes to ``partition`` of 4."""
    out: list[str] = []
    i = 0
    while len(out) < n:
        account = f"stall-{i}"
        if partition_of(f"{account}|AAPL".encode(), 4) == partition:
            out.append(account)
        i += 1
    return out


async def _metric(http: aiohttp.ClientSession, worker: Worker, name: str) -> float:
    async with http.get(worker.url + "/metrics") as r:
        for line in (await r.text()).splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


async def test_a_stalled_partition_is_healed_by_a_rebalance(
    start_worker: Callable[..., Worker],
) -> None:
    worker = start_worker(
        unique("stall"),
        AT_STREAM_TEST_PAUSE_PARTITION="signals:1",
        AT_STREAM_STALL_SECONDS=str(STALL_SECONDS),
        AT_STREAM_TOPIC_PARTITIONS="4",
    )
    await worker.wait_ready()
    stuck, elsewhere = _accounts(1, 10), _accounts(0, 10)
    async with aiohttp.ClientSession() as http:
        for account in stuck[:2]:  # partition 1 makes progress: the fault arms
            await post_signal(http, worker, signal_body(account=account, quantity="1"))
        await wait_for(http, worker.url + "/positions", lambda b: fills_applied(b) >= 2)
        deadline = asyncio.get_running_loop().time() + 20
        while "fault injected" not in worker.log_tail(400):
            assert asyncio.get_running_loop().time() < deadline, worker.log_tail()
            await asyncio.sleep(0.5)

        for account in stuck[2:] + elsewhere:
            await post_signal(http, worker, signal_body(account=account, quantity="1"))
        total = 2 + len(stuck[2:]) + len(elsewhere)
        await wait_for(http, worker.url + "/positions", lambda b: fills_applied(b) >= 12)
        positions = await wait_for(http, worker.url + "/positions", lambda b: True)
        assert fills_applied(positions) < total, "partition 1 was not stalled: no test"
        assert await _metric(http, worker, "at_stream_stall_rebalances_total") == 0

        positions = await wait_for(
            http, worker.url + "/positions", lambda b: fills_applied(b) >= total, timeout=60
        )
        assert fills_applied(positions) == total
        assert {p["quantity"] for p in positions["items"]} == {"1"}
        assert await _metric(http, worker, "at_stream_stall_rebalances_total") >= 1
        assert "stalled partitions" in worker.log_tail(2000)
