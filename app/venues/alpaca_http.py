"""HTTP to Alpaca's Trading API: auth headers, timeouts, retries and the circuit breaker.

Every request carries ``APCA-API-KEY-ID`` and ``APCA-API-SECRET-KEY``. A transient answer
(408, 429, 5xx, a timeout, a connection error) is retried with backoff and jitter
(:mod:`app.venues.retry`), 429 after the venue's ``Retry-After``; any other 4xx is returned
to the caller at once: it is the venue's business answer. Timeouts, connection errors and
5xx count as breaker failures, any answer below 500 as a success; while the breaker is open
no request is sent and :class:`CircuitOpen` is raised. JSON is parsed with Decimal for every
number, never through float.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import aiohttp

from app.logs import fields
from app.venues.base import CircuitOpen, VenueProtocolError, VenueUnavailable
from app.venues.breaker import CircuitBreaker
from app.venues.retry import Answer, RetryPolicy, backoff_delay, classify, retry_after_seconds

log = logging.getLogger(__name__)

VENUE = "alpaca"


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    in_doubt: bool = False
    """An earlier attempt of this call went out unanswered (a submit may be at the venue)."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


class AlpacaHTTP:
    """One connection pool to one Alpaca base URL, with its retry policy and breaker."""

    def __init__(
        self,
        base_url: str,
        key_id: str,
        secret_key: str,
        *,
        timeout_seconds: float = 10.0,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        session: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {
            "APCA-API-KEY-ID": key_id,
            "APCA-API-SECRET-KEY": secret_key,
            "Accept": "application/json",
        }
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.policy = policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._session = session
        self._own_session = session is None
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clock = clock

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, str] | None = None,
    ) -> Reply:
        """The venue's answer: 2xx, or a business 4xx; VenueUnavailable otherwise."""
        sent = False  # a request went out and got no final answer: a submit may be there
        last = "no attempt"
        for attempt in range(self.policy.max_attempts):
            if not self.breaker.allow(self._clock()):
                raise CircuitOpen(
                    VENUE, operation, self.breaker.describe(self._clock()),
                    attempts=attempt, in_doubt=sent,
                )  # fmt: skip
            try:
                reply = await self._send(method, path, params, body)
            except VenueProtocolError:
                self.breaker.record_success()  # it answered, if nonsense: not an outage
                raise
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.breaker.record_failure(self._clock())
                sent = True
                last = _describe(exc)
                delay = backoff_delay(self.policy, attempt, self._rng)
            else:
                answer = classify(reply.status)
                if reply.status < 500:
                    self.breaker.record_success()
                else:
                    self.breaker.record_failure(self._clock())
                if answer is not Answer.RETRY:
                    return replace(reply, in_doubt=sent)
                sent = sent or reply.status >= 500
                last = f"HTTP {reply.status}"
                asked = retry_after_seconds(reply.headers, reply.status, time.time())
                if asked is not None and asked > self.policy.max_retry_after:
                    raise VenueUnavailable(
                        VENUE, operation,
                        f"{last}: the venue asks to wait {asked:g} s "
                        f"(more than {self.policy.max_retry_after:g} s)",
                        attempts=attempt + 1, in_doubt=sent,
                    )  # fmt: skip
                delay = (
                    asked if asked is not None else backoff_delay(self.policy, attempt, self._rng)
                )
            if attempt + 1 < self.policy.max_attempts:
                log.warning(
                    "alpaca request failed, retrying",
                    extra=fields(
                        operation=operation, attempt=attempt + 1, error=last,
                        retry_in_seconds=round(delay, 3),
                    ),
                )  # fmt: skip
                await self._sleep(delay)
        raise VenueUnavailable(
            VENUE, operation, f"{last} after {self.policy.max_attempts} attempts",
            attempts=self.policy.max_attempts, in_doubt=sent,
        )  # fmt: skip

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Mapping[str, str] | None,
    ) -> Reply:
        session = self._client()
        async with session.request(
            method, self.base_url + path,
            params=params, json=body, headers=self._headers, timeout=self.timeout,
        ) as resp:  # fmt: skip
            text = await resp.text()
            headers = dict(resp.headers)
            if not text.strip():
                return Reply(resp.status, None, headers)
            try:
                parsed = _loads(text)
            except ValueError:
                if resp.status >= 500 or resp.status == 429:
                    return Reply(resp.status, text, headers)  # a proxy's HTML error page
                raise VenueProtocolError(
                    VENUE, f"{method} {path}", f"HTTP {resp.status} with a non-JSON body"
                ) from None
            return Reply(resp.status, parsed, headers)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
