"""The execution step with Alpaca as its venue (``AT_STREAM_VENUE=alpaca``), on the real
broker, against the local server that follows Alpaca's documented API (in this process).

A signal's order passes risk, is submitted with our order id as the client order id and
accepted; fills made at the venue come back through the poller and ``orders`` as our
lifecycle events and fills; a worker SIGKILLed and restarted reconciles, follows the
order from its own state and applies a fill made while it was down once; a cancel goes
to the venue; a venue reject is a rejected event with the venue's reason code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from signal import SIGKILL

import aiohttp

from tests.integration.alpaca_server import KEY, SECRET, FakeAlpaca, Fault
from tests.integration.execution_support import (
    API_TOKEN,
    events_of,
    session,
    signal,
    trading_env,
)
from tests.integration.support import Worker, wait_for


def _env(alpaca: FakeAlpaca, directory: Path) -> dict[str, str]:
    return {
        **trading_env(directory),
        "AT_STREAM_VENUE": "alpaca",
        "ALPACA_BASE_URL": alpaca.url,
        "ALPACA_API_KEY_ID": KEY,
        "ALPACA_API_SECRET_KEY": SECRET,
        "AT_STREAM_ALPACA_POLL_INTERVAL_SECONDS": "0.3",
        "AT_STREAM_ALPACA_MAX_ATTEMPTS": "2",
        "AT_STREAM_ALPACA_BACKOFF_BASE_SECONDS": "0.05",
        "AT_STREAM_ALPACA_REQUEST_TIMEOUT_SECONDS": "2",
    }


async def _at_venue(alpaca: FakeAlpaca, order_id: str) -> None:
    for _ in range(300):
        if alpaca.orders_with(order_id):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"order {order_id} never reached the venue")


async def _position(http: aiohttp.ClientSession, worker: Worker, account: str, qty: str) -> None:
    await wait_for(
        http, f"{worker.url}/positions/{account}/AAPL", lambda p: D(p["quantity"]) == D(qty)
    )


def _statuses(events: list[dict[str, object]]) -> list[object]:
    return [e["status"] for e in events]


async def test_orders_execute_at_the_venue_and_survive_a_restart(
    start_worker: Callable[..., Worker], tmp_path: Path, alpaca: FakeAlpaca
) -> None:
    worker = start_worker(**_env(alpaca, tmp_path))
    await worker.wait_ready()
    async with session() as http:
        oid = await signal(http, worker, "venue-a", order_type="limit", limit_price="100",
                           price="101", time_in_force="gtc")  # fmt: skip
        events = await events_of(worker, oid, "accepted")
        assert _statuses(events) == ["accepted"]
        await _at_venue(alpaca, oid)
        (placed,) = alpaca.orders_with(oid)  # our order id is the client order id
        assert (placed["symbol"], placed["side"], placed["qty"]) == ("AAPL", "buy", "10")

        alpaca.fill(oid, "4", "99.5")
        events = await events_of(worker, oid, "partially_filled")
        part = events[-1]
        assert (part["last_quantity"], part["last_price"], part["leaves_quantity"]) == (
            "4", "99.5", "6")  # fmt: skip
        await _position(http, worker, "venue-a", "4")

        # SIGKILL; the rest fills while the worker is down; the restart follows the order
        # from its own state (4 filled) and applies the rest once.
        worker.stop(SIGKILL, timeout=5)
        alpaca.fill(oid, "6", "99")
        worker.start()
        await worker.wait_ready()
        events = await events_of(worker, oid, "filled")
        assert _statuses(events) == ["accepted", "partially_filled", "filled"]
        assert events[-1]["last_quantity"] == "6" and events[-1]["cumulative_quantity"] == "10"
        assert events[-1]["average_price"] == "99.2"
        await _position(http, worker, "venue-a", "10")
        await asyncio.sleep(1.5)  # more polls: nothing applied twice
        await _position(http, worker, "venue-a", "10")
        assert len(alpaca.orders_with(oid)) == 1  # never submitted twice

        # A cancel goes to the venue; its cancel closes the order.
        rest = await signal(http, worker, "venue-b", order_type="limit", limit_price="90",
                            price="101", time_in_force="gtc")  # fmt: skip
        await events_of(worker, rest, "accepted")
        async with http.post(f"{worker.url}/orders/{rest}/cancel", json={}) as r:
            assert r.status == 202, await r.text()
        events = await events_of(worker, rest, "cancelled")
        assert events[-1]["reason_code"] == "venue_cancelled"
        assert alpaca.orders_with(rest)[0]["status"] == "canceled"

        # Answers lost on the way back (timeouts after the venue placed the order): the
        # submission is asked again until answered, and the order is placed once.
        alpaca.inject("POST /v2/orders", *[Fault(delay=3.0, after_processing=True)] * 3)
        doubted = await signal(http, worker, "venue-d")
        assert _statuses(await events_of(worker, doubted, "accepted", timeout=60)) == ["accepted"]
        assert len(alpaca.orders_with(doubted)) == 1

        # The venue refuses: a rejected event with its reason code; nothing followed.
        alpaca.inject("POST /v2/orders", Fault(422, {"code": 42210000, "message": "no"}))
        refused = await signal(http, worker, "venue-c")
        events = await events_of(worker, refused, "rejected")
        assert events[-1]["reason_code"] == "venue_rejected"
        assert "no" in events[-1]["reason"]
    assert API_TOKEN  # the trading writes used the configured token
