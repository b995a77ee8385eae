"""The kill switch and order cancels: authenticated writes to the execution log.

- ``POST /trading-state`` ``{"scope": "*" | account, "state": "halted" | "reducing" |
  "active", "reason": "..."}``: a :class:`TradingStateChange`, copied to every partition
  of ``orders`` (``app.trading.commands``); 202 once the broker has acknowledged every
  copy, 503 if it has not within the request deadline (then send it again: a change
  applies once per change id, and a newer one wins).
- ``GET /trading-state``: the states as this worker's partitions have them.
- ``POST /orders/{order_id}/cancel`` ``{"reason": "..."}`` (optional): a
  :class:`CancelRequest` on the order's partition; 202 with its ``cancel_id`` (derived
  from the order id: asking twice is one request), 404 for an unknown order, 409 for an
  order that is no longer open.

Writes want the API token, and answer 403 ``writes-disabled`` while none is configured
(``WriteView``); the GET is a read like the others.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from faust import web
from pydantic import BaseModel, ValidationError

from app.agents import Ack, produce
from app.errors import BrokerUnavailable, InvalidJSON, InvalidRequest, NotReady, OrderNotOpen
from app.gateway import field_errors
from app.ids import derive, uuid7
from app.main import app, orders_topic, settings
from app.models import position_key
from app.order_state import OPEN, OrderStatus
from app.tables.books import trading_states
from app.trading.commands import CancelBody, CancelRequest, Kind, kind_headers
from app.trading.trading_state import TradingStateChange, TradingStateRequest
from app.web.auth import WriteView
from app.web.queries import find_order

log = logging.getLogger(__name__)
blueprint = web.Blueprint("trading")


def _body(raw: bytes, model: type[BaseModel], *, optional: bool = False) -> Any:
    if not raw.strip() and optional:
        return model()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidJSON("the body is not a JSON document") from None
    if not isinstance(data, dict):
        raise InvalidJSON("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc)
        raise InvalidRequest(f"{len(errors)} field error(s)", errors=errors) from None


async def _acknowledged(acks: list[Ack], what: str) -> None:
    try:
        await asyncio.wait_for(asyncio.gather(*acks), settings.request_deadline_seconds)
    except Exception as exc:  # a timeout or a send error: not recorded, retry
        log.warning("%s not acknowledged: %s", what, type(exc).__name__)
        raise BrokerUnavailable(
            f"the {what} was not acknowledged by the broker; retry",
            headers={"Retry-After": "1"},
            reason="broker-unavailable",
        ) from None


def change_for(request: TradingStateRequest, actor: str, at: datetime) -> TradingStateChange:
    return TradingStateChange(
        change_id=uuid7(), scope=request.scope, state=request.state, reason=request.reason,
        actor=actor, at=at,
    )  # fmt: skip


@blueprint.route("/trading-state", name="trading-state")
class TradingStateView(WriteView):
    async def get(self, request: web.Request) -> web.Response:
        local = sorted(tp.partition for tp in app.consumer.assignment()
                       if tp.topic == orders_topic.get_topic_name())  # fmt: skip
        if not local:
            raise NotReady("this worker has no partition of orders yet",
                           headers={"Retry-After": "1"})  # fmt: skip
        by_partition = {p: trading_states(p) for p in local}
        states = next((s for s in by_partition.values() if s is not None), None)
        scopes = {} if states is None else states.model_dump(mode="json")["scopes"]
        seen = {b"" if s is None else orjson.dumps(s.model_dump(mode="json"))
                for s in by_partition.values()}  # fmt: skip
        agree = len(seen) == 1
        return self.json_bytes({"scopes": scopes, "partitions": local, "consistent": agree})

    async def post(self, request: web.Request) -> web.Response:
        body = _body(await request.read(), TradingStateRequest)
        change = change_for(body, "api", datetime.now(UTC))
        value, headers = change.dumps(), kind_headers(Kind.TRADING_STATE)
        key = change.scope.encode()
        acks = [await produce(orders_topic, key, value, headers, p)
                for p in range(settings.topic_partitions)]  # fmt: skip
        await _acknowledged(acks, "trading-state change")
        log.warning("trading state of %s set to %s: %s",
                    change.scope, change.state.value, change.reason)  # fmt: skip
        return self.json_bytes(change.model_dump(mode="json"), status=202)


@blueprint.route("/orders/{order_id}/cancel", name="cancel-order")
class CancelOrder(WriteView):
    async def post(self, request: web.Request, order_id: str) -> web.Response:
        body = _body(await request.read(), CancelBody, optional=True)
        order = await find_order(self, request, order_id)
        status = OrderStatus(order["status"])
        if status not in OPEN:
            raise OrderNotOpen(
                f"order {order_id} is {status.value}", extensions={"status": status.value}
            )
        cancel = CancelRequest(
            cancel_id=derive("cancel", order_id), order_id=order_id, account=order["account"],
            symbol=order["symbol"], reason=body.reason, actor="api", requested_at=datetime.now(UTC),
        )  # fmt: skip
        key = position_key(cancel.account, cancel.symbol)
        ack = await produce(orders_topic, key, cancel.dumps(), kind_headers(Kind.CANCEL))
        await _acknowledged([ack], "cancel")
        return self.json_bytes({"cancel_id": cancel.cancel_id, "order_id": order_id}, status=202)
