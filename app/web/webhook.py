"""``POST /webhook/signals``: verify, validate, produce with acks=all, then answer 202."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from faust import web

from app.errors import BrokerUnavailable, InvalidHeader, PayloadTooLarge, ProblemError
from app.gateway import accept
from app.ids import uuid7, valid_correlation_id
from app.logs import fields
from app.main import settings, signals_topic
from app.metrics import WEBHOOK_LATENCY, WEBHOOK_REQUESTS
from app.topics import CORRELATION_HEADER
from app.web.problem import ProblemView

log = logging.getLogger(__name__)

blueprint = web.Blueprint("webhook")


async def read_body(request: Any, limit: int) -> bytes:
    """Read at most ``limit`` bytes; a longer body is refused without reading it all."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(16384):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def correlation_id_of(request: Any) -> str:
    given: str | None = request.headers.get("X-Correlation-ID")
    if given is None:
        return uuid7()
    if not valid_correlation_id(given):
        raise InvalidHeader("X-Correlation-ID must be 8-128 characters of [A-Za-z0-9._:-]")
    return given


@blueprint.route("/signals", name="signals")
class SignalWebhook(ProblemView):
    """Accepts one signed signal; 202 only after the broker acknowledged it."""

    async def post(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        outcome = "accepted"
        try:
            return await self._accept(request)
        except ProblemError as exc:
            outcome = exc.reason
            raise
        finally:
            WEBHOOK_REQUESTS.labels(outcome=outcome).inc()
            WEBHOOK_LATENCY.observe(time.perf_counter() - started)

    async def _accept(self, request: Any) -> web.Response:
        cid = correlation_id_of(request)
        try:
            body = await read_body(request, settings.max_body_bytes)
            signal = accept(
                body,
                request.headers,
                secret=settings.secret,
                tolerance=settings.signature_tolerance_seconds,
            )
        except ProblemError as exc:
            exc.headers["X-Correlation-ID"] = cid
            log.info("webhook refused", extra=fields(correlation_id=cid, reason=exc.reason))
            raise
        await self._produce(signal.key, signal.dumps(), cid)
        log.info(
            "signal accepted",
            extra=fields(correlation_id=cid, signal_id=signal.signal_id, symbol=signal.symbol),
        )
        return self.json_bytes(
            {"status": "accepted", "signal_id": signal.signal_id, "correlation_id": cid},
            status=202,
            headers={"X-Correlation-ID": cid},
        )

    async def _produce(self, key: bytes, value: bytes, cid: str) -> None:
        """Write to ``signals`` and wait for the broker's ack, within the ack timeout."""
        headers = {CORRELATION_HEADER: cid.encode()}

        async def send_and_wait() -> None:
            fut = await signals_topic.send(key=key, value=value, headers=headers)
            await fut

        try:
            await asyncio.wait_for(send_and_wait(), timeout=settings.broker_ack_timeout_seconds)
        except Exception as exc:  # timeout or a producer error: the write is not acknowledged
            log.warning(
                "broker did not acknowledge",
                extra=fields(correlation_id=cid, error=type(exc).__name__),
            )
            raise BrokerUnavailable(
                "the signal was not acknowledged by the broker; retry later",
                headers={"Retry-After": "5", "X-Correlation-ID": cid},
                reason="broker-unavailable",
            ) from None
