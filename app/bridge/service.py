"""The bridge as a service of the worker: started and stopped with it, when enabled.

One NATS connection; the Kafka -> NATS loop (its own consumer group,
``<app id>-nats-bridge``) and the NATS -> Kafka loop (the shared durable consumer) run
side by side; every 5 s the lag, pending and outstanding-ack gauges are refreshed and the
stream and consumer are set up again after a reconnection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from mode import Service

from app.bridge.config import BridgeConfig, bridge_config
from app.bridge.inbound import NatsToKafka
from app.bridge.link import NatsLink
from app.bridge.outbound import KafkaToNats
from app.errors import ConfigError
from app.main import app, providers, settings
from app.metrics import BRIDGE_ENABLED, BRIDGE_ERRORS, start_bridge_series
from app.providers import Provider

log = logging.getLogger(__name__)

OBSERVE_SECONDS = 5.0
TICK_SECONDS = 0.2
SETUP_RETRY_SECONDS = 1.0
STOP_SECONDS = 5.0


def _checked() -> tuple[BridgeConfig, Provider]:
    """The bridge's config and inbound provider; ConfigError naming the variable if bad."""
    config = bridge_config(settings)
    provider = providers.get(settings.bridge_inbound_provider)
    if provider is None:
        name = settings.bridge_inbound_provider
        raise ConfigError("AT_STREAM_BRIDGE_INBOUND_PROVIDER", f"names no provider ({name!r})")
    return config, provider


if settings.bridge_enabled:  # at import: a bad setting stops the worker in one line
    _checked()


def _build() -> tuple[NatsLink, KafkaToNats, NatsToKafka]:
    config, provider = _checked()
    link = NatsLink(
        settings.nats_url, config, settings.bridge_max_outstanding_acks, f"{settings.app_id}-bridge"
    )
    out = KafkaToNats(
        link,
        config,
        bootstrap=settings.bootstrap,
        group=f"{settings.app_id}-nats-bridge",
        batch_size=settings.bridge_batch_size,
        puback_timeout=settings.bridge_puback_timeout_seconds,
    )
    inbound = NatsToKafka(
        link,
        provider,
        bootstrap=settings.bootstrap,
        client_id=f"{settings.app_id}-nats-bridge-in",
        signals_topic=settings.signals_topic,
        dead_letter_topic=settings.dead_letter_topic,
        batch_size=settings.bridge_batch_size,
        nak_delay=settings.bridge_nak_delay_seconds,
        write_timeout=settings.request_deadline_seconds * 2,
    )
    return link, out, inbound


@app.service
class Bridge(Service):
    """Does nothing unless ``AT_STREAM_BRIDGE_ENABLED``."""

    instance: Bridge | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enabled = settings.bridge_enabled
        BRIDGE_ENABLED.set(1 if self.enabled else 0)
        if self.enabled:
            start_bridge_series()
        self.parts = _build() if self.enabled else None
        self._loops: list[asyncio.Task[None]] = []
        Bridge.instance = self

    async def on_start(self) -> None:
        if self.parts is None:
            return
        link, out, inbound = self.parts
        self._loops = [
            asyncio.create_task(self._maintain(link), name="bridge-nats"),
            asyncio.create_task(out.run(), name="bridge-kafka-to-nats"),
            asyncio.create_task(inbound.run(), name="bridge-nats-to-kafka"),
        ]

    async def _maintain(self, link: NatsLink) -> None:
        """Connect, set up, and keep the gauges current; set up again after a reconnect."""
        await link.connect()
        assert self.parts is not None
        _, out, inbound = self.parts
        loop = asyncio.get_running_loop()
        observed = 0.0
        while not link.closing:
            if link.connected and not link.ready:
                try:
                    await link.ensure_setup()
                    log.info("NATS bridge ready: stream %s, durable %s",
                             link.config.stream, link.config.durable)  # fmt: skip
                except Exception as exc:
                    log.warning("NATS stream/consumer setup failed: %s", exc)
                    await asyncio.sleep(SETUP_RETRY_SECONDS)
                    continue
            if loop.time() - observed >= OBSERVE_SECONDS:
                observed = loop.time()
                try:
                    await asyncio.wait_for(asyncio.gather(out.observe(), inbound.observe()), 3)
                except Exception as exc:  # NATS or Kafka gone for a moment: next tick
                    BRIDGE_ERRORS.labels(direction="both", kind="observe").inc()
                    log.debug("bridge gauges not read: %s", type(exc).__name__)
            await asyncio.sleep(TICK_SECONDS)

    async def on_stop(self) -> None:
        if self.parts is None:
            return
        link, out, inbound = self.parts
        out.closing = inbound.closing = link.closing = True
        if self._loops:
            _, late = await asyncio.wait(self._loops, timeout=STOP_SECONDS)
            for task in late:
                task.cancel()
        await out.stop()
        await inbound.stop()
        await link.close()


def nats_ready() -> bool | None:
    """None when the bridge is off; else whether NATS is connected and set up."""
    bridge = Bridge.instance
    if bridge is None or bridge.parts is None:
        return None if not settings.bridge_enabled else False
    return bridge.parts[0].ready
