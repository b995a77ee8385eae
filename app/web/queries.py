"""Read-only interactive queries of the tables, from any worker.

``/positions/{account}/{symbol}`` is answered by the owner of the key's partition (the
request is routed there). The others scan tables whose keys do not tell their
partition, so every worker answers for its own partitions and the one asked merges
the answers of all (``?local=1`` asks one worker for its own part only).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from faust import web
from yarl import URL

from app.errors import InvalidQuery, NotFound, NotReady
from app.ids import order_id_for
from app.models import position_key
from app.order_state import OrderState
from app.positions import Position
from app.tables import order_states, positions
from app.web import routing
from app.web.auth import ProtectedView, peer_headers
from app.web.problem import ProblemView

log = logging.getLogger(__name__)
blueprint = web.Blueprint("queries")


def _peers(app: Any) -> list[URL]:
    """The other workers of the group, by their web URL."""
    me = URL(str(app.conf.canonical_url))
    try:
        hosts = app.router.tables_metadata().keys()
    except (KeyError, AttributeError):
        return []
    return [u for u in (URL(h) for h in hosts) if (u.host, u.port) != (me.host, me.port)]


async def gather(view: ProblemView, request: Any, local: Callable[[], list[Any]]) -> list[Any]:
    """This worker's answer, plus every peer's answer for its own partitions."""
    mine = local()
    if request.query.get("local"):
        return mine
    app: Any = view.app

    async def ask(peer: URL) -> list[Any]:
        url = peer.with_path(request.path).with_query({**request.query, "local": "1"})
        async with app.http_client.get(url, headers=peer_headers(request)) as resp:
            resp.raise_for_status()
            found: list[Any] = (await resp.json())["items"]
            return found

    answers = await asyncio.gather(*(ask(p) for p in _peers(app)), return_exceptions=True)
    for peer_answer in answers:
        if isinstance(peer_answer, BaseException):
            log.warning("a peer did not answer a query: %r", peer_answer)
            continue
        mine.extend(peer_answer)
    return mine


def _dump(items: list[Position] | list[OrderState]) -> list[dict[str, Any]]:
    return [i.model_dump(mode="json") for i in items]


@blueprint.route("/positions", name="positions")
class AllPositions(ProtectedView):
    async def get(self, request: web.Request) -> web.Response:
        items = await gather(self, request, lambda: _dump(positions.local()))
        return self.json_bytes({"items": sorted(items, key=lambda p: (p["account"], p["symbol"]))})


@blueprint.route("/positions/{account}", name="account-positions")
class AccountPositions(ProtectedView):
    async def get(self, request: web.Request, account: str) -> web.Response:
        def mine() -> list[Any]:
            return _dump([p for p in positions.local() if p.account == account])

        items = await gather(self, request, mine)
        return self.json_bytes({"items": sorted(items, key=lambda p: p["symbol"])})


@blueprint.route("/positions/{account}/{symbol}", name="position")
class OnePosition(ProtectedView):
    async def get(self, request: web.Request, account: str, symbol: str) -> web.Response:
        key = position_key(account, symbol)
        owner = routing.owner_of(self.app, positions.positions, key)
        if not routing.is_me(self.app, owner) and not request.query.get("local"):
            path: str = request.url.path
            url = owner.with_path(path).with_query({**request.query, "local": "1"})
            try:
                async with self.app.http_client.get(url, headers=peer_headers(request)) as r:
                    return self.bytes(await r.read(), content_type=r.content_type,
                                      status=r.status)  # fmt: skip
            except aiohttp.ClientError:  # the owner is stopping, restarting or unreachable
                raise NotReady("the worker that owns this position did not answer",
                               headers={"Retry-After": "1"}) from None  # fmt: skip
        found = positions.get(key)
        if found is None:
            raise NotFound(f"no position for account {account!r} and symbol {symbol!r}")
        return self.json_bytes(found.model_dump(mode="json"))


async def find_order(
    view: ProblemView, request: Any, order_id: str, missing: str | None = None
) -> dict[str, Any]:
    def mine() -> list[Any]:
        state = order_states.get(order_id)
        return [] if state is None else [state.model_dump(mode="json")]

    items = await gather(view, request, mine)
    if not items:
        raise NotFound(missing or f"no order {order_id!r}")
    found: dict[str, Any] = items[0]
    return found


@blueprint.route("/orders/{order_id}", name="order")
class OneOrder(ProtectedView):
    async def get(self, request: web.Request, order_id: str) -> web.Response:
        if request.query.get("local"):
            state = order_states.get(order_id)
            items = [] if state is None else [state.model_dump(mode="json")]
            return self.json_bytes({"items": items})
        return self.json_bytes(await find_order(self, request, order_id))


@blueprint.route("/signals", name="signals-by-correlation")
class SignalsByCorrelation(ProtectedView):
    """``?correlation_id=...``: the orders (and so signals) of one correlation id."""

    async def get(self, request: web.Request) -> web.Response:
        cid = request.query.get("correlation_id", "")
        if not cid:
            raise InvalidQuery(
                "the query parameter correlation_id is required",
                errors=[{"pointer": "correlation_id", "detail": "is required", "code": "missing"}],
            )

        def mine() -> list[Any]:
            return _dump([s for s in order_states.local() if s.correlation_id == cid])

        items = await gather(self, request, mine)
        return self.json_bytes({"items": items})


@blueprint.route("/signals/{signal_id}", name="signal")
class OneSignal(ProtectedView):
    """A signal's status: the state of the one order it caused."""

    async def get(self, request: web.Request, signal_id: str) -> web.Response:
        missing = f"no signal {signal_id!r} is known (or it has no order yet)"
        order = await find_order(self, request, order_id_for(signal_id), missing)
        return self.json_bytes(
            {
                "signal_id": signal_id,
                "order_id": order["order_id"],
                "status": order["status"],
                "order": order,
            }
        )
