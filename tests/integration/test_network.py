"""A slow and lossy network between the worker and the broker.

Every byte between them goes through a loopback proxy the test controls (the broker
advertises the proxy's port): added latency, every connection cut mid-stream several
times, then new connections refused for a while (a partition). Clients retry every 503
with the same delivery identity. Whatever happened, each intended signal gets one signal
id and executes once: one fill, one position effect; no answer outlives the deadline.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.broker import LocalKafka
from app.broker.launcher import free_port
from tests.integration.netfault import FaultyProxy
from tests.integration.retrying import PROVIDERS, Senders
from tests.integration.support import Worker, fills_applied, read_topic, unique, wait_for

log = logging.getLogger(__name__)

DEADLINE_SECONDS = 2


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[tuple[LocalKafka, FaultyProxy]]:
    """A broker of the test's own that every client reaches through a ``FaultyProxy``."""
    proxy_port = free_port()
    broker = LocalKafka(tmp_path / "kafka", port=free_port(), heap="256m",
                        advertised_port=proxy_port)  # fmt: skip
    proxy = FaultyProxy(proxy_port, broker.port)
    await proxy.start()
    try:
        await asyncio.to_thread(broker.start)
        yield broker, proxy
    finally:
        await proxy.close()
        await asyncio.to_thread(broker.stop)


async def _faults(proxy: FaultyProxy) -> list[str]:
    """Latency, then cuts mid-stream, then a partition; what was done, in order."""
    done = []
    await asyncio.sleep(2.0)
    proxy.latency = 0.05
    done.append("latency 50 ms each way for 3 s")
    await asyncio.sleep(3.0)
    proxy.latency = 0.0
    for _ in range(3):
        done.append(f"cut {proxy.drop_all()} connections")
        await asyncio.sleep(1.5)
    proxy.refusing = True
    done.append(f"partition 4 s: cut {proxy.drop_all()} connections, refuse new ones")
    await asyncio.sleep(4.0)
    proxy.refusing = False
    return done


async def test_a_slow_and_lossy_network_loses_nothing_and_doubles_nothing(
    proxied: tuple[LocalKafka, FaultyProxy], tmp_path: Path
) -> None:
    _, proxy = proxied
    providers = tmp_path / "providers.toml"
    providers.write_text(PROVIDERS)
    (tmp_path / "w").mkdir()
    worker = Worker.launch(
        f"127.0.0.1:{proxy.listen_port}",
        tmp_path / "w",
        unique("net"),
        {
            "AT_STREAM_PROVIDERS_FILE": str(providers),
            "AT_STREAM_REQUEST_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
            "AT_STREAM_DEFAULT_RATE_LIMIT": "0",
        },
    )
    senders = Senders(worker, per_kind=4, signals=40, pause=0.2, deadline=DEADLINE_SECONDS,
                      account="net")  # fmt: skip
    try:
        await worker.wait_ready()
        async with aiohttp.ClientSession() as http:
            faults = asyncio.create_task(_faults(proxy))
            intended = await senders.run(http)
            done = await faults
            assert worker.proc is not None and worker.proc.poll() is None  # no crash
            total = senders.total
            assert len(set(intended)) == total  # each intended signal: one signal id
            positions = await wait_for(
                http,
                worker.url + "/positions",
                lambda b: fills_applied(b) >= total,
                timeout=120,
            )
            assert fills_applied(positions) == total
            assert {p["quantity"] for p in positions["items"]} == {"1"}
        signals = await read_topic(worker.bootstrap, worker.topics["signals"], total, timeout=10)
        fills = await read_topic(worker.bootstrap, worker.topics["fills"], total, timeout=10)
        signal_ids = Counter(json.loads(r.value)["signal_id"] for r in signals)
        fills_per_signal: dict[str, set[str]] = {}
        for record in fills:
            fill: dict[str, Any] = json.loads(record.value)
            fills_per_signal.setdefault(fill["signal_id"], set()).add(fill["fill_id"])
        assert set(signal_ids) == set(intended)
        assert set(fills_per_signal) == set(intended)
        assert all(len(f) == 1 for f in fills_per_signal.values())  # one fill each
        report = {
            "faults": done,
            "intended": total,
            "answers": dict(senders.tally),
            "connections_through_proxy": proxy.accepted,
            "connections_cut": proxy.dropped,
            "signal_records_duplicated": len(signals) - len(signal_ids),
            "fill_records_duplicated": len(fills) - len(fills_per_signal),
        }
        print("network report:", json.dumps(report, sort_keys=True))  # the figures
        assert proxy.dropped > 0, "no connection was cut: the test tested nothing"
    finally:
        worker.stop(timeout=10)
