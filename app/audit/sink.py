"""The audit sink: a service of the worker that stores every record of every topic.

A plain aiokafka consumer in its own group (``<app id>-audit``), with auto-commit off:
it takes a batch of up to ``AT_STREAM_AUDIT_BATCH_RECORDS`` from every partition it has
(its fetches wait up to ``AT_STREAM_AUDIT_LINGER_SECONDS`` for records to gather),
writes the batch in one transaction (idempotent on (topic, partition, offset)), and
commits the batch's offsets only after that transaction committed. A write that fails
is retried with backoff (0.2 s doubling to 30 s) and the consumer is not polled meanwhile:
the sink pauses, its offsets held, while Faust's agents and the webhook go on. A crash
anywhere redelivers at most the uncommitted batches, which the upsert ignores.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from mode import Service

from app.audit import audit_topics, health, logical_topics, reader
from app.audit.errors import SchemaTooNew, StoreUnavailable
from app.audit.metrics import (
    AUDIT_BATCH,
    AUDIT_LAG,
    AUDIT_REDELIVERED,
    AUDIT_RETENTION_DELETED,
    AUDIT_WRITE_ERRORS,
    AUDIT_WRITTEN,
)
from app.audit.records import Row, from_record
from app.audit.store import Store, open_store, redact
from app.main import app, settings

log = logging.getLogger(__name__)

BACKOFF_START = 0.2
BACKOFF_MAX = 30.0
LAG_INTERVAL = 2.0
FETCH_MIN_BYTES = 1 << 20
"""What a fetch waits for (up to ``AT_STREAM_AUDIT_LINGER_SECONDS``). Records trickling
in would otherwise cost a fetch request and a transaction each: a 5-row commit costs
the store ~10x a 2,000-row one per row (every commit rewrites each index page it
touched), and at 200 signals/s the sink's fetches were as many as the agents'."""


def group_id() -> str:
    return f"{settings.app_id}-audit"


class Stopped(Exception):
    """The worker is stopping: a retry loop gives up (what it held is not committed)."""


async def retry(what: str, call: Any, stopping: asyncio.Event) -> Any:
    """``await call()`` until it succeeds, with backoff; a StoreUnavailable is retried."""
    delay = BACKOFF_START
    while True:
        try:
            result = await call()
        except StoreUnavailable as exc:
            health.answered(False)
            AUDIT_WRITE_ERRORS.inc()
            log.warning("audit %s failed, retrying in %.1f s: %s", what, delay, exc.reason)
        else:
            health.answered(True)
            return result
        try:
            await asyncio.wait_for(stopping.wait(), delay)
        except TimeoutError:
            pass
        else:
            raise Stopped
        delay = min(delay * 2, BACKOFF_MAX)


@app.service
class AuditSink(Service):
    """Started and stopped with the worker when ``AT_STREAM_AUDIT_SINK`` is on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        health.reset(settings.audit_sink)  # /readyz checks the store when the sink is on
        self.topics = audit_topics(settings)
        self.store: Store = open_store(settings.audit_store_url)
        self.committed: dict[TopicPartition, int] = {}
        self.lag_labels: set[tuple[str, str]] = set()
        self.consumer: AIOKafkaConsumer | None = None
        self.halt = asyncio.Event()
        self.run_future: asyncio.Future[None] | None = None

    async def on_start(self) -> None:
        if settings.audit_sink:
            self.run_future = self.add_future(self._run())
            self.add_future(self._lag())
            self.add_future(health.probe(self.store, self.halt))
            if settings.audit_retention_days or settings.audit_retention_topics:
                self.add_future(self._retention())

    async def _run(self) -> None:
        """The sink, restarted after any unexpected error: it never takes the worker down
        (and never skips: a restart resumes from the committed offsets)."""
        delay = BACKOFF_START
        while not self.halt.is_set():
            try:
                await self._consume()
                return
            except Stopped:
                return
            except SchemaTooNew as exc:
                log.critical("audit sink not started: %s", exc)
                return
            except Exception:
                log.exception("audit sink failed; restarting it in %.1f s", delay)
            finally:
                await self._close_consumer()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.halt.wait(), delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _close_consumer(self) -> None:
        consumer, self.consumer = self.consumer, None
        self.committed.clear()
        if consumer is not None:
            try:
                await asyncio.wait_for(consumer.stop(), 5)
            except (TimeoutError, KafkaError):
                log.warning("audit consumer did not stop cleanly")

    async def _consume(self) -> None:
        await retry("store connect/migrate", self.store.migrate, self.halt)
        consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=settings.bootstrap.split(","),
            group_id=group_id(),
            client_id=f"{settings.app_id}-audit",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=settings.audit_batch_records,
            session_timeout_ms=int(settings.session_timeout_seconds * 1000),
            heartbeat_interval_ms=int(min(3.0, settings.session_timeout_seconds / 3) * 1000),
            max_poll_interval_ms=24 * 3600 * 1000,  # a store outage holds the poll, not the group
            # the broker answers a fetch once it has FETCH_MIN_BYTES or the linger is
            # over: one request and one transaction per linger, not per record
            fetch_min_bytes=FETCH_MIN_BYTES,
            fetch_max_wait_ms=max(1, int(settings.audit_linger_seconds * 1000)),
        )
        self.consumer = consumer
        while True:
            try:
                await consumer.start()
                break
            except KafkaError as exc:
                log.warning("audit consumer not started yet: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.halt.wait(), 1.0)
            if self.halt.is_set():
                raise Stopped
        log.info("audit sink consuming %s into %s", ", ".join(self.topics), redact(self.store.url))
        while not self.halt.is_set():
            batch = await consumer.getmany(timeout_ms=500, max_records=settings.audit_batch_records)
            if batch:
                await self._store(consumer, batch)

    async def _store(self, consumer: AIOKafkaConsumer, batch: dict[Any, list[Any]]) -> None:
        now_us = time.time_ns() // 1000
        rows: list[Row] = [
            from_record(r, self.topics.get(tp.topic, tp.topic), now_us)
            for tp, records in batch.items()
            for r in records
        ]
        started = time.perf_counter()
        inserted = await retry("write", lambda: self.store.write(rows), self.halt)
        AUDIT_BATCH.observe(time.perf_counter() - started)
        AUDIT_REDELIVERED.inc(max(0, len(rows) - inserted))
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
        for tp, records in batch.items():
            AUDIT_WRITTEN.labels(topic=tp.topic).inc(len(records))
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:  # a rebalance: the next owner rewrites them, ignored
            log.warning(
                "audit offsets not committed (%s); they will be stored again, once",
                type(exc).__name__,
            )
            return
        self.committed.update(offsets)

    async def _lag(self) -> None:
        """The sink's lag per partition, every 2 s, also while the store is down."""
        while not self.halt.is_set():
            await asyncio.sleep(LAG_INTERVAL)
            consumer = self.consumer
            if consumer is None:
                continue
            try:
                assigned = list(consumer.assignment())
                if not assigned:
                    continue
                ends = await consumer.end_offsets(assigned)
                missing = [tp for tp in assigned if tp not in self.committed]
                if missing:
                    starts = await consumer.beginning_offsets(missing)
                    for tp in missing:
                        done = await consumer.committed(tp)
                        self.committed[tp] = done if done is not None else starts[tp]
            except KafkaError as exc:
                log.debug("audit lag not measured: %s", type(exc).__name__)
                continue
            labels = {(tp.topic, str(tp.partition)) for tp in ends}
            for gone in self.lag_labels - labels:  # moved to another worker: it reports them
                AUDIT_LAG.remove(*gone)
            self.lag_labels = labels
            for tp, end in ends.items():
                lag = max(0, end - self.committed.get(tp, 0))
                AUDIT_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(lag)

    async def _retention(self) -> None:
        logical = logical_topics(settings)
        while not self.halt.is_set():
            try:
                deleted = await reader.enforce_retention(
                    self.store,
                    settings.audit_retention_days,
                    settings.audit_retention_topics,
                    logical,
                )
                AUDIT_RETENTION_DELETED.inc(deleted)
            except StoreUnavailable as exc:
                log.warning("audit retention not run: %s", exc.reason)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.halt.wait(), settings.audit_retention_interval_seconds)

    async def on_stop(self) -> None:
        self.halt.set()
        if self.run_future is not None:  # it ends after its poll or its write in flight
            await asyncio.wait({self.run_future}, timeout=5)
        await self._close_consumer()
        await self.store.close()
