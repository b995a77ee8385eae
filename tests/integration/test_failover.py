"""Two workers, one SIGKILLed under load: the survivor takes its partitions over.

Signals go to both workers (a client whose worker fails sends the same signed request to
the other); a third of the way through, one worker is SIGKILLed. The figure: seconds from
the SIGKILL until the survivor is ready with every partition (the group notices the dead
member after the session timeout, 6 s here, then rebalances and the survivor recovers
the dead one's tables). Nothing lost, nothing doubled: each accepted signal one fill and
one position effect.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.integration.support import (
    Worker,
    fills_applied,
    read_topic,
    signal_body,
    signed_headers,
    unique,
    wait_for,
)

N = 240
SESSION_TIMEOUT = "6"


async def _partitions(http: aiohttp.ClientSession, worker: Worker) -> int | None:
    try:
        async with http.get(worker.url + "/readyz") as r:
            return int((await r.json())["partitions"]) if r.status == 200 else None
    except (aiohttp.ClientError, TimeoutError):
        return None


async def _until(http: aiohttp.ClientSession, worker: Worker, want: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await _partitions(http, worker) != want:
        assert time.monotonic() < deadline, f"{worker.prefix}: not {want} partitions"
        await asyncio.sleep(0.1)


async def test_the_survivor_of_a_sigkill_takes_over_and_nothing_is_lost_or_doubled(
    start_worker: Callable[..., Worker],
) -> None:
    prefix = unique("failover")
    first = start_worker(prefix, AT_STREAM_SESSION_TIMEOUT_SECONDS=SESSION_TIMEOUT)
    await first.wait_ready()
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        total = await _partitions(http, first)
        assert total
        second = start_worker(prefix, AT_STREAM_SESSION_TIMEOUT_SECONDS=SESSION_TIMEOUT)
        await second.wait_ready()
        deadline = time.monotonic() + 60
        while True:  # both settled: ready, and the first gave some partitions away
            a, b = await _partitions(http, first), await _partitions(http, second)
            if a and b and a < total:
                break
            assert time.monotonic() < deadline, (a, b, total)
            await asyncio.sleep(0.2)

        live = [first, second]
        accepted: list[str] = []
        a_third = asyncio.Event()
        sem = asyncio.Semaphore(8)

        async def deliver(i: int) -> None:
            body = signal_body(account=f"fo-{i % 8}", quantity="1", price="10", strategy=f"s{i}")
            headers = signed_headers(body)  # one signing: every retry is the same delivery
            async with sem:
                while True:
                    worker = live[i % len(live)]
                    try:
                        async with http.post(
                            worker.url + "/webhook/signals", data=body, headers=headers
                        ) as r:
                            if r.status == 202:
                                accepted.append((await r.json())["signal_id"])
                                if len(accepted) >= N // 3:
                                    a_third.set()
                                return
                    except (TimeoutError, aiohttp.ClientError):
                        pass
                    await asyncio.sleep(0.2)

        sending = asyncio.gather(*(deliver(i) for i in range(N)))
        await a_third.wait()
        first.stop(signal.SIGKILL)
        killed = time.monotonic()
        live.remove(first)
        await _until(http, second, total, timeout=90)
        takeover = time.monotonic() - killed
        await sending
        positions: Any = await wait_for(
            http, second.url + "/positions", lambda b: fills_applied(b) >= N, timeout=45
        )
    assert len(set(accepted)) == N
    assert fills_applied(positions) == N
    assert sum(int(p["quantity"]) for p in positions["items"]) == N
    fills = await read_topic(second.bootstrap, second.topics["fills"], N, timeout=10)
    per_signal: dict[str, set[str]] = {}
    for record in fills:
        fill = json.loads(record.value)
        per_signal.setdefault(fill["signal_id"], set()).add(fill["fill_id"])
    assert set(per_signal) == set(accepted)
    assert all(len(f) == 1 for f in per_signal.values())
    report = {"signals": N, "takeover_s": round(takeover, 1),
              "fill_records_duplicated": len(fills) - len(per_signal)}  # fmt: skip
    print("failover report:", json.dumps(report, sort_keys=True))  # the suite's figures
