"""The execution step on the real broker: the simulator, intents, fan-out, risk, cancels.

One worker with the test's simulator, risk and routes files (``execution_support``);
each scenario uses its own accounts and symbols.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import aiohttp

from tests.integration.execution_support import (
    API_TOKEN,
    events_of,
    send_quote,
    session,
    signal,
    trading_env,
)
from tests.integration.support import ROOT, Worker, get_json, wait_for

D = Decimal


def _cli(*argv: str, token: str = API_TOKEN) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AT_STREAM_API_TOKEN": token, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "app.cli", *argv]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)


def _statuses(events: list[dict[str, object]]) -> list[object]:
    return [e["status"] for e in events]


async def _position(http: aiohttp.ClientSession, worker: Worker, account: str, symbol: str,
                    quantity: str) -> None:  # fmt: skip
    await wait_for(
        http,
        f"{worker.url}/positions/{account}/{symbol}",
        lambda p: D(p["quantity"]) == D(quantity),
    )


async def test_execution_scenarios(start_worker: Callable[..., Worker], tmp_path: Path) -> None:
    worker = start_worker(**trading_env(tmp_path))
    await worker.wait_ready()
    async with session() as http:
        # A limit buy below the market rests; a quote through its limit fills it there.
        oid = await signal(http, worker, "ex-limit", symbol="LMT", order_type="limit",
                           limit_price="100", price="101")  # fmt: skip
        assert _statuses(await events_of(worker, oid, "accepted")) == ["accepted"]
        await asyncio.sleep(0.5)
        assert _statuses(await events_of(worker, oid)) == ["accepted"]  # resting
        await send_quote(worker, "LMT", bid="99", ask="99.5", last="99.5")
        events = await events_of(worker, oid, "filled")
        assert _statuses(events) == ["accepted", "filled"]
        fill = events[-1]
        assert (fill["last_price"], fill["liquidity"], fill["last_quantity"]) == (
            "100", "maker", "10")  # fmt: skip
        assert fill["cumulative_quantity"] == "10" and fill["average_price"] == "100"
        assert fill["commission"] == "1.0000"  # per share 0.01 x 10 = 0.10: the minimum
        await _position(http, worker, "ex-limit", "LMT", "10")

        # An IOC against 4 offered fills 4; the rest is cancelled at once.
        await send_quote(worker, "IOC", bid="49.9", ask="50", ask_size="4", bid_size="4")
        await asyncio.sleep(1.0)  # the quote is in every partition's book
        oid = await signal(http, worker, "ex-ioc", symbol="IOC", quantity="10",
                           time_in_force="ioc", price="50")  # fmt: skip
        events = await events_of(worker, oid, "cancelled")
        assert _statuses(events) == ["accepted", "partially_filled", "cancelled"]
        assert events[1]["last_quantity"] == "4" and events[1]["leaves_quantity"] == "6"
        assert events[2]["reason_code"] == "ioc_remainder"
        assert events[2]["cumulative_quantity"] == "4" and events[2]["leaves_quantity"] == "0"
        await _position(http, worker, "ex-ioc", "IOC", "4")
        _, order = await get_json(http, f"{worker.url}/orders/{oid}")
        assert order["status"] == "cancelled" and D(order["filled_quantity"]) == 4

        # A buy stop rests until the market reaches it, then fills at the touch.
        await send_quote(worker, "STP", bid="99.9", ask="100", last="100")
        await asyncio.sleep(1.0)
        oid = await signal(http, worker, "ex-stop", symbol="STP", order_type="stop",
                           stop_price="105", price=None)  # fmt: skip
        await events_of(worker, oid, "accepted")
        await send_quote(worker, "STP", bid="103", ask="104", last="104")
        await asyncio.sleep(0.5)
        assert _statuses(await events_of(worker, oid)) == ["accepted"]
        await send_quote(worker, "STP", bid="105.9", ask="106", last="106")
        events = await events_of(worker, oid, "filled")
        assert events[-1]["last_price"] == "106" and events[-1]["liquidity"] == "taker"

        # Target position and close: the delta from the executed position, in order.
        common = {"symbol": "TGT", "price": "20", "side": None, "quantity": None}
        first = await signal(http, worker, "ex-tgt", intent="target_position", target="10",
                             **common)  # fmt: skip
        assert (await events_of(worker, first, "filled"))[0]["side"] == "buy"
        again = await signal(http, worker, "ex-tgt", intent="target_position", target="10",
                             **common)  # fmt: skip
        reverse = await signal(http, worker, "ex-tgt", intent="target_position", target="-5",
                               **common)  # fmt: skip
        close = await signal(http, worker, "ex-tgt", intent="close", **common)
        events = await events_of(worker, close, "filled")
        assert (events[0]["side"], events[0]["order_quantity"]) == ("buy", "5")
        rev = await events_of(worker, reverse, "filled")
        assert (rev[0]["side"], rev[0]["order_quantity"]) == ("sell", "15")
        assert await events_of(worker, again) == []  # already at 10: no order
        await _position(http, worker, "ex-tgt", "TGT", "0")

        # Fan-out: strategy "fan" trades on fan-a (x1) and fan-b (x0.5).
        a = await signal(http, worker, "fan-a", symbol="FAN", strategy="fan", quantity="11")
        assert (await events_of(worker, a, "filled"))[-1]["cumulative_quantity"] == "11"
        await _position(http, worker, "fan-a", "FAN", "11")
        await _position(http, worker, "fan-b", "FAN", "5")  # 5.5 rounded down to 1

        # Cancel: a resting order is cancelled once; a second request is refused (409).
        oid = await signal(http, worker, "ex-cancel", symbol="CXL", order_type="limit",
                           limit_price="10", price="12")  # fmt: skip
        await events_of(worker, oid, "accepted")
        await wait_for(http, f"{worker.url}/orders/{oid}", lambda o: o["status"] == "accepted")
        url = f"{worker.url}/orders/{oid}/cancel"
        async with http.post(url, json={"reason": "test"}) as r:
            assert r.status == 202, await r.text()
            cancel_id = (await r.json())["cancel_id"]
        events = await events_of(worker, oid, "cancelled")
        assert events[-1]["reason_code"] == "cancel_requested" and events[-1]["reason"] == "test"
        await wait_for(http, f"{worker.url}/orders/{oid}", lambda o: o["status"] == "cancelled")
        async with http.post(url) as r:
            assert r.status == 409, await r.text()
            assert r.content_type == "application/problem+json"
        async with http.post(f"{worker.url}/orders/{cancel_id}/cancel") as r:
            assert r.status == 404  # no such order
        async with http.post(url, data=b"{bad") as r:
            assert r.status == 400


async def test_each_risk_check_rejects_with_its_reason(
    start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    worker = start_worker(**trading_env(tmp_path))
    await worker.wait_ready()

    async def rejected(oid: str) -> str:
        (event,) = await events_of(worker, oid, "rejected")
        assert event["cumulative_quantity"] == "0" and event["leaves_quantity"] == "0"
        return str(event["reason_code"])

    async with session() as http:
        cases = {
            "max_order_notional": ("r-notional", {"quantity": "11", "price": "100"}),
            "max_position_symbol": ("r-pos", {"quantity": "6"}),
            "symbol_denied": ("r-deny", {"symbol": "BAD"}),
            "symbol_not_allowed": ("r-allow", {"symbol": "MSFT"}),
            "max_position_account": ("r-gross", {"quantity": "10", "price": "200"}),
        }
        for code, (account, over) in cases.items():
            assert await rejected(await signal(http, worker, account, **over)) == code
        # passes, then is rejected: the account's rate (2/s) and daily loss (100)
        ids = [await signal(http, worker, "r-rate", strategy=f"s{i}") for i in range(3)]
        assert [e["status"] for e in await events_of(worker, ids[0], "filled")][-1] == "filled"
        assert await rejected(ids[2]) == "max_order_rate"
        await signal(http, worker, "r-loss", quantity="10", price="100")
        loss = await signal(http, worker, "r-loss", side="sell", quantity="10", price="80")
        await events_of(worker, loss, "filled")  # realized -200
        assert await rejected(await signal(http, worker, "r-loss", quantity="1")) == (
            "max_daily_loss")  # fmt: skip
        # The kill switch: reducing lets only reducing orders through; halted none.
        await events_of(worker, await signal(http, worker, "r-ks", quantity="10", symbol="KS"),
                        "filled")  # fmt: skip
        async with http.post(
            worker.url + "/trading-state",
            json={"scope": "r-ks", "state": "reducing", "reason": "t"},
        ) as r:
            assert r.status == 202, await r.text()  # fmt: skip
        more = await signal(http, worker, "r-ks", quantity="1", symbol="KS")
        assert await rejected(more) == "reducing_only"
        less = await signal(http, worker, "r-ks", side="sell", quantity="4", symbol="KS")
        await events_of(worker, less, "filled")
        # halted, through the CLI (the same endpoint): the token is wanted
        halt = ["halt", "--account", "r-ks", "--reason", "t", "--url", worker.url]
        refused = _cli(*halt, token="wrong")
        assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
        assert refused.stderr.startswith("at-stream halt: 401")
        done = _cli(*halt)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["state"] == "halted"
        halted = await signal(http, worker, "r-ks", side="sell", quantity="1", symbol="KS")
        assert await rejected(halted) == "trading_halted"
        # bad requests get a problem, and change nothing
        for body in ({"state": "paused"}, {"scope": "a b", "state": "halted"}, {"extra": 1}):
            async with http.post(worker.url + "/trading-state", json=body) as r:
                assert r.status == 422, await r.text()
                assert r.content_type == "application/problem+json"
        status, states = await get_json(http, worker.url + "/trading-state")
        assert status == 200 and states["consistent"]
        assert states["scopes"]["r-ks"]["state"] == "halted"
        shown = _cli("trading-state", "--url", worker.url)
        assert json.loads(shown.stdout)["scopes"]["r-ks"]["state"] == "halted"
        unreachable = _cli("trading-state", "--url", "http://127.0.0.1:9")
        assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr
