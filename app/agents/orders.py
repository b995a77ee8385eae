"""Consumes ``orders``: the execution step, a batch at a time.

Each record (an order, a target, a cancel, a quote copy, a kill-switch change:
``app.trading.commands``) goes through the pure engine (``app.trading.engine``) against
its partition's book (``app.tables.books``). Its lifecycle events go on ``order-events``,
its fills on ``fills``. Once they are all acknowledged, the batch's book and order-state
writes are made, the book's applied offset last: a redelivered record at or below it
is skipped, one above it is applied again from the state before it and gives the same
events with the same ids (the consumers drop the copies). A record whose effects mark
says its events are in the log already (a replay after ``at-stream reset``) is applied to
the state and produces nothing.

Once its fills are acknowledged, the batch applies them to their positions and order
states itself where every earlier record of their ``fills`` partition is applied
(``app.tables.applied_fills``): the fills agent then skips them without decoding them.

With an external venue (``AT_STREAM_VENUE=alpaca``) an order that passes risk is
submitted to it after the batch's pure step, one at a time in log order, and the answer's
event (accepted or rejected) joins the record's; later events of the order come back on
``orders`` from the venue poller (``app.venues.service``, ``app.trading.venue_steps``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from faust import StreamT
from faust.types import EventT

from app import order_state
from app.agents import BATCH_RECORDS, Ack, dead_letter
from app.errors import AtStreamError, DecodeError
from app.execution import load_engine
from app.faust_internals import batches, current_generation, generation_of, in_event
from app.logs import fields
from app.main import app, fills_topic, order_events_topic, orders_topic, settings
from app.metrics import DUPLICATES, EVENTS_APPLIED, EVENTS_EMITTED, observe_signal_to_fill
from app.models import Fill
from app.order_state import OrderState, OrderStatus
from app.outbox import Outbox
from app.tables import applied_fills, order_states
from app.tables.batch import PartitionWrites
from app.tables.books import PartitionStore
from app.tables.effects import Watermark
from app.tables.fill_step import FillStep
from app.topics import correlation_of, derived_headers
from app.trading import engine as execution
from app.trading.commands import decode_command
from app.trading.events import OrderEvent, to_fill
from app.venues import service as venue_service

log = logging.getLogger(__name__)
marks = Watermark("orders")
engine = load_engine(settings)


@app.agent(orders_topic, name="orders", concurrency=1)
async def process_orders(stream: StreamT[bytes]) -> None:
    async for events in batches(stream, BATCH_RECORDS):
        await _process(events)


async def _process(events: list[EventT[bytes]]) -> None:
    writes = PartitionWrites()
    stores: dict[int, PartitionStore] = {}
    applied: list[tuple[EventT[bytes], tuple[OrderEvent, ...], float | None]] = []
    bad: list[tuple[EventT[bytes], str]] = []
    at_venue: list[tuple[int, PartitionStore, execution.Outcome]] = []
    duplicates = 0
    topic = orders_topic.get_topic_name()
    for event in events:  # no await in here: the book is read and staged as one
        marks.saw(event)  # first: a record skipped before it holds the mark
        msg = event.message
        store = stores.get(msg.partition)
        if store is None:
            store = stores[msg.partition] = PartitionStore(writes, msg.partition)
        if msg.offset <= store.applied():  # applied, and its events are in the log
            duplicates += 1
            continue
        store.set_applied(msg.offset)
        cid = correlation_of(event.headers)
        try:
            command = decode_command(topic, event.key, event.value, event.headers)
            outcome = execution.handle(store, engine, command, cid)
        except DecodeError as exc:
            bad.append((event, exc.reason))
            continue
        except AtStreamError as exc:
            bad.append((event, f"{type(exc).__name__}: {exc}"))
            continue
        if outcome.note:
            log.info(outcome.note, extra=fields(correlation_id=cid))
        submitted = getattr(command, "created_at", None)  # an order's or a target's
        if outcome.submit is not None or outcome.cancel is not None:
            at_venue.append((len(applied), store, outcome))
        applied.append((event, outcome.events, submitted and submitted.timestamp()))
    if at_venue:  # AT_STREAM_VENUE: one at a time, in log order
        await _at_venue(at_venue, applied)
    for store in stores.values():
        store.flush()
    sent: list[tuple[EventT[bytes], list[Ack]]] = []
    fills: list[tuple[Ack, float]] = []
    own: list[OwnFill] = []
    out = Outbox()
    names = order_events_topic.get_topic_name(), fills_topic.get_topic_name()
    for event, caused, submitted in applied:
        if marks.done(event):  # its events are in the log already (a replay)
            duplicates += 1
            continue
        acks: list[Ack] = []
        for e in caused:
            acks.extend(_send(out, names, e, event, own))
            if e.is_fill and submitted is not None:
                fills.append((acks[-1], submitted))
        sent.append((event, acks))
    await out.send(app.producer)
    dead = [await dead_letter(event, reason) for event, reason in bad]
    await asyncio.gather(*dead, *(a for _, acks in sent for a in acks))  # raises: nothing acked
    async with applied_fills.lock:  # no await from here to write_local
        step = FillStep(writes)  # its order states: the lifecycle events' too
        for event, caused, _ in applied:
            _order_states(writes, step.states, step.changed, event, caused)
        generation = generation_of(events[0])
        taken: dict[int, int] = {}
        if current_generation(app) == generation:
            taken = _apply_own_fills(step, own, generation)
        step.stage()  # each position and order state once, in its last state
        writes.write_local()
        await writes.send(app.producer)
        for partition, offset in taken.items():
            applied_fills.advance(partition, generation, offset)
    for event, acks in sent:
        with in_event(event):
            marks.track(event, acks)
    marks.flush()  # one mark per partition per batch
    for ack, received in fills:
        _observe(ack, received)
    EVENTS_EMITTED.labels(topic="order-events").inc(sum(len(c) for _, c, _ in applied))
    EVENTS_EMITTED.labels(topic="fills").inc(sum(e.is_fill for _, c, _ in applied for e in c))
    if duplicates:
        DUPLICATES.labels(topic="orders").inc(duplicates)


async def _at_venue(
    at_venue: list[tuple[int, PartitionStore, execution.Outcome]],
    applied: list[tuple[EventT[bytes], tuple[OrderEvent, ...], float | None]],
) -> None:
    """Submit to (cancel at) the external venue; each answer's events join its record's."""
    assert venue_service.runtime is not None  # the engine is external only with a venue
    for i, store, outcome in at_venue:
        if outcome.cancel is not None:
            await venue_service.runtime.cancel(outcome.cancel)
        if outcome.submit is not None:
            answer = await venue_service.runtime.submit(outcome.submit)
            caused = execution.on_answer(store, outcome.submit, answer).events
            event, _, submitted = applied[i]
            applied[i] = (event, caused, submitted)


OwnFill = tuple[EventT[bytes], OrderEvent, Fill, Ack]
"""A fill the batch produced: its ``orders`` record, its event, the fill, its ack."""


def _send(
    out: Outbox,
    names: tuple[str, str],
    caused: OrderEvent,
    event: EventT[bytes],
    own: list[OwnFill],
) -> list[Ack]:
    """Queue one lifecycle event on ``names[0]`` (order-events), and its fill on
    ``names[1]`` (fills) if it is one (noted in ``own``); returns their acks."""
    headers = derived_headers(caused.correlation_id, caused.order_id)
    key = caused.key
    acks: list[Ack] = [out.add(names[0], key, caused.dumps(), headers)]
    if caused.is_fill:
        fill = to_fill(caused)
        acks.append(out.add(names[1], key, fill.dumps(), headers))
        own.append((event, caused, fill, acks[-1]))
    return acks


def _apply_own_fills(step: FillStep, own: list[OwnFill], generation: int | None) -> dict[int, int]:
    """Apply the batch's acknowledged fills, and those earlier batches left, with the
    fills agent's ``step``, where they continue their partition's applied records
    (``applied_fills.continuing``); returns the last offset applied per partition. A fill
    on another partition than its order's is left to the fills agent; one that does not
    apply waits, with every later one of its partition, until the fills agent has
    handled it."""
    new: dict[int, list[applied_fills.Own]] = {}
    for event, caused, fill, ack in own:
        meta = cast(asyncio.Future[Any], ack).result()
        if meta.partition == event.message.partition:  # the tables this batch holds
            own_fill = applied_fills.Own(meta.offset, caused.key, caused.correlation_id, fill)
            new.setdefault(meta.partition, []).append(own_fill)
    taken: dict[int, int] = {}
    for partition, fills in applied_fills.waiting(generation, new).items():
        last = applied_fills.through(partition, generation)
        for i in applied_fills.continuing(last, [f.offset for f in fills]):
            offset, key, cid, fill = fills[i]
            try:
                step.apply(partition, key, fill, offset, cid)
            except AtStreamError:
                break  # the fills agent applies it (or dead-letters it) first
            taken[partition] = offset
        done = taken.get(partition, last)
        rest = fills if done is None else [f for f in fills if f.offset > done]
        applied_fills.keep_waiting(partition, generation, rest)
    if step.applied:
        EVENTS_APPLIED.labels(table="positions").inc(step.applied)
    return taken


def _order_states(
    writes: PartitionWrites,
    states: dict[tuple[int, str], OrderState | None],
    changed: dict[tuple[int, str], None],
    event: EventT[bytes],
    caused: tuple[OrderEvent, ...],
) -> None:
    """The order states after the record's lifecycle events (the fills agent applies
    fills), into ``states`` (read once per batch), their keys into ``changed``."""
    partition, offset = event.message.partition, event.message.offset
    for e in caused:
        where = (partition, e.order_id)
        if where in states:
            state = states[where]
        else:
            state = states[where] = order_states.get_in(writes, partition, e.order_id)
        new = _order_state(state, e, offset)
        if new is not state:
            states[where] = new
            changed[where] = None


def _order_state(state: OrderState | None, e: OrderEvent, offset: int) -> OrderState:
    if state is None:
        state = OrderState(
            order_id=e.order_id,
            signal_id=e.signal_id,
            correlation_id=e.correlation_id,
            account=e.account,
            symbol=e.symbol,
            side=e.side,
            quantity=e.order_quantity,
            order_offset=offset,
            updated_at=e.event_time,
        )
    elif state.order_offset is None:  # seen first through its fill
        state = state.model_copy(update={"order_offset": offset})
    try:
        if e.status is OrderStatus.REJECTED:
            return order_state.reject(state, e.reason or "rejected", at=e.event_time)
        if e.status is OrderStatus.CANCELLED:
            return order_state.cancel(state, e.reason or "cancelled", at=e.event_time)
        if e.status is OrderStatus.EXPIRED:
            return order_state.expire(state, e.reason or "expired", at=e.event_time)
    except order_state.InvalidTransition:  # e.g. a fill applied first made it filled
        log.warning(
            "order state not moved to %s",
            e.status.value,
            extra=fields(correlation_id=e.correlation_id, order_id=e.order_id),
        )
    return state


def _observe(ack: Any, submitted_at: float) -> None:
    """Signal-to-fill latency, from the fill record's broker timestamp."""
    observe_signal_to_fill(submitted_at, ack.result().timestamp)
