"""Fast restore (``app.restore``): a worker whose local tables are gone refills them from
the changelogs before Faust starts, and serves the same state."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from decimal import Decimal

import aiohttp

from tests.integration.support import Worker, fills_applied, post_signal, signal_body, wait_for

N = 12


async def post(http: aiohttp.ClientSession, worker: Worker, i: int) -> None:
    body = signal_body(account=f"fr-{i % 3}", quantity="2", price=str(100 + i), strategy=f"s{i}")
    await post_signal(http, worker, body)


async def restart_without_local_data(worker: Worker) -> None:
    """Stop the worker, delete its local table data, start it and wait until it is ready."""
    worker.stop()
    wiped = [p for p in worker.log_path.parent.iterdir() if p.is_dir()]
    assert wiped, "the worker kept no local data"
    for path in wiped:
        shutil.rmtree(path)
    worker.start()
    await worker.wait_ready()


async def test_wiped_tables_come_back_from_the_changelogs(
    start_worker: Callable[..., Worker],
) -> None:
    worker = start_worker()
    await worker.wait_ready()
    async with aiohttp.ClientSession() as http:
        for i in range(N):
            await post(http, worker, i)
        before = await wait_for(http, worker.url + "/positions", lambda b: fills_applied(b) == N)

        await restart_without_local_data(worker)
        log = worker.log_path.read_text(errors="replace")
        assert "fast restore: " in log and "changelog records into" in log
        after = await wait_for(http, worker.url + "/positions", lambda b: True)
        assert after == before

        # The restored tables take new effects: one more fill on a restored position.
        await post(http, worker, 0)
        again = await wait_for(http, worker.url + "/positions", lambda b: fills_applied(b) == N + 1)
        [first] = [p for p in again["items"] if p["account"] == "fr-0"]
        [old] = [p for p in before["items"] if p["account"] == "fr-0"]
        assert Decimal(first["quantity"]) == Decimal(old["quantity"]) + 2


async def test_fast_restore_can_be_turned_off(start_worker: Callable[..., Worker]) -> None:
    worker = start_worker(AT_STREAM_FAST_RESTORE="false")
    await worker.wait_ready()
    async with aiohttp.ClientSession() as http:
        await post(http, worker, 1)
        before = await wait_for(http, worker.url + "/positions", lambda b: fills_applied(b) == 1)
        await restart_without_local_data(worker)
        assert "fast restore" not in worker.log_path.read_text(errors="replace")
        assert await wait_for(http, worker.url + "/positions", lambda b: True) == before
