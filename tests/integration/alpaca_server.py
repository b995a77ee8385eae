"""A local HTTP server that follows Alpaca's documented Trading API, with error injection.

Endpoints (as documented): ``POST /v2/orders``, ``GET /v2/orders`` (status open/closed/all,
after/until exclusive on ``submitted_at``, direction, limit <= 500, symbols),
``GET /v2/orders:by_client_order_id``, ``GET /v2/orders/{order_id}``,
``DELETE /v2/orders/{order_id}`` (204; 422 once no longer cancelable; 404 unknown) and
``GET /v2/positions``. Requests need ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY``; numbers
travel as strings; errors are ``{"code": ..., "message": ...}``; a repeated
``client_order_id`` is 422 "client_order_id must be unique".

The test drives the market in-process: :meth:`FakeAlpaca.fill`, :meth:`cancel_at_venue`,
:meth:`place` (an order placed outside at-stream), and :meth:`inject` queues faults per
route: a status (500, 503, 429 with ``Retry-After``, 422 ...), or a delay longer than the
client's timeout, before or after the request is applied (an answer lost on the way back).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN = {"new", "accepted", "pending_new", "partially_filled", "done_for_day", "pending_cancel"}
TYPES = {"market", "limit", "stop", "stop_limit", "trailing_stop"}
TIFS = {"day", "gtc", "opg", "cls", "ioc", "fok"}


@dataclass
class Fault:
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    after_processing: bool = False


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


class FakeAlpaca:
    def __init__(
        self,
        key_id: str,
        secret_key: str,
        *,
        symbols: frozenset[str] = frozenset({"AAPL", "MSFT", "TSLA"}),
        buying_power: Decimal = Decimal(1_000_000),
    ) -> None:
        self.key_id, self.secret_key = key_id, secret_key
        self.symbols = symbols
        self.buying_power = buying_power
        self.orders: dict[str, dict[str, Any]] = {}
        self.by_client: dict[str, str] = {}
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol: (qty, cost)
        self.requests: list[str] = []
        self.faults: dict[str, deque[Fault]] = {}
        self._clock = datetime.now(UTC)
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- the test's controls ------------------------------------------------------------------

    def inject(self, route: str, *faults: Fault) -> None:
        """Queue faults for ``route``, e.g. ``"POST /v2/orders"``; each is used once."""
        self.faults.setdefault(route, deque()).extend(faults)

    def count(self, route: str) -> int:
        return sum(1 for r in self.requests if r == route)

    def orders_with(self, client_order_id: str) -> list[dict[str, Any]]:
        return [o for o in self.orders.values() if o["client_order_id"] == client_order_id]

    def place(self, body: dict[str, Any]) -> dict[str, Any]:
        """An order as if submitted (by us earlier, or by hand: no validation)."""
        now = self._now()
        order: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "client_order_id": body.get("client_order_id") or str(uuid.uuid4()),
            "created_at": now, "updated_at": now, "submitted_at": now,
            "filled_at": None, "expired_at": None, "canceled_at": None, "failed_at": None,
            "replaced_at": None, "replaced_by": None, "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, body["symbol"])),
            "symbol": body["symbol"], "asset_class": "us_equity", "notional": None,
            "qty": body["qty"], "filled_qty": "0", "filled_avg_price": None,
            "order_class": "", "order_type": body["type"], "type": body["type"],
            "side": body["side"], "time_in_force": body["time_in_force"],
            "limit_price": body.get("limit_price"), "stop_price": body.get("stop_price"),
            "status": "accepted", "extended_hours": False, "legs": None,
            "trail_percent": None, "trail_price": None, "hwm": None,
        }  # fmt: skip
        self.orders[order["id"]] = order
        self.by_client[order["client_order_id"]] = order["id"]
        return order

    def fill(self, client_order_id: str, qty: str, price: str) -> None:
        order = self.orders[self.by_client[client_order_id]]
        q, p = Decimal(qty), Decimal(price)
        before = Decimal(order["filled_qty"])
        avg = Decimal(order["filled_avg_price"] or 0)
        total = before + q
        order["filled_qty"] = _num(total)
        order["filled_avg_price"] = _num((before * avg + q * p) / total)
        done = total >= Decimal(order["qty"])
        order["status"] = "filled" if done else "partially_filled"
        order["updated_at"] = self._now()
        if done:
            order["filled_at"] = order["updated_at"]
        signed = q if order["side"] == "buy" else -q
        held, cost = self.positions.get(order["symbol"], (Decimal(0), Decimal(0)))
        self.positions[order["symbol"]] = (held + signed, cost + signed * p)

    def cancel_at_venue(self, client_order_id: str, status: str = "canceled") -> None:
        order = self.orders[self.by_client[client_order_id]]
        order["status"] = status
        order["updated_at"] = self._now()
        order["canceled_at" if status == "canceled" else "expired_at"] = order["updated_at"]

    def _now(self) -> str:
        self._clock = max(datetime.now(UTC), self._clock + timedelta(microseconds=1))
        return self._clock.isoformat().replace("+00:00", "Z")

    # -- the server -----------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/v2/orders", self._submit)
        app.router.add_get("/v2/orders", self._list)
        app.router.add_get("/v2/orders:by_client_order_id", self._by_client_id)
        app.router.add_get("/v2/orders/{order_id}", self._get)
        app.router.add_delete("/v2/orders/{order_id}", self._cancel)
        app.router.add_get("/v2/positions", self._positions)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), seconds)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        info = request.match_info.route.resource
        route = f"{request.method} {info.canonical if info else request.path}"
        self.requests.append(route)
        if (
            request.headers.get("APCA-API-KEY-ID") != self.key_id
            or request.headers.get("APCA-API-SECRET-KEY") != self.secret_key
        ):
            return _error(401, 40110000, "request is not authorized")
        queue = self.faults.get(route)
        fault = queue.popleft() if queue else None
        if fault is None:
            return await handler(request)
        if fault.after_processing:
            response = await handler(request)
            await self._wait(fault.delay)
        else:
            await self._wait(fault.delay)
            response = None
        if fault.status is not None:
            body = fault.body or {"code": fault.status * 100000, "message": "injected"}
            return web.json_response(body, status=fault.status, headers=fault.headers)
        return response if response is not None else await handler(request)

    async def _submit(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body, dict):
            return _error(422, 40010001, "request body format is invalid")
        for key in ("symbol", "qty", "side", "type", "time_in_force"):
            if not isinstance(body.get(key), str):
                return _error(422, 40010001, f"{key} is required (as a string)")
        if body["symbol"] not in self.symbols:
            return _error(422, 40010001, f'could not find asset "{body["symbol"]}"')
        if Decimal(body["qty"]) <= 0:
            return _error(422, 40010001, "qty must be > 0")
        if body["side"] not in ("buy", "sell") or body["type"] not in TYPES:
            return _error(422, 40010001, "invalid side or type")
        if body["time_in_force"] not in TIFS:
            return _error(422, 40010001, "invalid time_in_force")
        if body["type"] in ("limit", "stop_limit") and not body.get("limit_price"):
            return _error(422, 40010001, "limit_price is required")
        if body["type"] in ("stop", "stop_limit") and not body.get("stop_price"):
            return _error(422, 40010001, "stop_price is required")
        cid = body.get("client_order_id")
        if cid is not None and len(cid) > 48:
            return _error(422, 40010001, "client_order_id must be no more than 48 characters")
        if cid in self.by_client:
            return _error(422, 40010001, "client_order_id must be unique")
        price = Decimal(body.get("limit_price") or body.get("stop_price") or 100)
        if body["side"] == "buy" and Decimal(body["qty"]) * price > self.buying_power:
            return _error(403, 40310000, "insufficient buying power")
        return web.json_response(self.place(body))

    async def _list(self, request: web.Request) -> web.Response:
        q = request.query
        status = q.get("status", "open")
        limit = int(q.get("limit", "50"))
        if status not in ("open", "closed", "all") or not 1 <= limit <= 500:
            return _error(422, 40010001, "invalid status or limit")
        rows = list(self.orders.values())
        if status != "all":
            rows = [o for o in rows if (o["status"] in OPEN) == (status == "open")]
        if "after" in q:
            after = datetime.fromisoformat(q["after"])
            rows = [o for o in rows if datetime.fromisoformat(o["submitted_at"]) > after]
        if "until" in q:
            until = datetime.fromisoformat(q["until"])
            rows = [o for o in rows if datetime.fromisoformat(o["submitted_at"]) < until]
        if "symbols" in q:
            wanted = set(q["symbols"].split(","))
            rows = [o for o in rows if o["symbol"] in wanted]
        rows.sort(key=lambda o: o["submitted_at"], reverse=q.get("direction", "desc") == "desc")
        return web.json_response(rows[:limit])

    async def _by_client_id(self, request: web.Request) -> web.Response:
        oid = self.by_client.get(request.query.get("client_order_id", ""))
        if oid is None:
            return _error(404, 40410000, "order not found")
        return web.json_response(self.orders[oid])

    async def _get(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["order_id"])
        if order is None:
            return _error(404, 40410000, "order not found")
        return web.json_response(order)

    async def _cancel(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["order_id"])
        if order is None:
            return _error(404, 40410000, "order not found")
        if order["status"] not in OPEN:
            return _error(422, 42210000, f"order is {order['status']}, not cancelable")
        self.cancel_at_venue(order["client_order_id"])
        return web.Response(status=204)

    async def _positions(self, request: web.Request) -> web.Response:
        out = []
        for symbol, (qty, cost) in sorted(self.positions.items()):
            if qty == 0:
                continue
            out.append(
                {
                    "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)),
                    "symbol": symbol, "exchange": "NASDAQ", "asset_class": "us_equity",
                    "avg_entry_price": _num(cost / qty), "qty": _num(qty),
                    "qty_available": _num(qty), "side": "long" if qty > 0 else "short",
                    "market_value": _num(cost), "cost_basis": _num(cost),
                    "unrealized_pl": "0", "unrealized_plpc": "0", "current_price": _num(cost / qty),
                    "lastday_price": _num(cost / qty), "change_today": "0",
                }
            )  # fmt: skip
        return web.json_response(out)


KEY, SECRET = "PKTEST0000000000", "test-secret-key"


@pytest.fixture
async def alpaca() -> AsyncIterator[FakeAlpaca]:
    """A running server with the test keys (import it into a test module to use it)."""
    server = FakeAlpaca(KEY, SECRET)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
