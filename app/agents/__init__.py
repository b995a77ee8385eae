"""Stream agents, one per module, each named after the topic it consumes."""

from __future__ import annotations

import logging

from faust.types import EventT

from app.main import dead_letter_topic
from app.metrics import DEAD_LETTERS
from app.models import DeadLetter

log = logging.getLogger(__name__)


async def dead_letter(event: EventT[bytes], reason: str) -> None:
    """Send an unprocessable record to the dead-letter topic, with the reason."""
    msg = event.message
    record = DeadLetter(
        source_topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        reason=reason,
        key=None if msg.key is None else bytes(msg.key).decode("utf-8", "replace"),
        value="" if msg.value is None else bytes(msg.value).decode("utf-8", "replace"),
    )
    DEAD_LETTERS.labels(source=msg.topic).inc()
    log.warning("dead-lettered %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, reason)
    await dead_letter_topic.send(key=msg.key, value=record.dumps(), headers=msg.headers)
