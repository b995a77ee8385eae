"""The at-stream image itself: the worker container against the broker, end to end.

Needs a Docker engine and the image of ``make images``; without them these tests skip
with the reason, unless ``AT_STREAM_REQUIRE_CONTAINERS=1`` (set by ``make test`` when it
started Docker), where a missing engine or image fails them instead.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
from pathlib import Path

import aiohttp
import pytest

from at_stream.testing.brokers import docker_client, image_present
from at_stream.testing.harness import IMAGE, Signer, Worker, new_worker
from tests.integration.support import SECRET, read_topic, signal_body, signed_headers

pytestmark = pytest.mark.containers

SW_SECRET = "whsec_" + base64.b64encode(b"container-test-standard-webhooks").decode()
N = 30  # signals before the SIGTERM, and as many again right before it


def need_image() -> None:
    client = docker_client()
    if client is None:
        reason = "no Docker engine answers"
    elif not image_present(client, IMAGE):
        reason = f"image {IMAGE} is absent (make images builds it)"
    else:
        client.close()
        return
    if os.environ.get("AT_STREAM_REQUIRE_CONTAINERS") == "1":
        pytest.fail(f"containers required: {reason}")
    pytest.skip(reason)


async def post(http: aiohttp.ClientSession, worker: Worker, signer: Signer, i: int) -> str:
    """Signal ``i``, signed with the legacy scheme (odd) or Standard Webhooks (even)."""
    body = signal_body(account=f"img-{i % 3}", quantity="1", price="100", strategy=f"s{i}")
    if signer.scheme == "legacy":
        url, headers = worker.url + "/webhook/signals", signed_headers(body)
    else:
        body, headers = signer.sign(body)
        url = worker.url + signer.path
    for _ in range(60):  # a 503 (not ready yet) is retried, the same delivery, as providers do
        async with http.post(url, data=body, headers=headers) as r:
            if r.status == 503:
                await asyncio.sleep(0.5)
                continue
            assert r.status == 202, await r.text()
            signal_id: str = (await r.json())["signal_id"]
            return signal_id
    raise AssertionError("503 for 30s")


async def test_worker_image_fills_signals_and_stops_cleanly_on_sigterm(
    kafka: str, tmp_path: Path
) -> None:
    need_image()
    signers = {
        "legacy": Signer("default", "legacy", SECRET),
        "standard-webhooks": Signer("sw", "standard-webhooks", SW_SECRET),
    }
    worker = new_worker(kafka, tmp_path, signers=signers, mode="container")
    assert (tmp_path / "providers.toml").exists()  # the container reads it, mounted
    worker.start()
    try:
        await asyncio.to_thread(worker.wait_ready)
        inspect = worker.container.attrs
        assert inspect["HostConfig"]["NetworkMode"] == "host"
        assert inspect["Config"]["User"] == "atstream"
        pick = [signers["legacy"], signers["standard-webhooks"]]
        async with aiohttp.ClientSession() as http:
            first = [await post(http, worker, pick[i % 2], i) for i in range(N)]
            fills = await read_topic(kafka, worker.topics["fills"], N, timeout=60)
            assert {json.loads(f.value)["signal_id"] for f in fills} == set(first)
            # As many again, and SIGTERM as soon as the last one is accepted.
            second = [await post(http, worker, pick[i % 2], i) for i in range(N, 2 * N)]
        code = await asyncio.to_thread(worker.stop, signal.SIGTERM)
        assert code == 0, f"exit code {code} after SIGTERM:\n{worker.logs()}"

        # Nothing lost: every accepted signal is on the log once; after a restart of the
        # same container every one has exactly one fill.
        ids = set(first) | set(second)
        assert len(ids) == 2 * N
        signals = await read_topic(kafka, worker.topics["signals"], 2 * N + 1, timeout=5)
        assert sorted(json.loads(s.value)["signal_id"] for s in signals) == sorted(ids)
        worker.start()
        await asyncio.to_thread(worker.wait_ready)
        fills = await read_topic(kafka, worker.topics["fills"], 2 * N, timeout=90)
        got = [json.loads(f.value)["signal_id"] for f in fills]
        assert sorted(got) == sorted(ids), f"{len(got)} fills for {len(ids)} signals"
        late = await read_topic(kafka, worker.topics["fills"], 2 * N + 1, timeout=3)
        assert len(late) == 2 * N, "a fill written twice"
    finally:
        await asyncio.to_thread(worker.remove)
