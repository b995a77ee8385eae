"""Positions and order state on a real broker, through the read API."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import aiohttp

from app.ids import order_id_for
from tests.integration.support import (
    Worker,
    end_offsets,
    fills_applied,
    get_json,
    post_signal,
    produce_again,
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
        async with http.get(worker.url + "/signals") as r:  # the required query is missing
            assert r.status == 400 and r.content_type == "application/problem+json"
            problem = await r.json(content_type=None)
            assert problem["type"].endswith("/invalid-query"), problem
            assert "correlation_id" in problem["detail"]
        unknown = "01890a5d-ac96-774b-bcce-b302099a8057"
        status_code, problem = await get_json(http, worker.url + f"/signals/{unknown}")
        assert status_code == 404 and unknown in problem["detail"]
        assert order_id_for(unknown) not in problem["detail"]  # no derived id of another thing

        # The same fill delivered again changes nothing.
        fills = await read_topic(worker.bootstrap, worker.topics["fills"], 4)
        await produce_again(worker.bootstrap, worker.topics["fills"], fills)
        await asyncio.sleep(3)
        again = await wait_for(http, worker.url + "/positions/st-1/AAPL", lambda p: True)
        assert again == position


async def test_a_signal_twice_on_the_topic_is_executed_once(worker: Worker) -> None:
    """A webhook retry after a crash between ack and record can put a signal on twice."""
    async with aiohttp.ClientSession() as http:
        body = signal_body(account="st-dup", quantity="3", price="50")
        signal_id = (await post_signal(http, worker, body))["signal_id"]
        [signal] = await read_topic(worker.bootstrap, worker.topics["signals"], 1)
        # the same record again, later in the partition
        await produce_again(worker.bootstrap, worker.topics["signals"], [signal])
        orders = await read_topic(worker.bootstrap, worker.topics["orders"], 2)
        assert [json.loads(o.value)["order_id"] for o in orders] == [order_id_for(signal_id)] * 2
        await asyncio.sleep(2)  # a second fill, if any, shows now
        fills = await read_topic(worker.bootstrap, worker.topics["fills"], 2, timeout=3)
        assert len(fills) == 1
        position = await wait_for(
            http, worker.url + "/positions/st-dup/AAPL", lambda p: p["fills_applied"] == 1
        )
        assert Decimal(position["quantity"]) == 3
        order = await wait_for(
            http, worker.url + f"/orders/{order_id_for(signal_id)}", lambda o: True
        )
        assert order["status"] == "filled" and Decimal(order["filled_quantity"]) == 3


async def test_an_old_fill_produced_again_is_not_applied_again(worker: Worker) -> None:
    """Beyond the position's window of recent fill ids, the order state still knows it."""
    count = 70  # > the 64 fill ids a position keeps
    async with aiohttp.ClientSession() as http:
        for i in range(count):
            body = signal_body(account="st-old", quantity="1", price="10", strategy=f"s{i}")
            await post_signal(http, worker, body)
        position = await wait_for(
            http, worker.url + "/positions/st-old/AAPL", lambda p: p["fills_applied"] == count
        )
        [first, *_] = await read_topic(worker.bootstrap, worker.topics["fills"], count)
        await produce_again(worker.bootstrap, worker.topics["fills"], [first])
        await asyncio.sleep(2)
        again = await wait_for(http, worker.url + "/positions/st-old/AAPL", lambda p: True)
        assert again == position and Decimal(again["quantity"]) == count


async def test_effects_marks_reach_the_end_of_a_burst(worker: Worker) -> None:
    """After a burst and no record behind it, the marks still move past its last records."""
    count = 40
    async with aiohttp.ClientSession() as http:
        bodies = [
            signal_body(account=f"st-burst-{i % 5}", quantity="1", strategy=f"b{i}")
            for i in range(count)
        ]
        await asyncio.gather(*(post_signal(http, worker, body) for body in bodies))
        await wait_for(http, worker.url + "/positions", lambda b: fills_applied(b) == count)
    want: dict[str, int] = {}
    for agent, topic in (("signals", "signals"), ("orders", "orders")):
        ends = await end_offsets(worker.bootstrap, worker.topics[topic])
        want.update({f"{agent}:{worker.topics[topic]}:{p}": e for p, e in ends.items() if e})
    changelog = f"{worker.prefix}-effects-changelog"
    marks: dict[str, int] = {}
    deadline = asyncio.get_running_loop().time() + 10
    while marks != want and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.5)
        for record in await read_topic(worker.bootstrap, changelog, 10**6, timeout=1):
            marks[json.loads(record.key)] = json.loads(record.value)
    assert marks == want
