"""Kafka administration: explicit topic creation with the configured layout."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from app.errors import BrokerError
from app.settings import Settings

log = logging.getLogger(__name__)


def topic_names(settings: Settings) -> list[str]:
    return [
        settings.signals_topic,
        settings.orders_topic,
        settings.fills_topic,
        settings.dead_letter_topic,
        settings.quotes_topic,
        settings.order_events_topic,
    ]


async def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create the missing topics; return the names created. Existing ones are kept."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, request_timeout_ms=10_000)
    try:
        await asyncio.wait_for(admin.start(), timeout)
        existing = set(await admin.list_topics())
        wanted = [t for t in topic_names(settings) if t not in existing]
        if wanted:
            new = [
                NewTopic(t, settings.topic_partitions, settings.topic_replication_factor)
                for t in wanted
            ]
            with suppress(TopicAlreadyExistsError):  # another worker won the race
                await admin.create_topics(new)
            log.info("created topics %s", ", ".join(wanted))
        return wanted
    except (KafkaError, TimeoutError, OSError) as exc:
        raise BrokerError(
            f"cannot reach Kafka at {settings.bootstrap}: {type(exc).__name__}"
        ) from None
    finally:
        await admin.close()
