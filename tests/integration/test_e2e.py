"""A signed POST over real HTTP -> 202 -> order on ``orders`` -> fill on ``fills``."""

from __future__ import annotations

import json

import aiohttp

from app.ids import fill_id_for, order_id_for
from tests.integration.support import (
    Worker,
    end_offsets,
    header,
    read_topic,
    signal_body,
    signed_headers,
)

CID = "e2e-test-correlation-0001"


async def test_signed_signal_becomes_order_and_fill(worker: Worker) -> None:
    # a buy limit at 101.5 with the market (its reference price) at 101: it fills at 101
    body = signal_body(account="e2e-1", order_type="limit", price="101", limit_price="101.5")
    async with aiohttp.ClientSession() as http:
        headers = {**signed_headers(body), "X-Correlation-ID": CID}
        async with http.post(worker.url + "/webhook/signals", data=body, headers=headers) as r:
            assert r.status == 202, await r.text()
            assert r.headers["X-Correlation-ID"] == CID
            answer = await r.json()
    assert answer["correlation_id"] == CID
    signal_id = answer["signal_id"]

    (signal,) = await read_topic(worker.bootstrap, worker.topics["signals"], 1)
    (order,) = await read_topic(worker.bootstrap, worker.topics["orders"], 1)
    (fill,) = await read_topic(worker.bootstrap, worker.topics["fills"], 1)

    assert json.loads(signal.value)["signal_id"] == signal_id
    order_value = json.loads(order.value)
    assert order_value["order_id"] == order_id_for(signal_id)
    fill_value = json.loads(fill.value)
    assert fill_value["fill_id"] == fill_id_for(order_value["order_id"])
    assert fill_value["price"] == "101" and fill_value["quantity"] == "10"
    accepted, filled = await read_topic(worker.bootstrap, worker.topics["order-events"], 2)
    assert [json.loads(e.value)["status"] for e in (accepted, filled)] == ["accepted", "filled"]
    assert json.loads(filled.value)["fill_id"] == fill_value["fill_id"]
    for record in (signal, order, fill, accepted, filled):
        assert header(record, "x-correlation-id") == CID
        assert record.key == b"e2e-1|AAPL"


async def test_forged_and_bad_requests_write_nothing(worker: Worker) -> None:
    topics = [worker.topics[t] for t in ("signals", "orders", "fills", "dead-letters")]
    before = {t: await end_offsets(worker.bootstrap, t) for t in topics}
    body = signal_body(account="e2e-2")
    good = signed_headers(body)
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        (body, signed_headers(body, secret="not-the-secret"), 401, "unauthorized"),
        (body, {"Content-Type": "application/json"}, 401, "unauthorized"),
        (body + b" ", good, 401, "unauthorized"),  # body changed after signing
        (b"{not json", signed_headers(b"{not json"), 400, "invalid-json"),
        (b"[1, 2]", signed_headers(b"[1, 2]"), 400, "invalid-json"),
        (
            signal_body(quantity="-1"),
            signed_headers(signal_body(quantity="-1")),
            422,
            "invalid-signal",
        ),
        (body, {**good, "Content-Type": "text/plain"}, 415, "unsupported-media-type"),
    ]
    async with aiohttp.ClientSession() as http:
        for data, headers, status, slug in cases:
            async with http.post(worker.url + "/webhook/signals", data=data, headers=headers) as r:
                assert r.status == status, (slug, await r.text())
                assert r.headers["Content-Type"].startswith("application/problem+json")
                problem = await r.json(content_type=None)
                assert problem["type"].endswith("/" + slug)
                assert problem["status"] == status
                if status == 422:
                    assert problem["errors"][0]["pointer"] == "/quantity"
    after = {t: await end_offsets(worker.bootstrap, t) for t in topics}
    assert after == before


async def test_health_and_readiness(worker: Worker) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(worker.url + "/healthz") as r:
            assert r.status == 200
        async with http.get(worker.url + "/readyz") as r:
            assert r.status == 200
            ready = await r.json()
            assert ready["partitions"] >= 8
            assert ready["checks"] and all(ready["checks"].values())
        async with http.get(worker.url + "/metrics") as r:
            assert r.status == 200
            text = await r.text()
            assert "at_stream_webhook_requests_total" in text
            assert "\nat_stream_webhook_in_flight 0.0\n" in text  # nothing in flight now
