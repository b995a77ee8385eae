"""The one Faust app of at-stream, its topics, and the modules that register on it."""

from __future__ import annotations

import faust

from app import faust_internals
from app.logs import logging_config
from app.settings import get_settings

settings = get_settings()
providers = settings.providers()

app = faust.App(
    settings.app_id,
    broker=settings.broker_url,
    store="rocksdb://",  # the rocksdict driver: faust picks it when python-rocksdb is absent
    datadir=str(settings.data_dir),
    autodiscover=False,
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.topic_replication_factor,
    topic_allow_declare=True,
    producer_acks=-1,  # acks=all: a 2xx means every in-sync replica has the signal
    producer_linger_ms=1,
    # An agent's batch goes out as one record batch per partition (app.outbox): room for
    # a thousand orders' events in one, under the broker's 1 MiB message.max.bytes.
    producer_max_batch_size=512 * 1024,
    consumer_auto_offset_reset="earliest",
    broker_commit_interval=1.0,
    # A topic the worker has just created can be missing from the metadata of its first
    # group join (the assignor then logs "Ignoring missing topic" and leaves its partitions
    # unassigned). aiokafka rebalances when a refresh shows it, so refresh every 10 s, not
    # every 5 min (the default): a worker whose first join raced its own topic creation is
    # ready seconds later, not minutes.
    consumer_metadata_max_age_ms=10_000,
    table_standby_replicas=settings.standby_replicas,
    broker_session_timeout=settings.session_timeout_seconds,
    broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
    web_bind=settings.web_host,
    web_host=settings.web_advertised_host or settings.web_host,
    web_port=settings.web_port,
    logging_config=logging_config(settings.log_level, settings.log_format),
    Worker="app.worker.Worker",
)
faust_internals.seek_uncommitted_to_the_start()  # no partition skipped after a takeover
faust_internals.refuse_gap_commits()  # nor a record Faust dropped around a rebalance
faust_internals.hand_over_without_wait_first()  # one await per record handed to an agent


def _topic(name: str) -> faust.TopicT:
    """A topic of ours: raw bytes (pydantic does the codec), declared by the worker."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
        replicas=settings.topic_replication_factor,
        internal=True,
    )


signals_topic = _topic(settings.signals_topic)
orders_topic = _topic(settings.orders_topic)
fills_topic = _topic(settings.fills_topic)
dead_letter_topic = _topic(settings.dead_letter_topic)
quotes_topic = _topic(settings.quotes_topic)
order_events_topic = _topic(settings.order_events_topic)

# Registration: importing these modules attaches their agents and views to ``app``.
from app import clock as _clock  # noqa: E402,F401
from app import observe as _observe  # noqa: E402,F401
from app import watchdog as _watchdog  # noqa: E402,F401
from app.agents import fills as _fills  # noqa: E402,F401
from app.agents import orders as _orders  # noqa: E402,F401
from app.agents import quotes as _quotes  # noqa: E402,F401
from app.agents import signals as _signals  # noqa: E402,F401
from app.audit import sink as _audit_sink  # noqa: E402,F401  (issue 14: the audit sink)
from app.bridge import service as _bridge  # noqa: E402,F401  # NATS bridge, issue 13
from app.web import register as _register_web  # noqa: E402

_register_web(app)
