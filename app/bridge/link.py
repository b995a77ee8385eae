"""The bridge's NATS connection: connect (retrying forever), create or update the stream
and the inbound durable consumer (what the old ``nats-init`` container did), and say
whether NATS is usable right now (``/readyz``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from app.bridge.config import BridgeConfig, merged_subjects
from app.metrics import BRIDGE_ERRORS, BRIDGE_NATS_UP

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.5


class NatsLink:
    """One connection for both directions; ``ready`` while connected and set up."""

    def __init__(self, url: str, config: BridgeConfig, max_outstanding: int, name: str) -> None:
        self.url = url
        parts = urlsplit(url)
        self.shown = f"{parts.scheme}://{parts.hostname}:{parts.port or 4222}"  # no credentials
        self.config = config
        self.max_outstanding = max_outstanding
        self.name = name
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self._set_up = False
        self.closing = False

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    @property
    def ready(self) -> bool:
        return self.connected and self._set_up

    async def _disconnected(self) -> None:
        BRIDGE_NATS_UP.set(0)
        log.warning("NATS disconnected; reconnecting")

    async def _reconnected(self) -> None:
        log.info("NATS reconnected")
        self._set_up = False  # a restarted server may have lost a memory stream: set up again
        BRIDGE_NATS_UP.set(1)

    async def _error(self, exc: Exception) -> None:
        log.debug("NATS client error: %s", exc)

    async def connect(self) -> None:
        """Connect, retrying until it succeeds or the bridge stops."""
        while not self.closing:
            try:
                self.nc = await nats.connect(
                    self.url,
                    name=self.name,
                    connect_timeout=2,
                    reconnect_time_wait=0.5,
                    max_reconnect_attempts=-1,
                    allow_reconnect=True,
                    ping_interval=5,
                    max_outstanding_pings=2,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                    error_cb=self._error,
                )
            except Exception as exc:  # refused, timed out, no servers: keep trying
                BRIDGE_ERRORS.labels(direction="both", kind="connect").inc()
                log.warning("NATS at %s not reachable: %s", self.shown, type(exc).__name__)
                await asyncio.sleep(RETRY_SECONDS * 2)
                continue
            self.js = self.nc.jetstream(publish_async_max_pending=self.max_outstanding)
            BRIDGE_NATS_UP.set(1)
            log.info("NATS connected at %s", self.shown)
            return

    @property
    def max_payload(self) -> int:
        return self.nc.max_payload if self.nc is not None else 1024 * 1024

    def recheck(self) -> None:
        """Set the stream and consumer up again (one may have been deleted or changed)."""
        self._set_up = False

    def renew_context(self) -> None:
        """A new JetStream context (its own bound of outstanding PubAcks)."""
        if self.nc is not None:
            self.js = self.nc.jetstream(publish_async_max_pending=self.max_outstanding)

    async def ensure_setup(self) -> None:
        """Create or update the stream and the durable consumer, once per (re)connection."""
        if self._set_up:
            return
        assert self.js is not None
        try:
            await self._ensure_stream(self.js)
            await self._ensure_consumer(self.js)
        except Exception:
            BRIDGE_ERRORS.labels(direction="both", kind="setup").inc()
            raise
        self._set_up = True

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        wanted = self.config.stream_config
        try:
            info = await js.stream_info(wanted.name or "")
        except NotFoundError:
            await js.add_stream(wanted)
            log.info("JetStream stream %s created: %s", wanted.name, wanted.subjects)
            return
        have = info.config
        subjects = merged_subjects(have.subjects, wanted.subjects or [])
        update = have.evolve(
            subjects=subjects, max_age=wanted.max_age, duplicate_window=wanted.duplicate_window
        )
        for name in ("storage", "retention"):
            if getattr(have, name) != getattr(wanted, name):
                log.warning("stream %s keeps its %s %s (it cannot change)",
                            wanted.name, name, getattr(have, name))  # fmt: skip
        if _differs(have, update):
            await js.update_stream(update)
            log.info("JetStream stream %s updated: %s", wanted.name, subjects)

    async def _ensure_consumer(self, js: JetStreamContext) -> None:
        wanted = self.config.consumer_config
        try:
            await js.add_consumer(self.config.stream, wanted)  # creates or updates
        except Exception as exc:
            info = await js.consumer_info(self.config.stream, self.config.durable)
            log.warning("consumer %s kept as it is (%s): %s", self.config.durable, exc,
                        info.config)  # fmt: skip

    async def close(self) -> None:
        self.closing = True
        if self.nc is not None and not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.close(), timeout=3)
            except Exception as exc:
                log.info("NATS close: %s", type(exc).__name__)
        BRIDGE_NATS_UP.set(0)


def _differs(have: api.StreamConfig, want: api.StreamConfig) -> bool:
    keys = ("subjects", "retention", "max_age", "duplicate_window")
    a: dict[str, Any] = have.as_dict()
    b: dict[str, Any] = want.as_dict()
    return any(a.get(k) != b.get(k) for k in keys)
