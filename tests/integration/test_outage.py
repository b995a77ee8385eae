"""A 503 means "not confirmed; retrying with the same delivery identity is always safe".

The broker is stopped for ~10 s and started again while three kinds of clients send
signals and retry every 503 until they get a 2xx: Standard Webhooks with the same
``webhook-id`` (signed again), legacy with the same ``Idempotency-Key`` (signed again),
and legacy signed again with the same ``X-Correlation-ID``. Some 503-answered writes are
still acknowledged by the broker afterwards; their retries must get the original outcome.
Every intended signal must execute exactly once: one signal id, one fill, one position
effect.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.broker import LocalKafka
from tests.integration.retrying import PROVIDERS, Senders, headers
from tests.integration.support import (
    Worker,
    fills_applied,
    read_topic,
    signal_body,
    unique,
    wait_for,
)

log = logging.getLogger(__name__)

SENDERS_PER_KIND = 6
SIGNALS_PER_SENDER = 40
PAUSE_SECONDS = 0.35  # 18 senders: ~50 signals/s while the broker answers
OUTAGE_SECONDS = 10.0
DEADLINE_SECONDS = 2


async def _outage(broker: LocalKafka, how: str) -> tuple[float, float]:
    """Stop and start the broker (``restart``), or freeze it (``hang``: SIGSTOP, a GC
    pause or a stuck disk) for ``OUTAGE_SECONDS``; (down, back) on the monotonic clock."""
    await asyncio.sleep(3.0)
    down = time.monotonic()
    pid = broker.pid()
    assert pid is not None
    if how == "restart":
        await asyncio.to_thread(broker.stop)
    else:
        os.kill(pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(OUTAGE_SECONDS)
    finally:
        if how == "restart":
            await asyncio.to_thread(broker.start)
        else:
            os.kill(pid, signal.SIGCONT)
    return down, time.monotonic()


@pytest.mark.parametrize("how", ["restart", "hang"])
async def test_retrying_every_503_executes_every_signal_once(
    own_broker: LocalKafka, tmp_path: Path, how: str
) -> None:
    providers = tmp_path / "providers.toml"
    providers.write_text(PROVIDERS)
    (tmp_path / "w").mkdir()
    worker = Worker.launch(
        own_broker.bootstrap,
        tmp_path / "w",
        unique("outage"),
        {
            "AT_STREAM_PROVIDERS_FILE": str(providers),
            "AT_STREAM_REQUEST_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
            "AT_STREAM_DEFAULT_RATE_LIMIT": "0",
        },
    )
    senders = Senders(worker, SENDERS_PER_KIND, SIGNALS_PER_SENDER, PAUSE_SECONDS, DEADLINE_SECONDS)
    tally, accepted_at = senders.tally, senders.accepted_at
    try:
        await worker.wait_ready()
        async with aiohttp.ClientSession() as http:
            outage = asyncio.create_task(_outage(own_broker, how))
            intended = await senders.run(http)
            down, back = await outage
            assert worker.proc is not None and worker.proc.poll() is None  # no crash
            total = senders.total
            assert len(intended) == total
            assert len(set(intended)) == total  # each intended signal: one signal id

            positions = await wait_for(
                http,
                worker.url + "/positions",
                lambda b: fills_applied(b) >= total,
                timeout=120,
            )
            assert fills_applied(positions) == total
            assert {p["quantity"] for p in positions["items"]} == {"1"}
            async with http.get(worker.url + "/metrics") as r:
                metrics = await r.text()
        signals = await read_topic(worker.bootstrap, worker.topics["signals"], total, timeout=10)
        fills = await read_topic(worker.bootstrap, worker.topics["fills"], total, timeout=10)
        signal_ids = Counter(json.loads(r.value)["signal_id"] for r in signals)
        fills_per_signal: dict[str, set[str]] = {}
        for record in fills:
            fill: dict[str, Any] = json.loads(record.value)
            fills_per_signal.setdefault(fill["signal_id"], set()).add(fill["fill_id"])
        assert set(signal_ids) == set(intended)  # nothing but the intended signals
        assert set(fills_per_signal) == set(intended)
        assert all(len(f) == 1 for f in fills_per_signal.values())  # one fill each
        late = _metric(metrics, "at_stream_webhook_late_writes_total")
        after = [t for t in accepted_at if t > back]
        report = {
            "outage": how,
            "gap_after_broker_back_s": round(min(after) - back, 2) if after else None,
            "no_2xx_while_down_s": round(min(after) - max(t for t in accepted_at if t < down), 2)
            if after and any(t < down for t in accepted_at)
            else None,
            "intended": total,
            "answers": dict(tally),
            "late_writes_recorded": late,
            "signal_records": len(signals),
            "signal_records_duplicated": len(signals) - len(signal_ids),
            "fills_distinct": sum(len(f) for f in fills_per_signal.values()),
        }
        print("outage report:", json.dumps(report, sort_keys=True))  # the figures
        assert tally["503"] > 0, "the outage produced no 503: it tested nothing"
    finally:
        worker.stop(timeout=10)


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def test_a_write_acknowledged_after_its_503_is_the_outcome_of_its_retry(
    own_broker: LocalKafka, tmp_path: Path
) -> None:
    """The broker hangs (SIGSTOP) past the deadline but within the write timeout: the
    request gets 503, the broker then acknowledges the write, and a retry with the same
    identity gets that 202 (``"replayed": true``) instead of a second record."""
    worker = Worker.launch(
        own_broker.bootstrap,
        tmp_path,
        unique("late"),
        {
            "AT_STREAM_REQUEST_DEADLINE_SECONDS": "1",
            "AT_STREAM_WEBHOOK_WRITE_TIMEOUT_SECONDS": "20",
        },
    )
    pid = own_broker.pid()
    assert pid is not None
    try:
        await worker.wait_ready()
        async with aiohttp.ClientSession() as http:
            cases = [("idempotency-key", "late-idem-0001"), ("correlation-id", "late-corr-0001")]
            bodies = {kind: signal_body(account=f"late-{kind}") for kind, _ in cases}
            os.kill(pid, signal.SIGSTOP)
            try:
                for kind, identity in cases:
                    async with http.post(
                        worker.url + "/webhook/signals", data=bodies[kind],
                        headers=headers(kind, identity, bodies[kind]),
                    ) as r:  # fmt: skip
                        assert r.status == 503, await r.text()
                await asyncio.sleep(1.5)
            finally:
                os.kill(pid, signal.SIGCONT)

            def late_writes(text: str) -> bool:
                return _metric(text, "at_stream_webhook_late_writes_total") >= len(cases)

            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                async with http.get(worker.url + "/metrics") as r:
                    if late_writes(await r.text()):
                        break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the late acknowledgements were not recorded")
            ids = []
            for kind, identity in cases:
                body = bodies[kind]
                async with http.post(  # a retry, signed again
                    worker.url + "/webhook/signals", data=body,
                    headers=headers(kind, identity, body),
                ) as r:  # fmt: skip
                    answer = await r.json(content_type=None)
                    assert r.status == 202, answer
                    assert answer["replayed"] is True
                    ids.append(answer["signal_id"])
        signals = await read_topic(worker.bootstrap, worker.topics["signals"], 3, timeout=5)
        assert sorted(json.loads(r.value)["signal_id"] for r in signals) == sorted(ids)
    finally:
        os.kill(pid, signal.SIGCONT)
        worker.stop(timeout=10)
