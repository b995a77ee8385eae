"""Consumes ``fills``: applies each fill to its position and its order, once.

Each table decides for itself whether it has a fill: the order state keeps every fill id
of its order with the offset of the record it came from; the position keeps the offset of
its last fill and its last 64 fill ids, and counts a fill its order state applied from a
record the position has already passed as seen (a copy of a fill, at any distance). The
two are separate changelog records, so a crash can leave one behind the other (a recovery
that replays an older position record): the redelivered record then brings the one
behind up to date, and is a no-op for the other.
"""

from __future__ import annotations

import logging

from faust import StreamT

from app import order_state
from app.agents import dead_letter
from app.errors import AtStreamError, DecodeError
from app.logs import fields
from app.main import app, fills_topic
from app.metrics import DUPLICATES, EVENTS_APPLIED
from app.models import Fill
from app.positions import apply_fill
from app.tables import order_states, positions
from app.topics import correlation_of, decode_keyed

log = logging.getLogger(__name__)


@app.agent(fills_topic, name="fills", concurrency=1)
async def process_fills(stream: StreamT[bytes]) -> None:
    async for event in stream.events():
        try:
            fill = decode_keyed(Fill, fills_topic.get_topic_name(), event.key, event.value)
            cid = correlation_of(event.headers)
            state = order_states.get(fill.order_id) or order_state.from_fill(fill, cid)
            offset = event.message.offset
            position, applied = apply_fill(
                positions.get(event.key), fill, offset=offset,
                order_applied_at=state.applied_at(fill.fill_id),
            )  # fmt: skip
            new_state, _ = order_state.apply_fill(state, fill, offset)
        except DecodeError as exc:
            await dead_letter(event, exc.reason)
            continue
        except AtStreamError as exc:  # mismatch, overfill, a transition that cannot be
            await dead_letter(event, f"{type(exc).__name__}: {exc}")
            continue
        if applied:
            positions.put(position)
            EVENTS_APPLIED.labels(table="positions").inc()
        else:
            DUPLICATES.labels(topic="fills").inc()
        if new_state is not state:
            order_states.put(new_state)
        log.debug("fill applied", extra=fields(correlation_id=cid, fill_id=fill.fill_id))
