"""The external venue in the worker (``AT_STREAM_VENUE=alpaca``): submissions, cancels,
and the poller that brings the venue's events into the log.

- :meth:`VenueRuntime.submit` is called by the orders agent for each order that passed
  risk, in log order, one at a time (a close and the reverse after it reach the venue in
  that order). An answer the venue did not give (:class:`VenueUnavailable`: transient
  errors outlasted the adapter's retries, an in-doubt submission) is asked again, the same
  order under the same client order id, until it comes: the partition waits; nothing is
  skipped. The breaker turns a venue that keeps failing into ``circuit_open`` rejects.
- The poller (a timer, every ``ALPACA_POLL_INTERVAL_SECONDS``) follows the orders of the
  partitions of ``orders`` this worker holds: on start and whenever a partition is
  assigned, it reads the partition's followed orders (``v:`` in ``execution-books``) and
  reconciles them with the venue (:meth:`Venue.start`: differences logged, never
  overwritten), following each from *our* fill state; then every poll's events go to
  ``orders`` (kind ``venue_event``, keyed ``account|symbol``), where the execution step
  applies them in order (``app.trading.venue_steps``). A send that fails makes the
  poller follow its partitions again from our state: at least once, and the step drops
  what it has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

from mode import Service

from app.agents import Ack, produce
from app.faust_internals import assigned_partitions
from app.logs import fields
from app.main import app, orders_topic, settings
from app.models import position_key
from app.order_state import OrderStatus
from app.tables.books import followed_orders, holdings_of
from app.topics import derived_headers
from app.trading.commands import Kind, kind_headers
from app.trading.events import average
from app.trading.orders import TradingOrder, wire_order
from app.venues.base import CancelOutcome, Venue, VenueEvent, VenueUnavailable
from app.venues.reconcile import OurOrder

log = logging.getLogger(__name__)

RETRY_START = 0.5
RETRY_MAX = 30.0
T = TypeVar("T")


class VenueRuntime:
    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.keys: dict[str, bytes] = {}
        """``account|symbol`` of each order followed, for its events' records."""
        self.partitions: set[int] = set()
        """The partitions of ``orders`` whose orders the venue follows."""

    async def submit(self, order: TradingOrder) -> VenueEvent:
        """The venue's answer (``accepted`` or ``rejected``), asked until it gives one."""
        answer = await _until_answered(
            lambda: self.venue.submit(wire_order(order), correlation_id=order.correlation_id),
            "order",
            correlation_id=order.correlation_id,
            order_id=order.order_id,
        )
        if answer.status is OrderStatus.ACCEPTED:
            self.keys[order.order_id] = position_key(order.account, order.symbol)
        return answer

    async def cancel(self, order_id: str) -> None:
        """Ask the venue to cancel; its ``cancelled`` event comes through the poller."""
        result = await _until_answered(
            lambda: self.venue.cancel(order_id), "cancel", order_id=order_id
        )
        level = logging.INFO if result.outcome is CancelOutcome.REQUESTED else logging.WARNING
        log.log(
            level,
            "cancel at the venue: %s",
            result.outcome.value,
            extra=fields(order_id=order_id, reason=result.reason),
        )

    async def follow_assigned(self) -> None:
        """Follow the orders of partitions assigned since the last call (reconciled)."""
        assigned = assigned_partitions(app, orders_topic.get_topic_name())
        self.partitions &= assigned
        new = sorted(assigned - self.partitions)
        if not new:
            return
        ours: list[OurOrder] = []
        held: dict[str, Decimal] = {}
        for partition in new:
            for state in followed_orders(partition):
                order = state.order
                self.keys[order.order_id] = position_key(order.account, order.symbol)
                ours.append(
                    OurOrder(
                        order_id=order.order_id,
                        symbol=order.symbol,
                        side=order.side,
                        quantity=order.quantity,
                        filled_quantity=state.cumulative_quantity,
                        average_price=average(state.cumulative_notional, state.cumulative_quantity),
                        correlation_id=order.correlation_id,
                    )
                )
            for position in holdings_of(partition):
                held[position.symbol] = held.get(position.symbol, Decimal(0)) + position.quantity
        await self.venue.start(ours, held)
        self.partitions.update(new)
        log.info("venue follows %d open orders of partitions %s", len(ours), new)

    async def poll_once(self) -> int:
        """One poll; its events written to ``orders``, acknowledged. Returns how many."""
        events = await self.venue.poll()
        acks: list[Ack] = []
        for event in events:
            key = self.keys.get(event.order_id)
            if key is None:
                log.warning(
                    "venue event of an order not followed here: dropped",
                    extra=fields(order_id=event.order_id, event_id=event.event_id),
                )
                continue
            headers = kind_headers(
                Kind.VENUE_EVENT, derived_headers(event.correlation_id or "", event.event_id)
            )
            acks.append(await produce(orders_topic, key, event.model_dump_json().encode(), headers))
        try:
            await asyncio.gather(*acks)
        except Exception:
            self.partitions.clear()  # follow again from our state: the events come again
            raise
        return len(acks)


async def _until_answered(call: Callable[[], Awaitable[T]], what: str, **context: str) -> T:
    """``call()``, again after a growing pause while the venue gives no answer
    (:class:`VenueUnavailable`): the caller waits; nothing is skipped."""
    delay = RETRY_START
    while True:
        try:
            return await call()
        except VenueUnavailable as exc:
            log.warning(
                "venue did not answer the %s; asking again in %.1f s",
                what,
                delay,
                extra=fields(**context, reason=exc.reason, in_doubt=exc.in_doubt),
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)


def _runtime() -> VenueRuntime | None:
    if settings.venue == "alpaca":
        from app.venues.alpaca import AlpacaVenue

        return VenueRuntime(AlpacaVenue.from_settings(settings))
    return None


runtime = _runtime()


if runtime is not None:
    from app.web.routing import ready

    @app.timer(settings.alpaca_poll_interval_seconds, name="venue-poller")  # type: ignore[untyped-decorator]
    async def _poll() -> None:
        assert runtime is not None
        if not ready(app):
            return
        try:
            await runtime.follow_assigned()
            await runtime.poll_once()
        except VenueUnavailable as exc:
            runtime.partitions.clear()
            log.warning("venue poll failed; following again from our state: %s", exc.reason)
        except Exception:
            runtime.partitions.clear()
            log.exception("venue poller failed; following again from our state")

    @app.service
    class VenueConnections(Service):
        """Releases the venue's connections when the worker stops."""

        async def on_stop(self) -> None:
            assert runtime is not None
            await runtime.venue.close()
