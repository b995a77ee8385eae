"""Alpaca's read endpoints: orders by client order id, paged order listings, positions.

``GET /v2/orders`` returns at most 500 orders a page; pages follow by ``after`` (exclusive,
on ``submitted_at``) in ascending order, deduplicated by id.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from app.logs import fields
from app.venues.alpaca_http import AlpacaHTTP
from app.venues.alpaca_parse import (
    VENUE,
    AlpacaOrder,
    error_message,
    parse_order,
    parse_position,
)
from app.venues.base import VenueError, VenuePosition, VenueProtocolError

log = logging.getLogger(__name__)

PAGE = 500
MAX_PAGES = 50


async def order_by_client_id(http: AlpacaHTTP, order_id: str, operation: str) -> AlpacaOrder | None:
    """The venue's order under our id, or None when it has none."""
    reply = await http.request(
        "GET", "/v2/orders:by_client_order_id",
        operation=operation, params={"client_order_id": order_id},
    )  # fmt: skip
    if reply.ok:
        return parse_order(reply.body)
    if reply.status in (404, 422):
        return None
    raise VenueError(VENUE, operation, f"order lookup: {error_message(reply.status, reply.body)}")


async def list_orders(
    http: AlpacaHTTP, status: str, after: datetime | None, operation: str
) -> list[AlpacaOrder]:
    """Every order of ``status`` (open, closed, all) submitted after ``after``, oldest first."""
    out: list[AlpacaOrder] = []
    ids: set[str] = set()
    for _ in range(MAX_PAGES):
        params = {"status": status, "direction": "asc", "limit": str(PAGE), "nested": "false"}
        if after is not None:
            params["after"] = after.astimezone(UTC).isoformat().replace("+00:00", "Z")
        reply = await http.request("GET", "/v2/orders", operation=operation, params=params)
        if not reply.ok:
            raise VenueError(VENUE, operation, error_message(reply.status, reply.body))
        if not isinstance(reply.body, list):
            raise VenueProtocolError(VENUE, operation, "expected a list of orders")
        page = [parse_order(raw) for raw in reply.body]
        fresh = [o for o in page if o.id not in ids]
        out.extend(fresh)
        ids.update(o.id for o in fresh)
        last = page[-1].submitted_at if page else None
        if len(page) < PAGE or not fresh or last is None:
            return out
        after = last - timedelta(microseconds=1)  # ``after`` is exclusive; ids dedupe
    log.warning("order listing cut at %d pages", MAX_PAGES, extra=fields(operation=operation))
    return out


async def list_positions(http: AlpacaHTTP) -> list[VenuePosition]:
    reply = await http.request("GET", "/v2/positions", operation="positions")
    if not reply.ok:
        raise VenueError(VENUE, "positions", error_message(reply.status, reply.body))
    if not isinstance(reply.body, list):
        raise VenueProtocolError(VENUE, "positions", "expected a list of positions")
    return [parse_position(raw) for raw in reply.body]
