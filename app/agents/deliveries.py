"""Consumes ``<app id>-deliveries``: applies webhook outcomes to the deliveries table."""

from __future__ import annotations

from faust import StreamT

from app.main import app, deliveries_topic
from app.tables.deliveries import deliveries


@app.agent(deliveries_topic, name="deliveries", concurrency=1)
async def apply_deliveries(stream: StreamT[bytes]) -> None:
    async for event in stream.events():
        key = event.key
        if not isinstance(key, bytes):
            continue  # not ours: this topic is keyed by the dedupe key
        if event.value:
            deliveries[key] = event.value
        elif key in deliveries:
            del deliveries[key]  # expired: deleted on the owner, in event context
