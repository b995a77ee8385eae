"""Pure webhook logic: from raw request parts to a verified, validated Signal.

No I/O here; the Faust view reads the body, calls :func:`accept`, and produces.
Order of checks: source IP, content type, signature (so unauthenticated callers learn
nothing about the payload), JSON, schema.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from app import schemes
from app.errors import (
    Forbidden,
    InvalidJSON,
    InvalidSignal,
    Unauthorized,
    UnsupportedMediaType,
)
from app.ids import derive
from app.models import Signal, SignalIn
from app.providers import Provider, Scheme, UnknownFields

MAX_DEPTH = 32
KNOWN_FIELDS = frozenset(SignalIn.model_fields)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A request that may become a signal, and what identifies its delivery."""

    signal: Signal
    dedupe_key: str  # same key, same delivery: replays and retries share it
    fingerprint: str  # sha256 of the payload: same key with another payload is refused


def check_content_type(content_type: str | None, scheme: Scheme) -> None:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return
    if scheme is Scheme.TRADINGVIEW and media == "text/plain":
        return  # TradingView posts JSON as text/plain
    raise UnsupportedMediaType(f"content type must be application/json, got {media or 'none'!r}")


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Every field error as ``{"pointer": "/quantity", "detail": "...", "code": "..."}``."""
    out = []
    for err in exc.errors(include_url=False):
        pointer = "/" + "/".join(
            str(p).replace("~", "~0").replace("/", "~1") for p in err["loc"]
        )  # RFC 6901
        out.append({"pointer": pointer, "detail": err["msg"], "code": err["type"]})
    return out


class _Refused(ValueError):
    """A JSON text that parses but that we refuse (its message is ours to show)."""


def _reject_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"duplicate key {key!r}")
        out[key] = value
    return out


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json(body: bytes) -> Any:
    """Parse strictly and losslessly: UTF-8, no NaN/Infinity, no duplicate keys, depth <= 32;
    numbers with a fraction become Decimal, never float."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJSON(f"body is not valid UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        value = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicates,
        )
    except RecursionError:
        raise InvalidJSON(f"JSON is nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise InvalidJSON(
            f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except _Refused as exc:
        raise InvalidJSON(f"body is not valid JSON: {exc}") from None
    except ValueError:  # int() past Python's digit limit; its message names Python internals
        raise InvalidJSON("body is not valid JSON: a number has too many digits") from None
    if _depth(value) > MAX_DEPTH:
        raise InvalidJSON(f"JSON is nested deeper than {MAX_DEPTH} levels")
    return value


def fingerprint(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _verify(
    provider: Provider, body: bytes, headers: Mapping[str, str], tolerance: int, now: datetime
) -> tuple[schemes.Verified, Any]:
    secrets = provider.active_secrets(now)
    try:
        if provider.scheme is Scheme.TRADINGVIEW:
            payload = parse_json(body)
            schemes.verify_tradingview(secrets, payload)
            return schemes.Verified("tv:" + fingerprint(payload)), payload
        verify = (
            schemes.verify_standard
            if provider.scheme is Scheme.STANDARD_WEBHOOKS
            else schemes.verify_legacy
        )
        verified = verify(secrets, body, headers, tolerance, now.timestamp())
    except schemes.Rejected as exc:
        raise Unauthorized(
            "the request signature is missing, invalid or expired", reason=exc.reason
        ) from None
    except InvalidJSON:  # an unauthenticated caller learns nothing about its JSON
        raise Unauthorized("the request is not authenticated", reason="bad-json") from None
    return verified, parse_json(body)


def delivery_key(
    provider: Provider,
    verified: schemes.Verified,
    idempotency_key: str | None,
    correlation_id: str | None,
) -> str:
    """What identifies a delivery, so that its retries share one outcome and one signal id.

    An ``Idempotency-Key`` first; for the legacy scheme, the client's ``X-Correlation-ID``
    (the old gateway deduplicated by it: a client that signs a retry again, with a new
    timestamp, keeps it); else the scheme's own delivery id.
    """
    if idempotency_key:
        return f"{provider.id}:idem:{idempotency_key}"
    if correlation_id and provider.scheme is Scheme.LEGACY:
        return f"{provider.id}:cid:{correlation_id}"
    return f"{provider.id}:{verified.delivery_id}"


def validate(provider: Provider, raw: Any) -> tuple[SignalIn, dict[str, Any]]:
    """A parsed payload as a SignalIn under ``provider``'s unknown-field policy, and the
    unknown fields it keeps (lenient). The webhook and the NATS bridge both use this."""
    if not isinstance(raw, dict):
        raise InvalidJSON(f"body must be a JSON object, got {type(raw).__name__}")
    unknown = {k: v for k, v in raw.items() if k not in KNOWN_FIELDS}
    known = {k: v for k, v in raw.items() if k in KNOWN_FIELDS}
    if provider.unknown_fields is UnknownFields.STRICT:
        known = raw  # pydantic reports each unknown field as extra_forbidden
        unknown = {}
    try:
        return SignalIn.model_validate(known), unknown
    except ValidationError as exc:
        raise InvalidSignal(
            f"{exc.error_count()} field error(s)", errors=field_errors(exc)
        ) from None


def accept(
    provider: Provider,
    body: bytes,
    headers: Mapping[str, str],
    *,
    client_ip: str | None = None,
    tolerance: int = 300,
    idempotency_key: str | None = None,
    correlation_id: str | None = None,
    now: datetime | None = None,
) -> Accepted:
    """Verify and validate one webhook request; raise a ProblemError if it is bad."""
    now = now or datetime.now(UTC)
    if not provider.ip_allowed(client_ip):
        raise Forbidden("source address not allowed", reason="ip-not-allowed")
    check_content_type(headers.get("Content-Type"), provider.scheme)
    verified, raw = _verify(provider, body, headers, tolerance, now)
    signal_in, unknown = validate(provider, raw)
    key = delivery_key(provider, verified, idempotency_key, correlation_id)
    signal = Signal(
        **signal_in.model_dump(),
        signal_id=derive("signal", key),
        provider=provider.id,
        received_at=now,
        unknown_fields=unknown,
    )
    return Accepted(signal=signal, dedupe_key=key, fingerprint=fingerprint(raw))
