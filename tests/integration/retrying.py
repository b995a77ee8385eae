"""Clients that retry every 503 with the same delivery identity until they get a 2xx.

Three kinds: Standard Webhooks with the same ``webhook-id`` (signed again), legacy with the
same ``Idempotency-Key`` (signed again), and legacy signed again with the same
``X-Correlation-ID``. Used by the tests that break the broker or the network under load:
whatever happens, each intended signal must get one signal id and execute once.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from standardwebhooks.webhooks import Webhook

from tests.integration.support import Worker, signal_body, signed_headers, unique

SW_SECRET = "whsec_" + base64.b64encode(b"integration-outage-webhooks-key").decode()
PROVIDERS = f"""
[[providers]]
id = "engine"
scheme = "standard-webhooks"
secrets = [{{ value = "{SW_SECRET}" }}]
rate_limit = {{ per_second = 10000, burst = 10000 }}
"""
KINDS = ("webhook-id", "idempotency-key", "correlation-id")


def headers(kind: str, identity: str, body: bytes) -> dict[str, str]:
    """Fresh signature on every attempt; the delivery identity stays."""
    if kind == "webhook-id":
        now = datetime.now(UTC)
        return {
            "Content-Type": "application/json",
            "webhook-id": identity,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(SW_SECRET).sign(identity, now, body.decode()),
        }
    header = "Idempotency-Key" if kind == "idempotency-key" else "X-Correlation-ID"
    return {**signed_headers(body), header: identity}


@dataclass
class Senders:
    """``per_kind`` senders of each kind, each sending ``signals`` signals ``pause`` apart."""

    worker: Worker
    per_kind: int
    signals: int
    pause: float
    deadline: float  # the worker's request deadline: no answer may take much longer
    give_up: float = 60.0
    account: str = "out"
    tally: Counter[str] = field(default_factory=Counter)
    accepted_at: list[float] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(KINDS) * self.per_kind * self.signals

    async def run(self, http: aiohttp.ClientSession) -> list[str]:
        """Every sender to the end; the signal ids of every intended signal."""
        results = await asyncio.gather(
            *(self._sender(http, kind, n) for kind in KINDS for n in range(self.per_kind))
        )
        return [sid for ids in results for sid in ids]

    async def _sender(self, http: aiohttp.ClientSession, kind: str, n: int) -> list[str]:
        ids = []
        for i in range(self.signals):
            body = signal_body(account=f"{self.account}-{kind}", symbol=f"S{n}X{i}", quantity="1")
            ids.append(await self.deliver(http, kind, unique(f"{kind}-{n}-{i}"), body))
            await asyncio.sleep(self.pause)
        return ids

    async def deliver(
        self, http: aiohttp.ClientSession, kind: str, identity: str, body: bytes
    ) -> str:
        """Send until a 2xx; every 503 is retried with the same identity. The signal id."""
        path = "/webhook/signals/engine" if kind == "webhook-id" else "/webhook/signals"
        give_up = time.monotonic() + self.give_up
        while time.monotonic() < give_up:
            started = time.monotonic()
            try:
                async with http.post(
                    self.worker.url + path, data=body, headers=headers(kind, identity, body)
                ) as r:
                    answer = await r.json(content_type=None)
                    status = r.status
            except aiohttp.ClientError:
                self.tally["connection-error"] += 1
                await asyncio.sleep(0.5)
                continue
            self.tally[f"{status}"] += 1
            took = time.monotonic() - started
            assert took < self.deadline + 2, f"an answer took {took:.1f} s: past the deadline"
            if status == 202:
                self.accepted_at.append(time.monotonic())
                if answer.get("replayed"):
                    self.tally["replayed"] += 1
                return str(answer["signal_id"])
            assert status in {503, 409}, (status, answer)  # 409: the first try is in flight
            self.tally[f"{status} {answer.get('detail', '')[:60]}"] += 1
            await asyncio.sleep(float(r.headers.get("Retry-After", "1")) / 4)
        raise AssertionError(f"{kind} {identity}: no 2xx within {self.give_up} s: {self.tally}")
