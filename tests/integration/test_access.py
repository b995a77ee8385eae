"""With an API token configured, the read API serves no anonymous or wrong-token caller.

Two workers of one group, so the answers that gather from peers (and the routed position
query) are checked with the token passed on; refusals are counted in a metric.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp

from tests.integration.support import (
    Worker,
    fills_applied,
    post_signal,
    signal_body,
    unique,
)

TOKEN = "integration-api-token-0123456789"
PATHS = ("/positions", "/positions/acc-0", "/positions/acc-0/AAPL", "/signals?correlation_id=x",
         "/orders/00000000-0000-5000-8000-000000000000")  # fmt: skip


async def test_read_api_wants_the_token(start_worker: Callable[..., Worker]) -> None:
    prefix = unique("acl")
    first = start_worker(prefix, AT_STREAM_API_TOKEN=TOKEN)
    second = start_worker(prefix, AT_STREAM_API_TOKEN=TOKEN)
    await first.wait_ready()
    await second.wait_ready()
    good = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        for n in range(8):
            await post_signal(http, first, signal_body(account=f"acc-{n}"))
        for worker in (first, second):
            for path in PATHS:
                for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                    async with http.get(worker.url + path, headers=headers) as r:
                        assert r.status == 401, (path, headers, await r.text())
                        assert r.headers["WWW-Authenticate"].startswith("Bearer")
                        problem = await r.json(content_type=None)
                        assert problem["type"].endswith("/token-required")
                        assert "quantity" not in await r.text()  # no position, no order
            positions = await wait_for_auth(http, worker, good)
            assert fills_applied(positions) == 8  # both workers' parts, gathered with the token
            async with http.get(worker.url + "/positions/acc-0/AAPL", headers=good) as r:
                assert r.status == 200  # routed to the owner with the header
            for open_path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
                async with http.get(worker.url + open_path) as r:
                    assert r.status == 200, open_path
        async with http.get(first.url + "/openapi.json") as r:
            spec = await r.json()
        assert spec["paths"]["/positions"]["get"]["security"] == [{"apiToken": []}]
        assert spec["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
        async with http.get(first.url + "/metrics") as r:
            text = await r.text()
        refused = sum(float(line.split()[-1]) for line in text.splitlines()
                      if line.startswith("at_stream_api_auth_failures_total{"))  # fmt: skip
        assert refused >= len(PATHS) * 3
    for worker in (first, second):  # the token, right or wrong, is never logged
        log = worker.log_path.read_text(errors="replace")
        assert TOKEN not in log and "Bearer wrong" not in log


async def wait_for_auth(
    http: aiohttp.ClientSession, worker: Worker, headers: dict[str, str]
) -> dict[str, object]:
    async def get(url: str) -> tuple[int, object]:
        async with http.get(url, headers=headers) as r:
            return r.status, await r.json(content_type=None)

    for _ in range(150):
        status, body = await get(worker.url + "/positions")
        if status == 200 and isinstance(body, dict) and fills_applied(body) >= 8:
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"positions not served: {status} {body}")
