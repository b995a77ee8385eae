"""Fills of another producer between the worker's own: every one is applied, once.

The orders agent applies the fills it produced itself where every earlier record of their
partition is applied (``app.tables.applied_fills``); a fill another producer put in
between must end that run, and the fills agent must still apply it. A stream of signals
and, meanwhile, fills produced straight onto ``fills`` for the same position, so that
the outside fills land among the worker's own on its partition: the position must count
all of them once, and its quantity be theirs.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp
from aiokafka import AIOKafkaProducer

from app.ids import derive, signal_id_for
from app.models import Fill, Side, Signal
from tests.integration.support import Worker, fills_applied, get_json, read_topic, wait_for

SIGNALS, OUTSIDE = 360, 40
KEY = b"own-fills|AAPL"


def _signal(i: int, at: datetime) -> Signal:
    return Signal.model_validate(
        {
            "signal_id": signal_id_for(f"own-fills-{i}".encode()),
            "received_at": at,
            "symbol": "AAPL",
            "side": "sell" if i % 3 == 0 else "buy",
            "quantity": str(1 + i % 5),
            "order_type": "market",
            "price": "10",
            "account": "own-fills",
            "strategy": "it",
        }
    )


def _outside_fill(i: int, at: datetime) -> Fill:
    return Fill(
        fill_id=derive("outside-fill", str(i)),
        order_id=derive("outside-order", str(i)),
        signal_id=derive("outside-signal", str(i)),
        account="own-fills",
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(2),
        price=Decimal(11),
        order_quantity=Decimal(2),
        filled_at=at,
    )


async def test_outside_fills_among_the_workers_own_are_all_applied(worker: Worker) -> None:
    at = datetime.now(UTC)
    signals = [_signal(i, at) for i in range(SIGNALS)]
    outside = [_outside_fill(i, at) for i in range(OUTSIDE)]
    producer = AIOKafkaProducer(bootstrap_servers=worker.bootstrap, acks="all")
    await producer.start()

    async def own() -> None:  # a steady stream of signals, a few at a time
        for i in range(0, len(signals), 6):
            for s in signals[i : i + 6]:
                await producer.send(worker.topics["signals"], s.dumps(), key=KEY)
            await asyncio.sleep(0.02)

    async def from_outside() -> None:  # meanwhile, fills straight onto ``fills``
        for fill in outside:
            await asyncio.sleep(0.03)
            await producer.send_and_wait(worker.topics["fills"], fill.dumps(), key=KEY)

    try:
        await asyncio.gather(own(), from_outside())
        await producer.flush()
    finally:
        await producer.stop()
    total = len(signals) + len(outside)
    async with aiohttp.ClientSession() as http:
        body = await wait_for(
            http, worker.url + "/positions", lambda b: fills_applied(b) >= total, timeout=120
        )
        await asyncio.sleep(2)  # anything applied twice would show now
        status, body = await get_json(http, worker.url + "/positions")
    assert status == 200, body
    (position,) = body["items"]
    assert position["fills_applied"] == total
    expected = sum((f.quantity for f in outside), Decimal(0))
    for s in signals:
        assert s.quantity is not None
        expected += s.quantity if s.side is Side.BUY else -s.quantity
    assert Decimal(position["quantity"]) == expected
    # the case this test is for happened: an outside fill between two of the worker's own
    records = await read_topic(worker.bootstrap, worker.topics["fills"], total, timeout=30)
    ours = [json.loads(r.value)["order_id"] not in {f.order_id for f in outside} for r in records]
    between = [i for i in range(1, len(ours) - 1) if not ours[i] and ours[i - 1] and ours[i + 1]]
    assert between, "no outside fill landed between two own fills: the rounds did not mix"
