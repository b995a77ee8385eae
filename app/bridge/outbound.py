"""Kafka -> NATS: a plain aiokafka consumer in its own group, batch by batch.

Each batch is published with JetStream's async publish (at most
``AT_STREAM_BRIDGE_MAX_OUTSTANDING_ACKS`` PubAcks outstanding), then every PubAck is awaited
(``AT_STREAM_BRIDGE_PUBACK_TIMEOUT_SECONDS``); what did not get one is published again,
until all did; only then are the batch's offsets committed. A record published twice (a
retry, a crash before the commit, a partition moved to another worker) carries the same
``Nats-Msg-Id``, which JetStream drops within its duplicate window. The group spreads the
partitions over the workers: each publishes its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from app.bridge.config import BridgeConfig
from app.bridge.link import NatsLink
from app.bridge.outbound_map import Outbound, to_nats
from app.metrics import (
    BRIDGE_DUPLICATES,
    BRIDGE_ERRORS,
    BRIDGE_KAFKA_LAG,
    BRIDGE_MESSAGES,
    BRIDGE_OUTSTANDING_ACKS,
    BRIDGE_SKIPPED,
)

log = logging.getLogger(__name__)
DIRECTION = "kafka-to-nats"
RETRY_SECONDS = 0.5


class KafkaToNats:
    def __init__(
        self,
        link: NatsLink,
        config: BridgeConfig,
        *,
        bootstrap: str,
        group: str,
        batch_size: int,
        puback_timeout: float,
    ) -> None:
        self.link = link
        self.config = config
        self.batch_size = batch_size
        self.puback_timeout = puback_timeout
        self.closing = False
        self.consumer = AIOKafkaConsumer(
            *config.topics,
            bootstrap_servers=bootstrap.split(","),
            group_id=group,
            client_id=f"{group}-out",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=batch_size,
            metadata_max_age_ms=30_000,
        )
        self._started = False

    async def run(self) -> None:
        while not self.closing and not self._started:
            try:
                await self.consumer.start()
                self._started = True
            except (KafkaError, OSError) as exc:
                log.warning("bridge consumer not started: %s", type(exc).__name__)
                await asyncio.sleep(RETRY_SECONDS * 2)
        while not self.closing:
            try:
                batch = await self.consumer.getmany(timeout_ms=500, max_records=self.batch_size)
            except KafkaError as exc:
                BRIDGE_ERRORS.labels(direction=DIRECTION, kind="fetch").inc()
                log.warning("bridge fetch failed: %s", type(exc).__name__)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if batch:
                await self._bridge(batch)

    async def _bridge(self, batch: dict[TopicPartition, list[Any]]) -> None:
        messages: list[Outbound] = []
        ends: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, records in batch.items():
            route = self.config.routes[tp.topic]
            for r in records:
                out = to_nats(route, r.partition, r.offset, r.value, list(r.headers))
                if out is None:
                    BRIDGE_SKIPPED.labels(direction=DIRECTION).inc()
                else:
                    messages.append(out)
            ends[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
        if not await self.publish_all(messages):
            return  # stopping: nothing committed, the next owner publishes again
        await self._commit(ends)

    async def publish_all(self, messages: Sequence[Outbound]) -> bool:
        """Publish until every message has its PubAck; False if the bridge stops first."""
        pending = list(messages)
        while pending:
            if self.closing:
                return False
            if not self.link.ready:
                await asyncio.sleep(RETRY_SECONDS / 5)
                continue
            pending = await self._publish_once(pending)
            if pending:
                BRIDGE_ERRORS.labels(direction=DIRECTION, kind="publish").inc()
                log.warning("%d messages without PubAck: publishing them again", len(pending))
                self.link.recheck()  # the stream may be gone: set it up again first
                await asyncio.sleep(RETRY_SECONDS)
        return True

    async def _publish_once(self, messages: list[Outbound]) -> list[Outbound]:
        """One try for each message, at most ``max_outstanding`` PubAcks awaited at a time:
        the messages without a PubAck."""
        failed: list[Outbound] = []
        step = self.link.max_outstanding
        for start in range(0, len(messages), step):
            failed += await self._publish_chunk(messages[start : start + step])
        return failed

    async def _publish_chunk(self, messages: list[Outbound]) -> list[Outbound]:
        js = self.link.js
        assert js is not None
        sent: list[tuple[Outbound, asyncio.Future[Any]]] = []
        attempted = 0
        try:
            # no wait_stall: the chunk fits the client's bound, so publish_async never waits
            # on it (and never yields: the whole chunk goes out in one socket write)
            limit = self.link.max_payload
            for m in messages:
                attempted += 1
                if len(m.payload) > limit:  # can never be published: skipped, loudly
                    BRIDGE_ERRORS.labels(direction=DIRECTION, kind="too-large").inc()
                    log.error("not bridged: a message for %s exceeds the server's max_payload "
                              "(Nats-Msg-Id %s)", m.subject, m.msg_id)  # fmt: skip
                    continue
                sent.append((m, await js.publish_async(m.subject, m.payload, headers=m.headers)))
        except Exception as exc:  # disconnected, buffer full: this one and the rest not sent
            attempted -= 1
            log.info("publish interrupted after %d of %d: %s", attempted, len(messages),
                     type(exc).__name__)  # fmt: skip
            # publish_async registered this one's PubAck future (and took a slot of its bound)
            # before the client refused it: a fresh context, so no slot stays taken for ever
            self.link.renew_context()
        BRIDGE_OUTSTANDING_ACKS.set(js.publish_async_pending())
        if sent:
            await asyncio.wait([f for _, f in sent], timeout=self.puback_timeout)
        failed = list(messages[attempted:])
        acked: Counter[str] = Counter()
        for m, fut in sent:
            if not fut.done():
                fut.cancel()  # releases its slot of the client's bound
                failed.append(m)
            elif fut.cancelled() or fut.exception() is not None:
                failed.append(m)
            else:
                if fut.result().duplicate:
                    BRIDGE_DUPLICATES.inc()
                acked[m.template] += 1
        for template, count in acked.items():
            BRIDGE_MESSAGES.labels(direction=DIRECTION, subject=template).inc(count)
        BRIDGE_OUTSTANDING_ACKS.set(js.publish_async_pending())
        return failed

    async def _commit(self, ends: dict[TopicPartition, OffsetAndMetadata]) -> None:
        assigned = self.consumer.assignment()
        mine = {tp: end for tp, end in ends.items() if tp in assigned}  # the rest moved away
        if not mine:
            return
        try:
            await self.consumer.commit(mine)
        except KafkaError as exc:  # a rebalance moved the partition: its new owner republishes
            BRIDGE_ERRORS.labels(direction=DIRECTION, kind="commit").inc()
            log.warning("bridge commit failed (%s): published again by the partition's owner",
                        type(exc).__name__)  # fmt: skip

    async def observe(self) -> None:
        """Lag per topic: the highwater mark minus this consumer's position."""
        if not self._started:
            return
        lag: dict[str, int] = dict.fromkeys(self.config.topics, 0)
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is None:
                continue
            position = await self.consumer.position(tp)
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - position)
        for topic, value in lag.items():
            BRIDGE_KAFKA_LAG.labels(topic=topic).set(value)

    async def stop(self) -> None:
        self.closing = True
        if self._started:
            await self.consumer.stop()
