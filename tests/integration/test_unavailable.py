"""With the broker down the webhook answers 503 with Retry-After, never 2xx."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from app.broker import LocalKafka
from tests.integration.support import (
    Worker,
    signal_body,
    signed_headers,
    unique,
)


async def test_broker_down_means_503(own_broker: LocalKafka, tmp_path: Path) -> None:
    worker = Worker.launch(
        own_broker.bootstrap,
        tmp_path,
        unique("down"),
        {"AT_STREAM_REQUEST_DEADLINE_SECONDS": "2"},
    )
    try:
        await worker.wait_ready()
        own_broker.stop()
        async with aiohttp.ClientSession() as http:
            for n in range(3):
                body = signal_body(account=f"down-{n}")
                started = time.monotonic()
                async with http.post(
                    worker.url + "/webhook/signals", data=body, headers=signed_headers(body)
                ) as r:
                    elapsed = time.monotonic() - started
                    assert r.status == 503, await r.text()
                    assert r.headers["Retry-After"].isdigit()
                    assert (await r.json(content_type=None))["type"].endswith("/broker-unavailable")
                assert elapsed < 10  # bounded by the ack timeout, not the client's patience
            async with http.get(worker.url + "/readyz") as r:
                assert r.status == 503
                problem = await r.json(content_type=None)
                assert problem["checks"]["broker_reachable"] is False  # which check fails
                assert "broker_reachable" in problem["detail"]
    finally:
        worker.stop(timeout=5)  # with no broker a graceful stop only waits
