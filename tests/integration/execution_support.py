"""Shared by the execution tests: config files, quotes, and reading lifecycle events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from app.ids import derive, order_id_for
from tests.integration.support import Worker, post_signal, read_topic, signal_body

SIMULATOR = """
[venues.sim]
seed = 7
reject_unknown_symbols = false

[venues.sim.defaults]
tick_size = "0.01"
quantity_increment = "1"
prob_fill_on_limit = "1"
fees = { per_share = "0.01", minimum = "1" }
partial = { share_of_quote_size = "1" }   # at most the size at the touch per step
"""

RISK = """
[accounts.r-notional]
max_order_notional = "1000"

[accounts.r-pos]
max_position = "5"

[accounts.r-deny]
deny_symbols = ["BAD"]

[accounts.r-allow]
allow_symbols = ["AAPL"]

[accounts.r-rate]
max_orders_per_second = 2

[accounts.r-loss]
max_daily_loss = "100"

[accounts.r-gross]
max_account_notional = "1500"
"""

ROUTES = """
[strategies]
fan = [
    { account = "fan-a" },
    { account = "fan-b", multiplier = "0.5", quantity_increment = "1" },
]
"""


API_TOKEN = "execution-test-token"


def session() -> aiohttp.ClientSession:
    """A client that sends the API token (the trading writes want it; reads take it)."""
    return aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_TOKEN}"})


def trading_env(directory: Path) -> dict[str, str]:
    """The env of a worker with the test's simulator, risk and routes files."""
    files = {"simulator.toml": SIMULATOR, "risk.toml": RISK, "routes.toml": ROUTES}
    for name, text in files.items():
        (directory / name).write_text(text)
    return {
        "AT_STREAM_API_TOKEN": API_TOKEN,
        "AT_STREAM_SIMULATOR_CONFIG": str(directory / "simulator.toml"),
        "AT_STREAM_RISK_CONFIG": str(directory / "risk.toml"),
        "AT_STREAM_ROUTES_FILE": str(directory / "routes.toml"),
    }


async def send_quote(worker: Worker, symbol: str, **prices: str) -> None:
    """One quote on the worker's ``quotes`` topic, stamped now."""
    value = {"symbol": symbol, "at": datetime.now(UTC).isoformat(), **prices}
    producer = AIOKafkaProducer(bootstrap_servers=worker.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            worker.topics["quotes"], json.dumps(value).encode(), key=symbol.encode()
        )
    finally:
        await producer.stop()


async def signal(http: aiohttp.ClientSession, worker: Worker, account: str, **over: Any) -> str:
    """POST a signal; returns the order id of its own account's order."""
    answer = await post_signal(http, worker, signal_body(account=account, **over))
    sid: str = answer["signal_id"]
    strategy = over.get("strategy")
    return derive("order", sid, account) if strategy == "fan" else order_id_for(sid)


async def order_events(worker: Worker, topic: str = "order-events") -> list[dict[str, Any]]:
    records = await read_topic(worker.bootstrap, worker.topics[topic], 10**9, timeout=1.5)
    return [json.loads(r.value) for r in records]


async def events_of(
    worker: Worker, order_id: str, until: str | None = None, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """The lifecycle events of one order, once one has status ``until`` (or time out;
    ``until`` None: after one read). Copies (at-least-once) are dropped by event id."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        seen: dict[str, dict[str, Any]] = {}
        for e in await order_events(worker):
            if e["order_id"] == order_id:
                seen.setdefault(e["event_id"], e)
        events = sorted(seen.values(), key=lambda e: int(e["seq"]))
        if until is None or any(e["status"] == until for e in events):
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"order {order_id}: no {until} event in {events}")
