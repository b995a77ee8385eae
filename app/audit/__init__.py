"""The audit trail: every record of every at-stream topic, stored once per offset.

- ``records``: a Kafka record -> one row (pure).
- ``schema``: versioned migrations of the store (SQLite and PostgreSQL).
- ``store``: the two stores behind one interface, chosen by ``AT_STREAM_AUDIT_URL``.
- ``queries``: SQL builders of the list, trace, export and retention queries (pure).
- ``trace``: rows -> the steps of a signal's life, with their latencies (pure).
- ``sink``: the worker's service that consumes every topic and writes per batch.
- ``api``: the read-only FastAPI app (``at-stream audit serve``); ``cli``: its commands.
"""

from __future__ import annotations

from app.settings import Settings


def audit_topics(settings: Settings) -> dict[str, str]:
    """Every at-stream topic the sink stores, real name -> event type.

    New topics (lifecycle, risk, quotes) are added here as they land.
    """
    return {
        settings.signals_topic: "signal",
        settings.orders_topic: "order",
        settings.fills_topic: "fill",
        settings.dead_letter_topic: "dead_letter",
        settings.quotes_topic: "quote",
        settings.order_events_topic: "order_event",
    }


def logical_topics(settings: Settings) -> dict[str, str]:
    """Logical topic name (``signals``, ``dead-letters``...) -> its real name."""
    return {
        "signals": settings.signals_topic,
        "orders": settings.orders_topic,
        "fills": settings.fills_topic,
        "dead-letters": settings.dead_letter_topic,
        "quotes": settings.quotes_topic,
        "order-events": settings.order_events_topic,
    }
