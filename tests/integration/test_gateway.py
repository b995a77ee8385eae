"""The webhook gateway on a real broker: schemes, replays, idempotency, limits."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from standardwebhooks.webhooks import Webhook

from tests.integration.support import (
    Worker,
    end_offsets,
    read_topic,
    signal_body,
    signed_headers,
    unique,
)

SW_SECRET = "whsec_" + base64.b64encode(b"integration-standard-webhooks-key").decode()
PROVIDERS = f"""
[[providers]]
id = "engine"
scheme = "standard-webhooks"
secrets = [{{ value = "{SW_SECRET}" }}]
unknown_fields = "lenient"
rate_limit = {{ per_second = 10000, burst = 10000 }}

[[providers]]
id = "tv"
scheme = "tradingview"
secrets = [{{ value = "tv-shared-secret" }}]
allow_ips = ["127.0.0.1/32"]

[[providers]]
id = "faraway"
scheme = "tradingview"
secrets = [{{ value = "tv-shared-secret" }}]
allow_ips = ["203.0.113.0/24"]

[[providers]]
id = "slow"
scheme = "standard-webhooks"
secrets = [{{ value = "{SW_SECRET}" }}]
rate_limit = {{ per_second = 0.1, burst = 2 }}
"""


@pytest.fixture
async def gw(start_worker: Callable[..., Worker], tmp_path: Path) -> AsyncIterator[Worker]:
    providers = tmp_path / "providers.toml"
    providers.write_text(PROVIDERS)
    worker = start_worker(AT_STREAM_PROVIDERS_FILE=str(providers))
    await worker.wait_ready()
    yield worker


def sw(body: bytes, msg_id: str | None = None) -> dict[str, str]:
    msg_id = msg_id or unique("msg")
    now = datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(SW_SECRET).sign(msg_id, now, body.decode()),
    }


async def post(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, object], dict[str, str]]:
    async with http.post(url, data=body, headers=headers) as r:
        return r.status, await r.json(content_type=None), dict(r.headers)


async def test_thousand_concurrent_duplicates_yield_one_signal(gw: Worker) -> None:
    body = signal_body(account="dup-1")
    headers = sw(body, "msg-dup-1")
    url = gw.url + "/webhook/signals/engine"
    conn = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=conn) as http:
        answers = await asyncio.gather(*(post(http, url, body, headers) for _ in range(1000)))
    statuses = {status for status, _, _ in answers}
    assert statuses == {202}, statuses
    assert len({a["signal_id"] for _, a, _ in answers}) == 1
    assert sum(1 for _, a, _ in answers if not a.get("replayed")) == 1
    records = await read_topic(gw.bootstrap, gw.topics["signals"], 2, timeout=5)
    assert len(records) == 1
    fills = await read_topic(gw.bootstrap, gw.topics["fills"], 2, timeout=5)
    assert len(fills) == 1


async def test_idempotency_key(gw: Worker) -> None:
    url = gw.url + "/webhook/signals/engine"
    body = signal_body(account="idem-1")
    other = signal_body(account="idem-1", quantity="11")
    key = {"Idempotency-Key": '"order-idem-1"'}
    async with aiohttp.ClientSession() as http:
        burst = await asyncio.gather(
            *(post(http, url, body, {**sw(body), **key}) for _ in range(20))
        )
        first = [a for s, a, _ in burst if s == 202 and not a.get("replayed")]
        assert len(first) == 1
        assert {s for s, _, _ in burst} <= {202, 409}
        status, again, _ = await post(http, url, body, {**sw(body), **key})
        assert status == 202 and again["replayed"] and again["signal_id"] == first[0]["signal_id"]
        status, problem, _ = await post(http, url, other, {**sw(other), **key})
        assert status == 422 and str(problem["type"]).endswith("/idempotency-key-reused")
        status, problem, _ = await post(http, url, body, {**sw(body), "Idempotency-Key": "a b"})
        assert status == 400
    signals = [r for r in await read_topic(gw.bootstrap, gw.topics["signals"], 5, timeout=5)
               if json.loads(r.value)["account"] == "idem-1"]  # fmt: skip
    assert len(signals) == 1


async def test_legacy_correlation_id_is_the_delivery_identity(gw: Worker) -> None:
    """As the old gateway: a legacy retry signed again (new timestamp) with its
    X-Correlation-ID gets the first outcome; the same correlation id with another payload
    is 422; one record on signals."""
    url = gw.url + "/webhook/signals"
    body = signal_body(account="cid-1")
    other = signal_body(account="cid-1", quantity="11")
    cid = {"X-Correlation-ID": unique("legacy-corr")}
    now = int(datetime.now(UTC).timestamp())
    async with aiohttp.ClientSession() as http:
        status, first, _ = await post(http, url, body, {**signed_headers(body, ts=now), **cid})
        assert status == 202 and not first.get("replayed"), first
        again_headers = {**signed_headers(body, ts=now + 5), **cid}  # signed again
        status, again, headers = await post(http, url, body, again_headers)
        assert status == 202 and again["replayed"] is True, again
        assert again["signal_id"] == first["signal_id"]
        assert headers["X-Correlation-ID"] == cid["X-Correlation-ID"]
        status, problem, _ = await post(http, url, other, {**signed_headers(other), **cid})
        assert status == 422 and str(problem["type"]).endswith("/idempotency-key-reused")
    signals = [r for r in await read_topic(gw.bootstrap, gw.topics["signals"], 5, timeout=5)
               if json.loads(r.value)["account"] == "cid-1"]  # fmt: skip
    assert [json.loads(r.value)["signal_id"] for r in signals] == [first["signal_id"]]


async def test_tradingview_lenient_strict_and_limits(gw: Worker) -> None:
    async with aiohttp.ClientSession() as http:
        tv = json.dumps({**json.loads(signal_body(account="tv-1")), "secret": "tv-shared-secret"})
        status, answer, _ = await post(
            http, gw.url + "/webhook/signals/tv", tv.encode(), {"Content-Type": "text/plain"}
        )
        assert status == 202, answer
        status, _, _ = await post(
            http, gw.url + "/webhook/signals/faraway", tv.encode(), {"Content-Type": "text/plain"}
        )
        assert status == 403

        lenient = json.dumps({**json.loads(signal_body(account="len-1")), "note": "hi"}).encode()
        status, answer, _ = await post(
            http, gw.url + "/webhook/signals/engine", lenient, sw(lenient)
        )
        assert status == 202, answer
        status, problem, _ = await post(
            http, gw.url + "/webhook/signals/slow", lenient, sw(lenient)
        )
        assert status == 422 and problem["errors"][0]["pointer"] == "/note"  # type: ignore[index]

        codes = []
        for _ in range(4):
            body = signal_body(account="slow-1")
            status, _, headers = await post(http, gw.url + "/webhook/signals/slow", body, sw(body))
            codes.append(status)
        assert codes[-1] == 429 and int(headers["Retry-After"]) >= 1
        status, _, _ = await post(http, gw.url + "/webhook/signals/nobody", lenient, sw(lenient))
        assert status == 404

    records = await read_topic(gw.bootstrap, gw.topics["signals"], 3, timeout=5)
    values = {json.loads(r.value)["account"]: json.loads(r.value) for r in records}
    assert "secret" not in values["tv-1"] and b"tv-shared-secret" not in b"".join(
        r.value for r in records
    )
    assert values["len-1"]["unknown_fields"] == {"note": "hi"}


async def test_bad_input_leaves_topics_unchanged(gw: Worker) -> None:
    topics = [gw.topics[t] for t in ("signals", "orders", "fills", "dead-letters")]
    before = {t: await end_offsets(gw.bootstrap, t) for t in topics}
    deep = b'{"a":' * 40 + b"1" + b"}" * 40
    cases: list[tuple[bytes, int, str]] = [
        (b"x" * 70_000, 413, "payload-too-large"),
        (deep, 400, "invalid-json"),
        (b'{"symbol":"A","symbol":"B"}', 400, "invalid-json"),
        (b'{"quantity": NaN}', 400, "invalid-json"),
        (b'{"symbol":"\xff"}', 400, "invalid-json"),
        (signal_body(side="hold", quantity="0"), 422, "invalid-signal"),
    ]
    url = gw.url + "/webhook/signals"
    async with aiohttp.ClientSession() as http:
        for body, status, slug in cases:
            got, problem, headers = await post(http, url, body, signed_headers(body))
            assert got == status, (slug, problem)
            assert str(problem["type"]).endswith("/" + slug)
            assert headers["Content-Type"].startswith("application/problem+json")
        got, problem, _ = await post(http, url, cases[-1][0], signed_headers(cases[-1][0]))
        errors = problem["errors"]
        assert isinstance(errors, list)
        assert {e["pointer"] for e in errors} == {"/side", "/quantity"}
    after = {t: await end_offsets(gw.bootstrap, t) for t in topics}
    assert after == before


async def test_keys_survive_a_restart(gw: Worker) -> None:
    """Idempotency keys and delivery ids live in the changelog-backed table."""
    url = gw.url + "/webhook/signals/engine"
    body = signal_body(account="restart-1")
    headers = {**sw(body, "msg-restart-1"), "Idempotency-Key": "restart-key-1"}
    async with aiohttp.ClientSession() as http:
        status, first, _ = await post(http, url, body, headers)
        assert status == 202 and not first.get("replayed")
    await asyncio.sleep(1)  # the changelog record of the outcome is sent, not awaited
    gw.stop()
    gw.start()
    await gw.wait_ready()
    async with aiohttp.ClientSession() as http:
        status, again, _ = await post(http, url, body, headers)
        assert status == 202 and again["replayed"] and again["signal_id"] == first["signal_id"]
        other = signal_body(account="restart-1", quantity="2")
        status, problem, _ = await post(
            http, url, other, {**sw(other), "Idempotency-Key": "restart-key-1"}
        )
        assert status == 422, problem
    records = await read_topic(gw.bootstrap, gw.topics["signals"], 2, timeout=5)
    assert len(records) == 1


async def test_requests_over_the_in_flight_limit_are_shed(
    start_worker: Callable[..., Worker],
) -> None:
    """Past AT_STREAM_MAX_IN_FLIGHT the webhook answers 503 overloaded at once; every
    202 is on the topic and no refused signal is."""
    worker = start_worker(AT_STREAM_MAX_IN_FLIGHT="2")
    await worker.wait_ready()
    url = worker.url + "/webhook/signals"
    bodies = [signal_body(account=f"shed-{i}") for i in range(40)]
    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(
            *(post(http, url, body, signed_headers(body)) for body in bodies)
        )
    accepted = {a["signal_id"] for status, a, _ in answers if status == 202}
    shed = [(a, h) for status, a, h in answers if status == 503]
    assert accepted and shed and len(accepted) + len(shed) == len(bodies)
    for problem, headers in shed:
        assert str(problem["type"]).endswith("/overloaded")
        assert problem["status"] == 503 and "in flight" in str(problem["detail"])
        assert headers["Retry-After"] == "1"
        assert headers["Content-Type"].startswith("application/problem+json")
    records = await read_topic(worker.bootstrap, worker.topics["signals"], len(accepted))
    assert {json.loads(r.value)["signal_id"] for r in records} == accepted
