"""SIGTERM under webhook load: drained, nothing lost, exit 0 within the shutdown timeout.

While clients post signals, the worker gets SIGTERM: from then on new requests get 503
(``not-ready``, with Retry-After) or find the port closed, the ones in flight finish, and
the process exits 0 in well under ``AT_STREAM_SHUTDOWN_TIMEOUT_SECONDS``. After a restart
every signal answered 2xx has exactly one fill and one position effect.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from collections.abc import Callable

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

CLIENTS = 6
SHUTDOWN_TIMEOUT_S = 20.0


async def _client(
    http: aiohttp.ClientSession, worker: Worker, n: int, stop: asyncio.Event,
    accepted: list[str], statuses: Counter[int],
) -> None:  # fmt: skip
    i = 0
    while not stop.is_set():
        i += 1
        body = signal_body(account=f"term-{n}", symbol=f"T{i}")
        try:
            async with http.post(
                worker.url + "/webhook/signals", data=body, headers=signed_headers(body)
            ) as r:
                statuses[r.status] += 1
                answer = await r.json(content_type=None)
                if r.status == 202:
                    accepted.append(answer["signal_id"])
                else:
                    assert r.status == 503 and r.headers.get("Retry-After"), (r.status, answer)
        except aiohttp.ClientError:
            statuses[0] += 1  # the port closed: the worker has gone
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.01)


async def test_sigterm_under_load_drains_and_loses_nothing(
    start_worker: Callable[..., Worker],
) -> None:
    worker = start_worker(
        unique("term"),
        AT_STREAM_SHUTDOWN_TIMEOUT_SECONDS=str(SHUTDOWN_TIMEOUT_S),
        AT_STREAM_DEFAULT_RATE_LIMIT="0",
    )
    await worker.wait_ready()
    accepted: list[str] = []
    statuses: Counter[int] = Counter()
    stop = asyncio.Event()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        clients = [
            asyncio.create_task(_client(http, worker, n, stop, accepted, statuses))
            for n in range(CLIENTS)
        ]
        await asyncio.sleep(3)
        assert worker.proc is not None
        sent_at = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(worker.proc.wait, SHUTDOWN_TIMEOUT_S + 10)
        took = time.monotonic() - sent_at
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*clients)
        assert code == 0, worker.log_tail()
        assert took < SHUTDOWN_TIMEOUT_S, took
        assert statuses[202] > 0 and statuses[503] + statuses[0] > 0, statuses

        worker.start()  # same data dir, group and topics
        await worker.wait_ready()
        total = len(accepted)
        positions = await wait_for(
            http, worker.url + "/positions", lambda b: fills_applied(b) >= total, timeout=60
        )
    signals = await read_topic(worker.bootstrap, worker.topics["signals"], total, timeout=10)
    written = {json.loads(r.value)["signal_id"] for r in signals}
    assert set(accepted) <= written  # no 2xx for anything not durable
    fills = await read_topic(worker.bootstrap, worker.topics["fills"], len(written), timeout=10)
    per_signal = Counter(json.loads(r.value)["signal_id"] for r in fills)
    assert set(per_signal) == written
    assert fills_applied(positions) == len(written)  # each exactly once
    print(f"sigterm report: accepted={total} statuses={dict(statuses)} exit={code} "
          f"took={took:.2f}s")  # fmt: skip
