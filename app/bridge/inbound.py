"""NATS -> Kafka: the durable pull consumer ``NATS_DURABLE``, shared by every worker.

A batch is fetched, each message mapped (``app.bridge.inbound_map``), everything produced
with acks=all (valid signals to ``signals``, invalid ones as dead letters with the reason
and the NATS stream/sequence), and each message acked only after its record's ack. One
whose record Kafka did not acknowledge is NAKed with ``AT_STREAM_BRIDGE_NAK_DELAY_SECONDS``:
JetStream delivers it again later (a lost ack does the same after ``ack_wait``); its
signal id is the same, so it yields no second order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import nats.errors
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from app.bridge.inbound_map import Inbound, Record, from_kafka, to_kafka
from app.bridge.link import NatsLink
from app.logs import fields
from app.metrics import (
    BRIDGE_DEAD_LETTERS,
    BRIDGE_ERRORS,
    BRIDGE_MESSAGES,
    BRIDGE_NATS_PENDING,
    BRIDGE_REDELIVERIES,
    BRIDGE_SKIPPED,
    DEAD_LETTERS,
)
from app.providers import Provider

log = logging.getLogger(__name__)
DIRECTION = "nats-to-kafka"
RETRY_SECONDS = 0.5


class NatsToKafka:
    def __init__(
        self,
        link: NatsLink,
        provider: Provider,
        *,
        bootstrap: str,
        client_id: str,
        signals_topic: str,
        dead_letter_topic: str,
        batch_size: int,
        nak_delay: float,
        write_timeout: float,
        producer: AIOKafkaProducer | None = None,
    ) -> None:
        self.link = link
        self.provider = provider
        self.signals_topic = signals_topic
        self.dead_letter_topic = dead_letter_topic
        self.batch_size = batch_size
        self.nak_delay = nak_delay
        self.write_timeout = write_timeout
        self.closing = False
        self.producer = producer or AIOKafkaProducer(
            bootstrap_servers=bootstrap.split(","),
            client_id=client_id,
            acks="all",
            enable_idempotence=False,  # bounded: an unacknowledged batch expires, then NAK
            linger_ms=2,
            request_timeout_ms=int(write_timeout * 1000),
            retry_backoff_ms=100,
        )
        self._producer_started = False
        self._sub: Any = None

    async def _start_producer(self) -> None:
        while not self.closing and not self._producer_started:
            try:
                await self.producer.start()
                self._producer_started = True
            except (KafkaError, OSError) as exc:
                log.warning("bridge producer not started: %s", type(exc).__name__)
                await asyncio.sleep(RETRY_SECONDS * 2)

    async def run(self) -> None:
        await self._start_producer()
        while not self.closing:
            if not self.link.ready:
                self._sub = None
                await asyncio.sleep(RETRY_SECONDS / 5)
                continue
            try:
                if self._sub is None:
                    js = self.link.js
                    assert js is not None
                    self._sub = await js.pull_subscribe_bind(
                        durable=self.link.config.durable, stream=self.link.config.stream
                    )
                msgs = await self._sub.fetch(self.batch_size, timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):
                continue  # nothing to fetch within the second
            except Exception as exc:  # disconnected, consumer gone: set up again and retry
                BRIDGE_ERRORS.labels(direction=DIRECTION, kind="fetch").inc()
                log.warning("bridge fetch failed: %s", type(exc).__name__)
                self._sub = None
                self.link.recheck()  # the consumer may be gone: set it up again first
                await asyncio.sleep(RETRY_SECONDS)
                continue
            await self.handle(msgs)

    async def handle(self, msgs: list[Msg]) -> None:
        """Produce each message's record, then ack it (or NAK it if Kafka did not ack)."""
        sends: list[tuple[Msg, Record, asyncio.Future[Any] | None]] = []
        for msg in msgs:
            inbound = _inbound(msg)
            if msg.metadata.num_delivered > 1:
                BRIDGE_REDELIVERIES.inc()
            if from_kafka(inbound):  # one of our own publishes: never back into Kafka
                BRIDGE_SKIPPED.labels(direction=DIRECTION).inc()
                await _settle(msg, ack=True)
                continue
            record = to_kafka(inbound, self.provider)
            topic = self.signals_topic if record.signal is not None else self.dead_letter_topic
            fut: asyncio.Future[Any] | None = None
            try:
                fut = await self.producer.send(
                    topic, record.value, key=record.key, headers=record.headers
                )
            except (KafkaError, OSError) as exc:
                log.warning("bridge produce refused: %s", type(exc).__name__)
            sends.append((msg, record, fut))
        futures = [f for _, _, f in sends if f is not None]
        if futures:
            await asyncio.wait(futures, timeout=self.write_timeout * 2)
        naks = 0
        for msg, record, fut in sends:
            if fut is not None and fut.done() and not fut.cancelled() and fut.exception() is None:
                self._count(msg, record)
                await _settle(msg, ack=True)
            else:
                naks += 1  # a write still pending may land later: the same signal id, deduped
                await _settle(msg, ack=False, delay=self.nak_delay)
        if naks:
            BRIDGE_ERRORS.labels(direction=DIRECTION, kind="produce").inc(naks)
            log.warning("%d NATS messages NAKed (redelivered in %g s): Kafka did not acknowledge",
                        naks, self.nak_delay)  # fmt: skip

    def _count(self, msg: Msg, record: Record) -> None:
        if record.signal is not None:
            BRIDGE_MESSAGES.labels(direction=DIRECTION, subject=msg.subject).inc()
            log.debug("legacy signal bridged",
                      extra=fields(signal_id=record.signal.signal_id))  # fmt: skip
        else:
            BRIDGE_DEAD_LETTERS.inc()
            DEAD_LETTERS.labels(source="nats").inc()
            log.warning("legacy signal dead-lettered: %s", record.reason)

    async def observe(self) -> None:
        """JetStream's side: messages of the durable consumer not delivered / not acked."""
        js: JetStreamContext | None = self.link.js
        if js is None or not self.link.ready:
            return
        info = await js.consumer_info(self.link.config.stream, self.link.config.durable)
        BRIDGE_NATS_PENDING.labels(state="pending").set(info.num_pending or 0)
        BRIDGE_NATS_PENDING.labels(state="ack_pending").set(info.num_ack_pending or 0)

    async def stop(self) -> None:
        self.closing = True
        if self._producer_started:
            await self.producer.stop()


def _inbound(msg: Msg) -> Inbound:
    md = msg.metadata
    return Inbound(
        stream=md.stream,
        subject=msg.subject,
        sequence=md.sequence.stream,
        stored_at=md.timestamp,
        data=msg.data or b"",
        headers=dict(msg.headers or {}),
    )


async def _settle(msg: Msg, *, ack: bool, delay: float | None = None) -> None:
    """Ack or NAK; a failure here (NATS gone) means JetStream redelivers after ack_wait."""
    try:
        if ack:
            await msg.ack()
        else:
            await msg.nak(delay=delay)
    except Exception as exc:
        log.info("could not %s a NATS message: %s", "ack" if ack else "nak", type(exc).__name__)
