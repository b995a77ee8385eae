"""Unique, correctly signed webhook requests and valid Signal records for preloading."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from app import signing
from app.models import Signal
from app.topics import CORRELATION_HEADER
from bench.kafka_io import Record
from bench.stack import SECRET

ACCOUNTS = 64  # distinct account|symbol keys: spread over every partition
SYMBOL = "AAPL"
TEMPLATE_ID = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True, slots=True)
class Presigned:
    body: bytes
    headers: dict[str, str]
    correlation_id: str


def webhook_body(run: str, i: int) -> bytes:
    """A valid market signal; ``strategy`` carries ``run.i`` so every body is unique."""
    return orjson.dumps(
        {
            "symbol": SYMBOL,
            "side": "buy" if i % 2 == 0 else "sell",
            "quantity": str(1 + i % 100),
            "order_type": "market",
            "price": "187.25",
            "account": f"bench-{i % ACCOUNTS}",
            "strategy": f"{run}.{i}",
        }
    )


def presign(run: str, count: int, *, secret: str = SECRET) -> list[Presigned]:
    """``count`` requests signed now (valid for the signature tolerance, 300 s)."""
    out: list[Presigned] = []
    for i in range(count):
        body = webhook_body(run, i)
        stamp, sig = signing.sign(secret, body)
        cid = f"{run}-{i:08d}"
        headers = {
            "Content-Type": "application/json",
            signing.TIMESTAMP_HEADER: stamp,
            signing.SIGNATURE_HEADER: sig,
            "X-Correlation-ID": cid,
        }
        out.append(Presigned(body, headers, cid))
    return out


def _templates(run: str) -> list[bytes]:
    """One Signal value per account, made by the app's own model (so always valid)."""
    received = datetime.now(UTC)
    out = []
    for a in range(ACCOUNTS):
        fields = orjson.loads(webhook_body(run, a))
        fields["strategy"] = "bench"
        signal = Signal.model_validate(
            {**fields, "signal_id": TEMPLATE_ID, "received_at": received}
        )
        out.append(signal.dumps())
    return out


def signal_records(run: str, count: int) -> Iterator[Record]:
    """``count`` valid Signal values keyed ``account|symbol``, with a correlation id.

    Each is an account's template with a fresh ``signal_id`` (a UUID, same length).
    """
    templates = _templates(run)
    marker = TEMPLATE_ID.encode()
    for i in range(count):
        a = i % ACCOUNTS
        value = templates[a].replace(marker, str(uuid.uuid4()).encode(), 1)
        cid = f"{run}-{i:08d}".encode()
        yield f"bench-{a}|{SYMBOL}".encode(), value, [(CORRELATION_HEADER, cid)]
