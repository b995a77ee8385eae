"""Poison records on every input topic: each becomes a dead letter, and the agent goes on.

On ``signals``, ``orders`` and ``fills`` we put records that are not JSON, of the wrong
schema, of an unknown schema version, and with a key that is not the value's
``account|symbol``; then a good signal. Every poison record yields one dead-letter
record naming its topic, partition, offset and the reason; the good signal still gets
its order, fill and position.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from tests.integration.support import (
    Worker,
    fills_applied,
    post_signal,
    read_topic,
    signal_body,
    wait_for,
)


def _valid(kind: str) -> dict[str, Any]:
    """A valid value of each input topic's type (ids are 36-character UUIDs)."""
    ids = {n: f"00000000-0000-5000-8000-{n:012d}" for n in range(3)}
    common = {"v": 1, "account": "poison", "symbol": "AAPL", "side": "buy", "quantity": "1"}
    if kind == "signals":
        return {**common, "signal_id": ids[0], "order_type": "market", "price": "10",
                "strategy": "p", "received_at": "2026-12-01T10:00:00Z"}  # fmt: skip
    if kind == "orders":
        return {**common, "order_id": ids[1], "signal_id": ids[0], "strategy": "p",
                "order_type": "market", "price": "10",
                "created_at": "2026-12-01T10:00:00Z"}  # fmt: skip
    return {**common, "fill_id": ids[2], "order_id": ids[1], "signal_id": ids[0],
            "price": "10", "filled_at": "2026-12-01T10:00:00Z"}  # fmt: skip


def _poison(kind: str) -> list[tuple[str, bytes, bytes]]:
    """(what, key, value) of each kind of poison record for ``kind``'s topic."""
    good = _valid(kind)
    return [
        ("not json", b"poison|AAPL", b"\x00not json{"),
        ("wrong schema", b"poison|AAPL", json.dumps({"hello": "world"}).encode()),
        ("unknown version", b"poison|AAPL", json.dumps({**good, "v": 99}).encode()),
        ("key is not account|symbol", b"no-separator", json.dumps(good).encode()),
        ("key of another position", b"someone|MSFT", json.dumps(good).encode()),
    ]


async def test_poison_records_are_dead_lettered_and_processing_goes_on(worker: Worker) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=worker.bootstrap, acks="all")
    await producer.start()
    sent: dict[tuple[str, int, int], str] = {}
    try:
        for kind in ("signals", "orders", "fills"):
            for what, key, value in _poison(kind):
                meta = await producer.send_and_wait(worker.topics[kind], value, key=key)
                sent[(worker.topics[kind], meta.partition, meta.offset)] = what
    finally:
        await producer.stop()
    async with aiohttp.ClientSession() as http:
        await post_signal(http, worker, signal_body(account="after-poison"))
        positions = await wait_for(
            http, worker.url + "/positions", lambda b: fills_applied(b) >= 1, timeout=60
        )
    assert [p["account"] for p in positions["items"]] == ["after-poison"]
    letters = await read_topic(worker.bootstrap, worker.topics["dead-letters"], len(sent), 60)
    found = {}
    for record in letters:
        letter = json.loads(record.value)
        found[(letter["source_topic"], letter["partition"], letter["offset"])] = letter["reason"]
        assert letter["reason"], letter
    missing = {sent[k]: k for k in sent.keys() - found.keys()}
    assert not missing, f"not dead-lettered: {missing}"
    assert len(letters) == len(sent)  # one each
