"""The webhook's own producer for ``signals``: acks=all, bounded by the request deadline.

The webhook does not write through Faust's producer: Faust's request timeout is 20
minutes (``producer_request_timeout``), so a signal the broker did not acknowledge before
the webhook's deadline (and answered 503) could still be written many minutes later,
and a client that retried it under a new identity got it executed twice. This producer's
``request_timeout_ms`` is the request deadline: a record not acknowledged by then is
expired by aiokafka within about two deadlines (the batch's time to live, plus at most
one request in flight), and never retried after that. A record the broker acknowledges
after its request was answered 503 is recorded as that delivery's outcome (see
``app.web.webhook``), so a retry with the same delivery identity gets the original 202.

Idempotence is off on purpose: aiokafka never expires the batches of an idempotent
producer. A record written twice by a retry has one signal id, and the orders agent
executes an order id once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from mode import Service

from app.main import app, settings

log = logging.getLogger(__name__)

CONNECT_RETRY_SECONDS = 1.0


@app.service
class SignalWriter(Service):
    """Started and stopped with the worker; ``connected`` once it knows the topic's leaders."""

    instance: SignalWriter | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.topic = settings.signals_topic
        self.connected = False
        self._producer_started = False
        self.closing = False
        timeout = settings.webhook_write_timeout_seconds or settings.request_deadline_seconds
        deadline_ms = int(timeout * 1000)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap.split(","),
            client_id=f"{settings.app_id}-webhook",
            acks="all",
            enable_idempotence=False,
            linger_ms=1,
            request_timeout_ms=deadline_ms,
            retry_backoff_ms=100,
            metadata_max_age_ms=30_000,
        )
        SignalWriter.instance = self

    async def on_start(self) -> None:
        self.add_future(self._connect())

    async def _connect(self) -> None:
        """Start the producer and learn the topic's partitions; retry until the broker answers."""
        while not self.closing:
            try:
                if not self._producer_started:
                    await self._producer.start()
                    self._producer_started = True
                await self._producer.partitions_for(self.topic)
            except (KafkaError, OSError) as exc:
                log.warning("webhook producer not connected yet: %s", type(exc).__name__)
                await asyncio.sleep(CONNECT_RETRY_SECONDS)
                continue
            self.connected = True
            log.info("webhook producer ready for %s", self.topic)
            return

    async def on_stop(self) -> None:
        self.closing = True
        self.connected = False
        await self._producer.stop()  # waits for what is in flight: acks keep coming

    async def send(
        self, key: bytes, value: bytes, headers: Mapping[str, bytes]
    ) -> asyncio.Future[Any]:
        """Hand one record to the producer; the returned future resolves on the broker's ack."""
        ack: asyncio.Future[Any] = await self._producer.send(
            self.topic, value=value, key=key, headers=list(headers.items())
        )
        return ack


def writer() -> SignalWriter | None:
    """The running worker's writer (None before the app started its services)."""
    return SignalWriter.instance
