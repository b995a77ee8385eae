"""Signature schemes of the webhook. Each returns a Verdict and the delivery id.

- ``standard-webhooks``: Standard Webhooks 1.0 — ``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature`` (space-separated ``v1,<base64>``; any may match), HMAC-SHA256
  over ``{id}.{timestamp}.{body}`` with a ``whsec_`` base64 secret, ±tolerance.
- ``legacy``: the old gateway's ``X-Signature-Timestamp`` / ``X-Signature`` (app.signing).
- ``tradingview``: no signature; a shared ``secret`` field in the JSON body (plus the IP
  allowlist, checked by the caller). The field is removed before the signal goes anywhere.

Every comparison is constant-time; reasons are specific for logs, never for the caller.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app import signing

SW_ID, SW_TIMESTAMP, SW_SIGNATURE = "webhook-id", "webhook-timestamp", "webhook-signature"
TV_SECRET_FIELD = "secret"


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified delivery: its id (for replay protection) and the body to use."""

    delivery_id: str
    body: bytes | None = None  # None: the raw body as received


class Rejected(Exception):
    """Verification failed; ``reason`` is for logs and metrics only."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _timestamp(value: str | None, tolerance: int, now: float) -> None:
    if not value:
        raise Rejected("missing-header")
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise Rejected("bad-timestamp")
    skew = now - int(value)
    if skew > tolerance:
        raise Rejected("timestamp-too-old")
    if -skew > tolerance:
        raise Rejected("timestamp-in-future")


def sw_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_`` + base64)."""
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error:
        return raw.encode()  # not base64: used as is, like the reference library


def sw_sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(sw_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify_standard(
    secrets: Sequence[str], body: bytes, headers: Mapping[str, str], tolerance: int, now: float
) -> Verified:
    msg_id = headers.get(SW_ID)
    ts = headers.get(SW_TIMESTAMP)
    sig_header = headers.get(SW_SIGNATURE)
    if not msg_id or not sig_header:
        raise Rejected("missing-header")
    if len(msg_id) > 256:
        raise Rejected("bad-webhook-id")
    _timestamp(ts, tolerance, now)
    assert ts is not None
    given = [s.split(",", 1)[1] for s in sig_header.split(" ") if s.startswith("v1,")]
    if not given:
        raise Rejected("bad-signature-format")
    for secret in secrets:
        expected = sw_sign(secret, msg_id, ts, body).split(",", 1)[1].encode()
        if any(hmac.compare_digest(expected, g.encode()) for g in given):
            return Verified(delivery_id=msg_id)
    raise Rejected("mismatch")


def verify_legacy(
    secrets: Sequence[str], body: bytes, headers: Mapping[str, str], tolerance: int, now: float
) -> Verified:
    ts = headers.get(signing.TIMESTAMP_HEADER)
    sig = headers.get(signing.SIGNATURE_HEADER)
    verdict = signing.Verdict(False, "no-active-secret")
    for secret in secrets:
        verdict = signing.verify(secret, body, ts, sig, tolerance=tolerance, now=now)
        if verdict.ok or verdict.reason != "mismatch":
            break
    if not verdict.ok:
        raise Rejected(verdict.reason)
    assert ts is not None
    # Only signed material identifies the delivery: the same request is the same delivery.
    material = signing.signed_payload(ts, body)
    return Verified(delivery_id="legacy:" + hashlib.sha256(material).hexdigest())


def verify_tradingview(secrets: Sequence[str], payload: Any) -> Verified:
    """TradingView posts JSON with the shared secret in a field; strip it."""
    if not isinstance(payload, dict):
        raise Rejected("not-an-object")
    given = payload.pop(TV_SECRET_FIELD, None)
    if not isinstance(given, str) or not given:
        raise Rejected("missing-secret-field")
    if not any(hmac.compare_digest(given.encode(), s.encode()) for s in secrets):
        raise Rejected("mismatch")
    return Verified(delivery_id="")  # set by the caller from the stripped body
