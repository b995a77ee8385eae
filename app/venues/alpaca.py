"""Alpaca paper trading as a :class:`app.venues.base.Venue`, over its documented REST API.

- ``submit``: ``POST /v2/orders`` with ``client_order_id`` = our order id. A retry after a
  lost answer cannot place the order twice: Alpaca answers a second submission of the id
  with 422, and any 422 (or any answer after an unanswered attempt) is checked with
  ``GET /v2/orders:by_client_order_id``: found and the same order, it is ours and accepted.
- ``cancel``: ``DELETE /v2/orders/{id}`` (204; 422 when no longer cancelable).
- ``poll``: one ``GET /v2/orders?status=all&after=...&direction=asc`` (paged by 500) from
  the oldest open order we follow, each snapshot diffed against what we last knew
  (:func:`app.venues.alpaca_wire.events_between`). Polling rather than the
  ``trade_updates`` websocket: the REST state survives our restarts and the socket's
  disconnects (a websocket does not replay missed events), it is the same code as the
  reconciliation, and it needs no extra dependency. The cost: up to one poll interval of
  latency and one request per interval (Alpaca allows 200 a minute).
- ``start``: reconciliation (:mod:`app.venues.reconcile`), then it follows our open orders
  from *our* last known fill state, so what happened meanwhile arrives as events.

In-process memory of submit answers makes a redelivered order answer the same, without a
request. After a restart the execution step must not submit an order already terminal in
its own state; an order it submits again is still deduplicated by Alpaca.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from app.errors import ConfigError
from app.logs import fields
from app.models import Order
from app.order_state import OPEN, OrderStatus
from app.venues.alpaca_http import AlpacaHTTP
from app.venues.alpaca_parse import VENUE, AlpacaOrder, error_message, parse_order
from app.venues.alpaca_rest import list_orders, list_positions, order_by_client_id
from app.venues.alpaca_wire import (
    Seen,
    events_between,
    lifecycle_status,
    order_body,
    reject_code,
    to_venue_order,
)
from app.venues.base import (
    CancelOutcome,
    CancelResult,
    CircuitOpen,
    RejectCode,
    Venue,
    VenueEvent,
    VenueOrder,
    VenuePosition,
    VenueUnavailable,
    accepted_event,
    rejected_event,
)
from app.venues.breaker import CircuitBreaker
from app.venues.reconcile import OurOrder, ReconciliationReport, log_report, reconcile
from app.venues.retry import RetryPolicy

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger(__name__)

REMEMBERED = 100_000


@dataclass
class _Followed:
    venue_order_id: str
    submitted_at: datetime | None
    seen: Seen
    correlation_id: str | None


class AlpacaVenue(Venue):
    name = VENUE

    def __init__(
        self,
        http: AlpacaHTTP,
        *,
        poll_interval_seconds: float = 1.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.http = http
        self.poll_interval_seconds = poll_interval_seconds
        self._now = now
        self._answers: OrderedDict[str, VenueEvent] = OrderedDict()
        self._followed: dict[str, _Followed] = {}
        self._closed: OrderedDict[str, OrderStatus] = OrderedDict()
        self._in_doubt: set[str] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> AlpacaVenue:
        key, secret = settings.alpaca_api_key_id, settings.alpaca_api_secret_key
        if key is None:
            raise ConfigError("ALPACA_API_KEY_ID", "is not set")
        if secret is None:
            raise ConfigError("ALPACA_API_SECRET_KEY", "is not set")
        http = AlpacaHTTP(
            settings.alpaca_base_url,
            key.get_secret_value(),
            secret.get_secret_value(),
            timeout_seconds=settings.alpaca_request_timeout_seconds,
            policy=RetryPolicy(
                max_attempts=settings.alpaca_max_attempts,
                base_delay=settings.alpaca_backoff_base_seconds,
                max_delay=settings.alpaca_backoff_max_seconds,
            ),
            breaker=CircuitBreaker(
                settings.alpaca_breaker_failures, settings.alpaca_breaker_cooldown_seconds
            ),
        )
        return cls(http, poll_interval_seconds=settings.alpaca_poll_interval_seconds)

    async def close(self) -> None:
        await self.http.close()

    # -- orders ---------------------------------------------------------------------------

    async def submit(self, order: Order, *, correlation_id: str | None = None) -> VenueEvent:
        answered = self._answers.get(order.order_id)
        if answered is not None:
            return answered
        oid = order.order_id
        try:
            reply = await self.http.request(
                "POST", "/v2/orders", operation="submit", body=order_body(order)
            )
        except CircuitOpen as exc:
            if exc.in_doubt or oid in self._in_doubt:
                self._in_doubt.add(oid)
                raise
            log.warning(
                "order not sent: circuit open",
                extra=fields(order_id=oid, correlation_id=correlation_id, reason=exc.reason),
            )
            return self._answer(
                rejected_event(
                    VENUE, oid, RejectCode.CIRCUIT_OPEN, f"alpaca unavailable: {exc.reason}",
                    self._now(), correlation_id=correlation_id,
                )
            )  # fmt: skip
        except VenueUnavailable as exc:
            if exc.in_doubt:
                self._in_doubt.add(oid)
            raise
        if reply.ok:
            return self._accepted(order, parse_order(reply.body), correlation_id)
        if reply.status == 422 or reply.in_doubt or oid in self._in_doubt:
            try:
                found = await order_by_client_id(self.http, oid, "submit")
            except VenueUnavailable:
                self._in_doubt.add(oid)  # a 422 may mean it is there: never reject it now
                raise
            if found is not None:
                log.info(
                    "order already at the venue (a repeated submission): looked up",
                    extra=fields(order_id=oid, correlation_id=correlation_id),
                )
                return self._accepted(order, found, correlation_id)
        self._in_doubt.discard(oid)
        reason = f"alpaca refused the order: {error_message(reply.status, reply.body)}"
        log.warning("order rejected by the venue", extra=fields(order_id=oid, reason=reason))
        event = rejected_event(
            VENUE, oid, reject_code(reply.status), reason, self._now(),
            correlation_id=correlation_id,
        )  # fmt: skip
        return self._answer(event)

    def _accepted(self, order: Order, snap: AlpacaOrder, correlation_id: str | None) -> VenueEvent:
        oid = order.order_id
        self._in_doubt.discard(oid)
        mismatch = [
            name
            for name, ours, theirs in (
                ("symbol", order.symbol, snap.symbol),
                ("side", order.side, snap.side),
                ("quantity", order.quantity, snap.qty),
            )
            if ours != theirs
        ]
        if mismatch or snap.client_order_id != oid:
            reason = f"alpaca holds another order under this id ({', '.join(mismatch)} differ)"
            log.error("client order id conflict", extra=fields(order_id=oid, reason=reason))
            return self._answer(
                rejected_event(
                    VENUE, oid, RejectCode.CLIENT_ORDER_ID_CONFLICT, reason, self._now(),
                    venue_order_id=snap.id, correlation_id=correlation_id,
                )
            )  # fmt: skip
        at = snap.submitted_at or self._now()
        if lifecycle_status(snap) is OrderStatus.REJECTED:
            return self._answer(
                rejected_event(
                    VENUE, oid, RejectCode.VENUE_REJECTED, "rejected by alpaca (status rejected)",
                    snap.failed_at or at, venue_order_id=snap.id, correlation_id=correlation_id,
                )
            )  # fmt: skip
        self._followed[oid] = _Followed(snap.id, snap.submitted_at, Seen(), correlation_id)
        return self._answer(accepted_event(VENUE, oid, snap.id, at, correlation_id))

    def _answer(self, event: VenueEvent) -> VenueEvent:
        self._answers[event.order_id] = event
        while len(self._answers) > REMEMBERED:
            self._answers.popitem(last=False)
        return event

    async def cancel(self, order_id: str) -> CancelResult:
        followed = self._followed.get(order_id)
        closed = self._closed.get(order_id)
        if closed is not None:
            return CancelResult(
                order_id=order_id, outcome=CancelOutcome.ALREADY_CLOSED,
                reason=f"the order is {closed.value}",
            )  # fmt: skip
        venue_id = followed.venue_order_id if followed else None
        if venue_id is None:
            found = await order_by_client_id(self.http, order_id, "cancel")
            if found is None:
                return CancelResult(order_id=order_id, outcome=CancelOutcome.UNKNOWN_ORDER)
            venue_id = found.id
        reply = await self.http.request("DELETE", f"/v2/orders/{venue_id}", operation="cancel")
        outcome = {
            200: CancelOutcome.REQUESTED,
            204: CancelOutcome.REQUESTED,
            404: CancelOutcome.UNKNOWN_ORDER,
            422: CancelOutcome.ALREADY_CLOSED,
        }.get(reply.status, CancelOutcome.REFUSED)
        reason = None if reply.ok else error_message(reply.status, reply.body)
        log.info("cancel sent", extra=fields(order_id=order_id, outcome=outcome.value))
        return CancelResult(order_id=order_id, outcome=outcome, reason=reason)

    # -- state ------------------------------------------------------------------------------

    async def open_orders(self) -> list[VenueOrder]:
        return [
            to_venue_order(o) for o in await list_orders(self.http, "open", None, "open_orders")
        ]

    async def positions(self) -> list[VenuePosition]:
        return await list_positions(self.http)

    async def poll(self) -> list[VenueEvent]:
        active = {oid: f for oid, f in self._followed.items() if f.seen.status in OPEN}
        if not active:
            return []
        now = self._now()
        since = min((f.submitted_at or now - timedelta(days=1)) for f in active.values())
        events: list[VenueEvent] = []
        for snap in await list_orders(self.http, "all", since - timedelta(seconds=1), "poll"):
            followed = active.get(snap.client_order_id)
            if followed is None:
                continue
            new, followed.seen = events_between(
                snap.client_order_id, followed.seen, snap, followed.correlation_id, now
            )
            events.extend(new)
        for oid in [oid for oid, f in self._followed.items() if f.seen.status not in OPEN]:
            self._closed[oid] = self._followed.pop(oid).seen.status
        while len(self._closed) > REMEMBERED:
            self._closed.popitem(last=False)
        return events

    async def start(
        self, ours: Sequence[OurOrder], our_positions: Mapping[str, Decimal]
    ) -> ReconciliationReport:
        venue_open = await list_orders(self.http, "open", None, "reconcile")
        venue_positions = await self.positions()
        by_id = {o.client_order_id: o for o in venue_open}
        looked_up: dict[str, AlpacaOrder | None] = {}
        for our in ours:
            if our.order_id not in by_id:
                looked_up[our.order_id] = await order_by_client_id(
                    self.http, our.order_id, "reconcile"
                )
        report = reconcile(
            VENUE, ours, our_positions,
            [to_venue_order(o) for o in venue_open], venue_positions,
            {k: None if v is None else to_venue_order(v) for k, v in looked_up.items()},
            self._now(),
        )  # fmt: skip
        log_report(report)
        for our in ours:
            snap = by_id.get(our.order_id) or looked_up.get(our.order_id)
            if snap is not None and snap.symbol == our.symbol and snap.side == our.side:
                self.follow(our, snap)
        return report

    def follow(self, our: OurOrder, snap: AlpacaOrder) -> None:
        """Follow ``our`` order from our own fill state (never the venue's)."""
        status = OrderStatus.PARTIALLY_FILLED if our.filled_quantity else OrderStatus.ACCEPTED
        seen = Seen(our.filled_quantity, our.average_price, status)
        self._followed[our.order_id] = _Followed(
            snap.id, snap.submitted_at, seen, our.correlation_id
        )
        at = snap.submitted_at or self._now()
        self._answer(accepted_event(VENUE, our.order_id, snap.id, at, our.correlation_id))
