"""Consumes ``fills``: applies each fill to its position and its order, once.

A fill its order state has applied is a duplicate at any distance (the order state keeps
every fill id of its order); the position's own checks (the offset of the last fill, the
last 64 fill ids) catch a redelivered record whose order state was not written yet (a
crash between the two writes).
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
            if state.has_applied(fill.fill_id):  # produced again (e.g. after a crash)
                DUPLICATES.labels(topic="fills").inc()
                continue
            position, applied = apply_fill(
                positions.get(event.key), fill, offset=event.message.offset
            )
            new_state, _ = order_state.apply_fill(state, fill)
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
