"""Positions and order state on a real broker, through the read API."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp
from aiokafka import AIOKafkaProducer

from app.ids import order_id_for
from tests.integration.support import (
    Worker,
    get_json,
    read_topic,
    signal_body,
    signed_headers,
    wait_for,
)


async def test_positions_orders_and_signal_status(worker: Worker) -> None:
    trades = [("buy", "10", "100"), ("buy", "10", "110"), ("sell", "5", "120")]
    ids: list[str] = []
    async with aiohttp.ClientSession() as http:
        for n, (side, qty, price) in enumerate(trades):
            body = signal_body(account="st-1", side=side, quantity=qty, price=price)
            headers = {**signed_headers(body), "X-Correlation-ID": f"state-corr-{n:04d}"}
            async with http.post(worker.url + "/webhook/signals", data=body, headers=headers) as r:
                assert r.status == 202
                ids.append((await r.json())["signal_id"])
            await asyncio.sleep(1.1)  # legacy delivery ids include the second: keep them apart
        other = signal_body(account="st-1", symbol="MSFT", price="400")
        async with http.post(
            worker.url + "/webhook/signals", data=other, headers=signed_headers(other)
        ) as r:
            assert r.status == 202

        position = await wait_for(
            http, worker.url + "/positions/st-1/AAPL", lambda p: p["fills_applied"] == 3
        )
        assert Decimal(position["quantity"]) == 15
        assert Decimal(position["avg_price"]) == 105
        assert Decimal(position["realized_pnl"]) == 75
        account = await wait_for(
            http, worker.url + "/positions/st-1", lambda b: len(b["items"]) == 2
        )
        assert [p["symbol"] for p in account["items"]] == ["AAPL", "MSFT"]
        everything = await wait_for(http, worker.url + "/positions", lambda b: len(b["items"]) == 2)
        assert everything["items"] == account["items"]

        order = await wait_for(
            http, worker.url + f"/orders/{order_id_for(ids[0])}", lambda o: o["status"] == "filled"
        )
        assert order["signal_id"] == ids[0] and order["correlation_id"] == "state-corr-0000"
        status = await wait_for(http, worker.url + f"/signals/{ids[2]}", lambda s: True)
        assert status["status"] == "filled" and status["order_id"] == order_id_for(ids[2])
        by_cid = await wait_for(
            http, worker.url + "/signals?correlation_id=state-corr-0001", lambda b: b["items"]
        )
        assert [o["signal_id"] for o in by_cid["items"]] == [ids[1]]
        assert (await get_json(http, worker.url + "/orders/nope"))[0] == 404
        assert (await get_json(http, worker.url + "/positions/st-1/NOPE"))[0] == 404

        # The same fill delivered again changes nothing.
        fills = await read_topic(worker.bootstrap, worker.topics["fills"], 4)
        producer = AIOKafkaProducer(bootstrap_servers=worker.bootstrap, acks="all")
        await producer.start()
        try:
            for fill in fills:
                await producer.send_and_wait(
                    worker.topics["fills"], fill.value, key=fill.key, headers=list(fill.headers)
                )
        finally:
            await producer.stop()
        await asyncio.sleep(3)
        again = await wait_for(http, worker.url + "/positions/st-1/AAPL", lambda p: True)
        assert again == position
