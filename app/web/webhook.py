"""``POST /webhook/signals[/<provider>]``: verify, dedupe, produce with acks=all, answer.

The request is handled by the worker that owns its dedupe key's partition (requests
that reach another worker are forwarded there), so one process serializes all
deliveries of one key: a replay gets the first outcome, an ``Idempotency-Key`` in
flight gets 409, and the same key with another payload gets 422. Everything happens
within ``AT_STREAM_REQUEST_DEADLINE_SECONDS``; past it the answer is 503.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

from faust import web

from app.errors import (
    BrokerUnavailable,
    Conflict,
    IdempotencyKeyReused,
    InvalidHeader,
    NotFound,
    NotReady,
    Overloaded,
    PayloadTooLarge,
    ProblemError,
    RateLimited,
    RequestTimeout,
)
from app.gateway import Accepted, accept
from app.ids import IDEMPOTENCY_KEY_PATTERN, uuid7, valid_correlation_id
from app.lifecycle import drain
from app.logs import fields
from app.main import providers, settings
from app.metrics import (
    UNKNOWN_FIELDS,
    WEBHOOK_IN_FLIGHT,
    WEBHOOK_LATE_WRITES,
    WEBHOOK_LATENCY,
    WEBHOOK_REQUESTS,
    unknown_field_label,
)
from app.providers import DEFAULT_PROVIDER, Provider
from app.ratelimit import Admission, TokenBucket, retry_after
from app.tables.deliveries import Delivery, Slot
from app.topics import CORRELATION_HEADER
from app.web import routing
from app.web.problem import ProblemView
from app.web.signal_writer import writer

log = logging.getLogger(__name__)

blueprint = web.Blueprint("webhook")
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_buckets: dict[str, TokenBucket] = {}
_locks: dict[str, asyncio.Lock] = {}
_late_writes: dict[str, asyncio.Future[Any]] = {}
"""Dedupe key -> the ack of a write answered 503 that the broker may still acknowledge."""
_admission = Admission(settings.max_in_flight)
WEBHOOK_IN_FLIGHT.set_function(lambda: _admission.in_flight)
drain.in_flight = lambda: _admission.in_flight


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


_READING = "at_stream_reading_body"


def _reading_body(request: Any) -> bool:
    return bool(request.get(_READING, False))


def correlation_id_of(request: Any) -> str:
    given: str | None = request.headers.get("X-Correlation-ID")
    if given is None:
        return uuid7()
    if not valid_correlation_id(given):
        raise InvalidHeader("X-Correlation-ID must be 8-128 characters of [A-Za-z0-9._:-]")
    return given


def idempotency_key_of(request: Any) -> str | None:
    given: str | None = request.headers.get("Idempotency-Key")
    if given is None:
        return None
    match = _IDEMPOTENCY_KEY.fullmatch(given)
    if not match:
        raise InvalidHeader("Idempotency-Key must be a string of 1-255 visible characters")
    return match.group(1)


def rate_limit(provider: Provider) -> None:
    limit = provider.rate_limit
    if limit is None:
        return
    bucket = _buckets.get(provider.id)
    if bucket is None:
        bucket = _buckets[provider.id] = TokenBucket(limit.per_second, limit.burst)
    wait = bucket.take()
    if wait:
        raise RateLimited(
            f"provider {provider.id!r} is over its rate limit",
            headers={"Retry-After": retry_after(wait)},
        )


@blueprint.route("/signals", name="signals")
class SignalWebhook(ProblemView):
    """Accepts one signed signal; 2xx only after the broker acknowledged it."""

    async def post(self, request: web.Request, provider: str = DEFAULT_PROVIDER) -> web.Response:
        started = time.perf_counter()
        outcome = "accepted"
        cid = ""
        admitted = False
        try:
            cid = correlation_id_of(request)
            if drain.draining:
                raise NotReady("worker is stopping", headers={"Retry-After": "1"})
            admitted = _admission.enter()
            if not admitted:
                raise Overloaded(
                    f"{_admission.limit} requests are in flight; retry later",
                    headers={"Retry-After": "1"},
                )
            async with asyncio.timeout(settings.request_deadline_seconds):
                return await self._handle(request, provider, cid)
        except TimeoutError:
            if _reading_body(request):  # the client, not the broker, was too slow
                outcome = "request-timeout"
                raise RequestTimeout(
                    f"the body did not arrive within {settings.request_deadline_seconds:g} s",
                    headers={"X-Correlation-ID": cid, "Connection": "close"},
                ) from None
            outcome = "deadline"
            raise BrokerUnavailable(
                "the signal could not be recorded in time; retry later",
                headers={"Retry-After": "1", "X-Correlation-ID": cid},
                reason="deadline",
            ) from None
        except ProblemError as exc:
            outcome = exc.reason
            if cid:
                exc.headers["X-Correlation-ID"] = cid
            log.info("webhook refused", extra=fields(correlation_id=cid, reason=exc.reason))
            raise
        finally:
            if admitted:
                _admission.leave()
            known = providers.get(provider)
            WEBHOOK_REQUESTS.labels(
                provider=known.id if known else "unknown",
                scheme=known.scheme.value if known else "none",
                outcome=outcome,
            ).inc()
            WEBHOOK_LATENCY.observe(time.perf_counter() - started)

    async def _handle(self, request: Any, provider_id: str, cid: str) -> web.Response:
        provider = providers.get(provider_id)
        if provider is None:
            raise NotFound(f"no provider {provider_id!r}")
        request[_READING] = True
        body = await read_body(request, settings.max_body_bytes)
        request[_READING] = False
        client_ip = routing.client_ip(request, body)
        rate_limit(provider)
        accepted = accept(
            provider,
            body,
            request.headers,
            client_ip=client_ip,
            tolerance=settings.signature_tolerance_seconds,
            idempotency_key=idempotency_key_of(request),
            correlation_id=request.headers.get("X-Correlation-ID"),  # validated: correlation_id_of
        )
        for name in accepted.signal.unknown_fields:
            UNKNOWN_FIELDS.labels(
                provider=provider.id, field=unknown_field_label(provider.id, name)
            ).inc()
        if not routing.ready(self.app):  # before routing: the router needs the assignment
            raise NotReady("worker is recovering or rebalancing", headers={"Retry-After": "1"})
        forwarded = await routing.forward_to_owner(self, request, accepted.dedupe_key, body)
        if forwarded is not None:
            return forwarded
        return await self._once(accepted, cid, has_idem_key="Idempotency-Key" in request.headers)

    async def _once(self, accepted: Accepted, cid: str, *, has_idem_key: bool) -> web.Response:
        """The first delivery of a key is produced; the others get its outcome."""
        key = accepted.dedupe_key
        earlier = _late_writes.get(key)
        if earlier is not None:  # answered 503, its write may still be acknowledged: wait
            await asyncio.wait({earlier})
        lock = _locks.setdefault(key, asyncio.Lock())
        if lock.locked() and has_idem_key:
            raise Conflict("a request with this Idempotency-Key is still being processed")
        try:
            async with lock:
                slot = Slot(key)
                seen = slot.lookup()
                if seen is not None:
                    return self._replay(seen, accepted, cid)
                body = {
                    "status": "accepted",
                    "signal_id": accepted.signal.signal_id,
                    "correlation_id": cid,
                }
                delivery = Delivery(
                    fingerprint=accepted.fingerprint,
                    signal_id=accepted.signal.signal_id,
                    status=202,
                    body=body,
                    expires_at=time.time() + settings.idempotency_ttl_seconds,
                )
                await self._produce(accepted, cid, slot, delivery)
                slot.record(delivery)
        finally:
            if not lock.locked() and _locks.get(key) is lock:
                del _locks[key]
        log.info(
            "signal accepted",
            extra=fields(correlation_id=cid, signal_id=accepted.signal.signal_id, key=key),
        )
        return self.json_bytes(body, status=202, headers={"X-Correlation-ID": cid})

    def _replay(self, seen: Delivery, accepted: Accepted, cid: str) -> web.Response:
        if seen.fingerprint != accepted.fingerprint:
            raise IdempotencyKeyReused(
                "this delivery's identity (its Idempotency-Key, or a legacy request's "
                "X-Correlation-ID) was first used with a different payload",
                reason="key-reused",
            )
        log.info("replay answered", extra=fields(correlation_id=cid, signal_id=seen.signal_id))
        headers = {"X-Correlation-ID": str(seen.body.get("correlation_id", cid))}
        return self.json_bytes({**seen.body, "replayed": True}, status=seen.status, headers=headers)

    async def _produce(self, accepted: Accepted, cid: str, slot: Slot, delivery: Delivery) -> None:
        """Write to ``signals`` and wait for the broker's ack (acks=all).

        Past the deadline the request is answered 503, but the write may still be
        acknowledged (until the producer expires it): then its outcome is recorded as if
        it had been in time, so a retry with the same delivery identity gets that 202.
        """
        signal = accepted.signal
        producer = writer()
        if producer is None or not producer.connected:
            raise NotReady("worker is connecting to the broker", headers={"Retry-After": "1"})
        ack: asyncio.Future[Any] | None = None
        try:
            ack = await producer.send(
                signal.key, signal.dumps(), {CORRELATION_HEADER: cid.encode()}
            )
            await asyncio.shield(ack)
        except asyncio.CancelledError:
            if ack is not None:
                _record_if_written_late(ack, slot, delivery, cid)
            raise
        except Exception as exc:  # a producer error: the write is not acknowledged
            log.warning(
                "broker did not acknowledge",
                extra=fields(correlation_id=cid, error=type(exc).__name__),
            )
            raise BrokerUnavailable(
                "the signal was not acknowledged by the broker; retry later",
                headers={"Retry-After": "1"},
                reason="broker-unavailable",
            ) from None


def _record_if_written_late(
    ack: asyncio.Future[Any], slot: Slot, delivery: Delivery, cid: str
) -> None:
    """After a 503 past the deadline: if the broker acknowledges the write, record it."""
    key = slot.key.decode()
    _late_writes[key] = ack

    def done(fut: asyncio.Future[Any]) -> None:
        if _late_writes.get(key) is fut:
            del _late_writes[key]
        if fut.cancelled() or fut.exception() is not None:
            log.info("write answered 503 was not acknowledged: nothing written",
                     extra=fields(correlation_id=cid, signal_id=delivery.signal_id))  # fmt: skip
            return
        slot.record(delivery)
        WEBHOOK_LATE_WRITES.inc()
        log.warning(
            "signal acknowledged after its 503: recorded, a retry gets the original 202",
            extra=fields(correlation_id=cid, signal_id=delivery.signal_id),
        )

    ack.add_done_callback(done)


@blueprint.route("/signals/{provider}", name="provider-signals")
class ProviderSignalWebhook(SignalWebhook):
    """The same, for a provider of the providers file."""
