"""The legacy timestamped HMAC scheme of the old gateway.

The caller sends ``X-Signature-Timestamp: <unix seconds>`` and
``X-Signature: sha256=<hex>`` where the hex is HMAC-SHA256 under the shared secret of
``<timestamp>.<raw body>``. The timestamp must be within the tolerance of our clock.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

TIMESTAMP_HEADER = "X-Signature-Timestamp"
SIGNATURE_HEADER = "X-Signature"
PREFIX = "sha256="


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why verification failed (for logs and metrics, never for the caller)."""

    ok: bool
    reason: str


OK = Verdict(True, "ok")


def signed_payload(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode("ascii") + b"." + body


def sign(secret: str, body: bytes, timestamp: int | None = None) -> tuple[str, str]:
    """Return ``(timestamp, signature header value)`` for ``body``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), signed_payload(ts, body), hashlib.sha256).hexdigest()
    return ts, PREFIX + mac


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> Verdict:
    """Check the signature over the raw bytes in constant time, then the clock skew."""
    if not timestamp or not signature:
        return Verdict(False, "missing-header")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return Verdict(False, "bad-timestamp")
    if not signature.startswith(PREFIX):
        return Verdict(False, "bad-signature-format")
    expected = hmac.new(secret.encode(), signed_payload(timestamp, body), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest().encode(), signature[len(PREFIX) :].encode()):
        return Verdict(False, "mismatch")
    skew = abs((time.time() if now is None else now) - int(timestamp))
    if skew > tolerance:
        return Verdict(False, "timestamp-out-of-tolerance")
    return OK
